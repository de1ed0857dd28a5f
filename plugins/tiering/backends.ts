// The tier backends this server knows, by name (Go: weed/storage/backend/backend.go
// BackendStorages, LoadFromPbStorageBackends, BackendNameToTypeId). The master announces them
// (master.toml [storage.backend.<type>.<id>]) in GetMasterConfiguration and heartbeat replies; a
// backend is known as "<type>.<id>", and the "default" id also as plain "<type>".
import type { Logger } from 'pino';
import { S3BackendStorage } from './s3/s3-backend.js';

/** master_pb.StorageBackend as the proto loader hands it. */
export interface StorageBackendMessage {
  type?: string;
  id?: string;
  properties?: Record<string, string>;
}

export type TierBackend = S3BackendStorage;

/** Go's BackendNameToTypeId: "s3" is s3.default, "s3.x" is s3.x, anything else is ('', ''). */
export function backendNameToTypeId(name: string): { type: string; id: string } {
  const parts = name.split('.');
  if (parts.length === 1) return { type: name, id: 'default' };
  if (parts.length !== 2) return { type: '', id: '' };
  return { type: parts[0], id: parts[1] };
}

export class TierBackends {
  private readonly byName = new Map<string, TierBackend>();

  constructor(private readonly log: Logger) {}

  get(name: string): TierBackend | undefined {
    return this.byName.get(name);
  }

  /** Known names in a stable order (Go lists its map keys in the "not found" errors). */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /**
   * Takes the backends a master announced. Unknown types are logged and skipped (as Go); a backend
   * whose settings changed is rebuilt, so rotated keys or a moved endpoint take effect. Returns
   * how many backends were added or rebuilt.
   */
  load(messages: readonly StorageBackendMessage[] | undefined): number {
    let changed = 0;
    for (const m of messages ?? []) {
      const type = String(m.type ?? '');
      const id = String(m.id ?? '');
      const props = m.properties ?? {};
      if (type !== 's3') {
        this.log.warn({ type, id }, 'storage type not found');
        continue;
      }
      if (id === '' || id.includes('.')) {
        this.log.warn({ type, id }, 'invalid storage backend id');
        continue;
      }
      const name = `${type}.${id}`;
      const existing = this.byName.get(name);
      if (existing?.sameAs(props)) continue;
      const backend = new S3BackendStorage(id, props);
      this.byName.set(name, backend);
      if (id === 'default') this.byName.set(type, backend);
      existing?.close();
      changed++;
      this.log.info({ backend: name, region: backend.region, bucket: backend.bucket, endpoint: backend.endpoint }, 'tier backend ready');
    }
    return changed;
  }

  close(): void {
    for (const b of new Set(this.byName.values())) b.close();
    this.byName.clear();
  }
}
