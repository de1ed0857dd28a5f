// FetchAndWriteNeedle (Go: weed/server/volume_grpc_remote.go FetchAndWriteNeedle): reads a byte
// range of an object in a remote store (the filer's remote-mount cache), writes it as a needle of
// a local volume and to the replicas the request names, and answers the needle's e-tag.
import { request as httpRequest } from 'node:http';
import type { Cradle } from '../../../core/container.js';
import { vsError } from '../../../core/errors.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { checks, plain } from '../../../core/grpc/rpc-support.js';
import { formatFileId } from '../../../core/storage/file-id.js';
import { FLAG_HAS_LAST_MODIFIED_DATE, needleEtag, newNeedle } from '../../../core/storage/needle.js';
import { guardedLookup, validateReplicaTarget } from '../remote/endpoint-guard.js';
import { buildRemoteClient, RemoteObjectNotFoundError, type RemoteLocation } from '../remote/remote-client.js';
import { i64, u32 } from './common.js';

/**
 * Largest range one request may fetch. Go allocates whatever size the request names; a remote
 * cache chunk is a few MiB, so a bound keeps one request from claiming the heap.
 */
export const MAX_FETCH_SIZE = 256 * 1024 * 1024;

/** Go's `%+v` of a RemoteStorageLocation (what the filer and tests read in the error text). */
function locationText(loc: RemoteLocation | undefined): string {
  if (!loc) return '<nil>';
  const parts: string[] = [];
  if (loc.name) parts.push(`name:${JSON.stringify(loc.name)}`);
  if (loc.bucket) parts.push(`bucket:${JSON.stringify(loc.bucket)}`);
  if (loc.path) parts.push(`path:${JSON.stringify(loc.path)}`);
  return parts.join(' ');
}

/** Bound of one replica write, retries aside (Go's fetchAndWriteReplicaBound: 30 s + 1 s per MiB). */
function replicaTimeoutMs(size: number): number {
  return 30_000 + Math.floor((size * 1000) / (1 << 20));
}

/** Posts `data` to a replica as Go's operation.UploadData does (multipart, ?type=replicate). */
function uploadReplica(target: string, fid: string, data: Buffer, jwt: string, guarded: boolean): Promise<void> {
  const boundary = `----tsweed${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const headers: Record<string, string | number> = {
    'Content-Type': `multipart/form-data; boundary=${boundary}`,
    'Content-Length': head.length + data.length + tail.length,
  };
  if (jwt) headers.Authorization = `BEARER ${jwt}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `http://${target}/${fid}?type=replicate`,
      { method: 'POST', headers, lookup: guarded ? guardedLookup(target, true) : undefined, timeout: replicaTimeoutMs(data.length) },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          if (kept < 4096) chunks.push(c);
          kept += c.length;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve();
          const body = Buffer.concat(chunks).toString('utf8').slice(0, 4096);
          reject(new Error(`upload to ${target}: status ${status}: ${body}`));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
    req.on('error', reject);
    req.write(head);
    req.write(data);
    req.end(tail);
  });
}

export function fetchAndWriteRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, config } = cradle;
  const check = checks(cradle);
  return {
    FetchAndWriteNeedle: async (call: Msg) => {
      check.admin(call);
      check.notInMaintenance();
      const req = call.request;
      const volumeId = u32(req.volume_id);
      const v = store.findVolume(volumeId);
      if (!v) throw plain(`not found volume id ${volumeId}`);

      let client;
      try {
        client = await buildRemoteClient(req.remote_conf, config.allowUntrustedRemoteEndpoints);
      } catch (e) {
        throw plain((e as Error).message);
      }

      const loc: RemoteLocation = req.remote_location ?? {};
      const offset = i64(req.offset);
      const size = i64(req.size);
      if (!(offset >= 0) || !(size > 0) || size > MAX_FETCH_SIZE) {
        throw plain(`read from remote ${locationText(loc)}: invalid range offset ${String(req.offset)} size ${String(req.size)} (size must be 1..${MAX_FETCH_SIZE})`);
      }
      if (!String(loc.path ?? '').startsWith('/')) {
        throw plain(`read from remote ${locationText(loc)}: path must start with /`);
      }
      let data: Buffer;
      try {
        data = await client.readFile(loc, offset, size);
      } catch (e) {
        if (e instanceof RemoteObjectNotFoundError) throw vsError('VS_ERR_NOT_FOUND', `read from remote ${locationText(loc)}: ${e.message}`);
        throw plain(`read from remote ${locationText(loc)}: ${(e as Error).message}`);
      }

      const replicas: string[] = (req.replicas ?? []).map((r: { url?: string }) => String(r.url ?? ''));
      if (!config.allowUntrustedRemoteEndpoints) {
        for (const target of replicas) {
          try {
            await validateReplicaTarget(target);
          } catch (e) {
            throw plain(`reject replica target: ${(e as Error).message}`);
          }
        }
      }

      const needleId = BigInt(req.needle_id ?? 0);
      const cookie = u32(req.cookie);
      const needle = newNeedle({ id: needleId, cookie, data, flags: FLAG_HAS_LAST_MODIFIED_DATE, lastModified: Math.floor(Date.now() / 1000) });
      const local = v.write(needle, { checkCookie: true }).then(
        () => undefined,
        (e: Error) => `local write needle ${needleId} size ${size}: ${e.message}`,
      );
      const fid = formatFileId(volumeId, needleId, cookie);
      const remote = replicas.map((target) =>
        uploadReplica(target, fid, data, String(req.auth ?? ''), !config.allowUntrustedRemoteEndpoints).then(
          () => undefined,
          (e: Error) => `remote write needle ${needleId} size ${size}: ${e.message}`,
        ),
      );
      const errors = await Promise.all([local, ...remote]);
      // the local write's error wins, then the first replica's (Go)
      const first = errors.find((e) => e !== undefined);
      if (first) throw plain(first);
      return { e_tag: needleEtag(needle) };
    },
  };
}
