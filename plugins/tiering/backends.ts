// The tier backends this server knows, by name (Go: weed/storage/backend/backend.go
// BackendStorages, LoadFromPbStorageBackends, BackendNameToTypeId). The master announces them
// (master.toml [storage.backend.<type>.<id>]) in GetMasterConfiguration and heartbeat replies; a
// backend is known as "<type>.<id>", and the "default" id also as plain "<type>".
import type { Logger } from 'pino';
import { S3BackendStorage } from './s3/s3-backend.js';
import type { S3BackendStorageFile } from './s3/s3-file.js';

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
  /** Remote data files open on volumes (or still held by their reads), by "<type>.<id>/<key>". */
  private readonly openFiles = new Map<string, Set<S3BackendStorageFile>>();

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

  /** Records a remote data file opened for a volume until it is closed. */
  track(name: string, key: string, file: S3BackendStorageFile): S3BackendStorageFile {
    const k = `${name}/${key}`;
    let set = this.openFiles.get(k);
    if (!set) this.openFiles.set(k, (set = new Set()));
    set.add(file);
    void file.closed.then(() => {
      set.delete(file);
      if (set.size === 0 && this.openFiles.get(k) === set) this.openFiles.delete(k);
    });
    return file;
  }

  /**
   * Settles once no open data file reads remote object `key` of backend `name` any more (reads
   * pinned to a volume's former data file finish first), or after `boundMs`.
   */
  async whenUnused(name: string, key: string, boundMs: number): Promise<void> {
    const set = this.openFiles.get(`${name}/${key}`);
    if (!set || set.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, boundMs)));
    try {
      await Promise.race([Promise.all([...set].map((f) => f.closed)), bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    for (const b of new Set(this.byName.values())) b.close();
    this.byName.clear();
  }
}
