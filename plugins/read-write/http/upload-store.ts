// Stores a parsed upload and says what the write answers (Go: weed/server/volume_server_handlers_write.go
// PostHandler from CreateNeedleFromRequest on, weed/topology/store_replicate.go ReplicatedWrite):
// the needle from the parsed form, the local write and the replicas, and the 201/204 or error
// outcome. Shared by the routed write (write.ts) and the write fast path (write-fast.ts), which
// differ only in how they put the outcome on the wire.
import type { Socket } from 'node:net';
import type { Cradle } from '../../../core/container.js';
import { parseFid } from '../../../core/storage/file-id.js';
import { FLAG_HAS_LAST_MODIFIED_DATE, FLAG_HAS_MIME, FLAG_HAS_NAME, FLAG_HAS_PAIRS, FLAG_HAS_TTL, FLAG_IS_CHUNK_MANIFEST, FLAG_IS_COMPRESSED, needleEtag, newNeedle } from '../../../core/storage/needle.js';
import type { Volume } from '../../../core/storage/volume.js';
import { fidTextOf } from './url-path.js';
import { pairsJson, remoteReplicas, replicateWrite } from './replicate.js';
import type { GoForm } from './upload-form.js';
import type { ParsedUpload } from './upload-parse.js';

/** What of the request the store needs beyond the parsed upload. */
export interface StoreRequest {
  requestId: string;
  /** The client's connection (replication stops when it goes); none for a worker thread's call. */
  socket: Socket | undefined;
  /** The request's JWT (forwarded to the replicas). */
  jwt: () => string;
}

export type StoreOutcome =
  /** 201 with `result` as JSON, or 204 (unchanged) without a body; both carry ETag and Content-MD5. */
  | { ok: true; status: 201 | 204; etag: string; contentMd5: string; result: Record<string, unknown> }
  /** A JSON error; `writeOutcome` is the X-Seaweed-Write-Outcome header when set. */
  | { ok: false; status: number; message: string; writeOutcome?: string };

export async function storeUpload(cradle: Cradle, req: StoreRequest, pu: ParsedUpload, form: GoForm, path: string, vid: number): Promise<StoreOutcome> {
  const { config, store } = cradle;
  let idCookie;
  try {
    idCookie = parseFid(fidTextOf(path));
  } catch (e) {
    return { ok: false, status: 400, message: (e as Error).message };
  }

  let flags = 0;
  const nameBytes = Buffer.from(pu.fileName, 'utf8');
  const mimeBytes = Buffer.from(pu.mimeType, 'utf8');
  if (nameBytes.length < 256) flags |= FLAG_HAS_NAME;
  if (mimeBytes.length < 256) flags |= FLAG_HAS_MIME;
  let pairs: Buffer | undefined;
  const storedPairs: Record<string, string> = {};
  if (pu.pairs.size > 0) {
    const trimmed = new Map<string, string>();
    for (const [k, v] of pu.pairs) trimmed.set(k.slice('Seaweed-'.length), v);
    const json = Buffer.from(pairsJson(trimmed), 'utf8');
    if (json.length < 65536) {
      pairs = json;
      flags |= FLAG_HAS_PAIRS;
      for (const [k, v] of trimmed) storedPairs[k] = v;
    }
  }
  if (pu.isGzipped) flags |= FLAG_IS_COMPRESSED;
  const lastModified = pu.modifiedTime || Math.floor(Date.now() / 1000);
  flags |= FLAG_HAS_LAST_MODIFIED_DATE;
  if (!pu.ttl.isEmpty()) flags |= FLAG_HAS_TTL;
  if (pu.isChunkedFile) flags |= FLAG_IS_CHUNK_MANIFEST;
  const needle = newNeedle({
    cookie: idCookie.cookie,
    id: idCookie.id,
    data: pu.data,
    checksum: pu.spool?.checksum,
    flags,
    name: flags & FLAG_HAS_NAME ? nameBytes : undefined,
    mime: flags & FLAG_HAS_MIME ? mimeBytes : undefined,
    pairs,
    lastModified,
    ttl: pu.ttl,
  });
  const etag = needleEtag(needle);

  // replicated write
  const isReplicate = form.get('type') === 'replicate';
  const fsync = form.get('fsync') === 'true';
  const volume = store.findVolume(vid);
  let remote: Awaited<ReturnType<typeof remoteReplicas>> = [];
  let unchanged = false;
  try {
    // An unreplicated local volume needs no lookup (remoteReplicas would answer [] anyway).
    if (!isReplicate && !(volume && volume.replicaPlacement.copyCount() === 1)) remote = await remoteReplicas(cradle, vid, true);
    if (!volume && remote.length === 0) throw new Error(`volume ${vid} not found on ${config.ip}:${config.port}`);
    const replicaTtl = volume && pu.ttl.isEmpty() && !volume.ttl.isEmpty() ? volume.ttl : pu.ttl;
    const spooled = pu.spool;
    const writeLocal = async (v: Volume) => {
      try {
        const r = spooled
          ? await v.writeFromFile(needle, { path: spooled.path, dataSize: spooled.size, checksum: spooled.checksum }, { fsync })
          : (v.tryWriteSync(needle, { fsync }) ?? (await v.write(needle, { fsync })));
        unchanged = r.unchanged;
      } catch (e) {
        const err = new Error(`failed to write to local disk: ${(e as Error).message}`);
        (err as { code?: unknown }).code = (e as { code?: unknown }).code;
        throw err;
      }
    };
    if (remote.length === 0) {
      if (volume) await writeLocal(volume);
    } else {
      const replicas = replicateWrite(
        vid,
        remote,
        {
          path,
          data: pu.data,
          file: spooled ? { path: spooled.path, size: spooled.size } : undefined,
          name: pu.fileName,
          mime: pu.mimeType,
          isCompressed: pu.isGzipped,
          isChunkManifest: pu.isChunkedFile,
          lastModified,
          ttl: replicaTtl,
          fsync,
          pairs: storedPairs,
          jwt: req.jwt(),
          contentMd5: pu.contentMd5,
          requestId: req.requestId,
        },
        req.socket,
      );
      const [l, r] = await Promise.allSettled([volume ? writeLocal(volume) : Promise.resolve(), replicas]);
      if (l.status === 'rejected') throw l.reason;
      if (r.status === 'rejected') throw r.reason;
    }
  } catch (e) {
    const err = e as Error & { code?: unknown };
    if (err.code === 'VOLUME_READ_ONLY') {
      const refused = remote.length === 0 && !fsync && !isReplicate;
      return { ok: false, status: 409, message: err.message, ...(refused ? { writeOutcome: 'refused-before-append' } : {}) };
    }
    return { ok: false, status: 500, message: err.message };
  }

  if (unchanged) return { ok: true, status: 204, etag, contentMd5: pu.contentMd5, result: {} };
  const result: Record<string, unknown> = {};
  if (flags & FLAG_HAS_NAME && pu.fileName) result.name = pu.fileName;
  const size = pu.originalSize >>> 0;
  if (size) result.size = size;
  result.eTag = etag;
  if (flags & FLAG_HAS_MIME && pu.mimeType) result.mime = pu.mimeType;
  if (pu.contentMd5) result.contentMd5 = pu.contentMd5;
  return { ok: true, status: 201, etag, contentMd5: pu.contentMd5, result };
}
