// GET/HEAD of a file id, in the Go volume server's order (weed/server/volume_server_handlers_read.go
// GetOrHeadHandler, after volume_server_handlers.go checkDownloadLimit): download throttling,
// read JWT, vid/fid parsing, non-local volumes (local 404 / proxy / redirect), the needle read
// (whole for small needles, metadata then chunked streaming for big ones), cookie check,
// conditional headers, pairs, chunk manifests, name/type/disposition, stored gzip, image
// crop/resize, and the body with ranges (read-response.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import { VolumeServerError, vsError } from '../../../core/errors.js';
import { sendJsonError } from '../../../core/http/json.js';
import { crcMatches, Crc32c } from '../../../core/storage/crc32c.js';
import { parseFid, parseVolumeId, type NeedleIdCookie } from '../../../core/storage/file-id.js';
import { isChunkManifest, isCompressed, needleEtag, type Needle, type NeedleMeta } from '../../../core/storage/needle.js';
import { StorageError } from '../../../core/storage/storage-errors.js';
import { peerUrl } from '../../../core/tls/peer-http.js';
import { PAGED_READ_LIMIT, type Volume } from '../../../core/storage/volume.js';
import type { VolumeReader } from '../../../core/storage/volume/reads.js';
import { ecDataReader, locateEcNeedle, readEcNeedle, readEcNeedleMeta } from '../ec-read.js';
import { checkJwt } from './auth.js';
import { ChunkPool } from './chunk-pool.js';
import { loadChunkManifest, manifestTotalSize, MAX_MANIFEST_BYTES, readChunkedRange, type ChunkLocator, type ChunkManifest } from './chunk-manifest.js';
import { formatHttpDate, notModified } from './conditional.js';
import { imageOps, transformImage, type ImageOps } from './image-transform.js';
import { inflateBounded, isGzipMagic, TOO_LARGE } from './inflate.js';
import { bytesToString, canonicalHeaderKey, goExt, headerSafe, preloadMimeTable, storedMimeType, toByteString } from './mime.js';
import { parseGoQuery, proxyOrRedirect } from './proxy.js';
import { queryFirst, sendHttpError, writeResponseContent, type GoQuery, type OpenedContent, type StreamSource } from './read-response.js';
import { bufferSource, gzipTrailerSize, inflatedLength, inflatedSource, INFLATE_IN_MEMORY_LIMIT } from './read-stream.js';
import { downloadLimiter, ThrottleAbortedError, type InflightLimiter } from './throttle.js';
import { parseUrlPath } from './url-path.js';

const EMPTY_QUERY: GoQuery = new Map();
const MB = 1024 * 1024;
const NOT_FOUND_CODES = new Set(['NEEDLE_NOT_FOUND', 'NEEDLE_DELETED', 'NEEDLE_EXPIRED', 'COOKIE_MISMATCH']);

/** Where a big needle's data bytes come from: a volume's pinned reader, or an EC volume's shards. */
type DataRangeReader = Pick<VolumeReader, 'readDataRange'>;

function unhex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Percent-decodes a URL path into a byte string (one char per byte); undefined on a bad escape. */
export function decodePath(raw: string): string | undefined {
  if (raw.indexOf('%') < 0) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charCodeAt(i);
    if (ch !== 37) {
      out += raw[i];
      continue;
    }
    const a = unhex(raw.charCodeAt(i + 1));
    const b = unhex(raw.charCodeAt(i + 2));
    if (a < 0 || b < 0) return undefined;
    out += String.fromCharCode(a * 16 + b);
    i += 2;
  }
  return out;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length);
}


const RESERVED_PAIR_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection']);
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Pairs (Go-JSON object of strings) become response headers, Set one by one. */
function setPairHeaders(reply: FastifyReply, pairs: Uint8Array): void {
  let map: unknown;
  try {
    map = JSON.parse(asBuffer(pairs).toString('utf8'));
  } catch {
    return;
  }
  if (!map || typeof map !== 'object' || Array.isArray(map)) return;
  for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
    if (typeof v !== 'string') continue;
    const key = toByteString(k);
    if (!TOKEN_RE.test(key) || RESERVED_PAIR_HEADERS.has(key.toLowerCase())) continue;
    reply.header(canonicalHeaderKey(key), headerSafe(toByteString(v)));
  }
}

/**
 * Streams data bytes of a big needle from the .dat in chunks (CRC checked on a whole read). One
 * chunk is read ahead while the previous one is on the socket, so disk and network overlap. Chunks
 * are cut from `pool` buffers; the response writer may give them back (`recycle`).
 */
function needleDataSource(volume: Pick<Volume, 'id'>, reader: DataRangeReader, meta: NeedleMeta, pool: ChunkPool): StreamSource {
  const chunkSize = pool.chunkSize;
  return {
    size: meta.dataSize,
    async open(start: number, length: number): Promise<OpenedContent> {
      const verify = start === 0 && length === meta.dataSize;
      const crc = verify ? new Crc32c() : undefined;
      let issued = 0;
      let handed = 0;
      const issue = (): Promise<Buffer> | undefined => {
        if (issued >= length) return undefined;
        const n = Math.min(chunkSize, length - issued);
        const buf = pool.acquire().subarray(0, n);
        const read = reader.readDataRange(buf, 0, n, meta.dataOffset + start + issued).then((got) => {
          if (got < n) throw new StorageError('IO_ERROR', `needle data of volume ${volume.id}: read ${got} of ${n} bytes: unexpected EOF`);
          return buf;
        });
        read.catch(() => undefined); // a read-ahead nobody waits for must not be an unhandled rejection
        issued += n;
        return read;
      };
      const take = async (read: Promise<Buffer>): Promise<Buffer> => {
        const buf = await read;
        handed += buf.length;
        if (crc) {
          crc.update(buf);
          if (handed >= length && !crcMatches(meta.storedChecksum, crc.digest())) {
            throw new StorageError('CRC_MISMATCH', `needle data of volume ${volume.id}: CRC mismatch`);
          }
        }
        return buf;
      };
      const first = issue();
      const head = first ? await take(first) : Buffer.alloc(0);
      let ahead = issue();
      let finished = false;
      const rest: AsyncIterator<Buffer> = {
        async next() {
          if (finished || !ahead) {
            finished = true;
            return { done: true, value: undefined };
          }
          const current = ahead;
          ahead = issue();
          return { done: false, value: await take(current) };
        },
        async return() {
          finished = true;
          ahead = undefined; // its buffer is garbage once the read settles, never recycled
          return { done: true, value: undefined };
        },
      };
      return { head, rest, recycle: (b: Buffer) => pool.recycle(b) };
    },
  };
}

/** The logical file of a chunk manifest, fetched chunk by chunk from the servers holding them. */
function chunkedSource(manifest: ChunkManifest, locator: ChunkLocator, signal: AbortSignal): StreamSource {
  return {
    size: manifestTotalSize(manifest.chunks),
    async open(start: number, length: number): Promise<OpenedContent> {
      const it = readChunkedRange(manifest.chunks, start, length, locator, signal);
      const first = await it.next();
      if (first.done) return { head: Buffer.alloc(0) };
      return { head: first.value, rest: it };
    },
  };
}

async function collectSource(src: StreamSource): Promise<Buffer> {
  const opened = await src.open(0, src.size);
  const parts = [opened.head];
  if (opened.rest) {
    for (;;) {
      const n = await opened.rest.next();
      if (n.done) break;
      parts.push(n.value);
    }
  }
  return Buffer.concat(parts);
}

/** The first 2 data bytes (gzip magic) and the last 4 (ISIZE) of a big needle, in 6 bytes. */
async function readEdges(reader: DataRangeReader, meta: NeedleMeta): Promise<Buffer> {
  const b = Buffer.alloc(6);
  if (meta.dataSize < 18) return b; // too short to be gzip: no magic
  await reader.readDataRange(b, 0, 2, meta.dataOffset);
  await reader.readDataRange(b, 2, 4, meta.dataOffset + meta.dataSize - 4);
  return b;
}

function hasRange(request: FastifyRequest): boolean {
  const r = request.headers.range;
  return request.method !== 'HEAD' && r !== undefined && r !== '';
}

/**
 * Stored gzip bytes inflated on the fly with backpressure. A full read goes out chunked without
 * Content-Length (the ISIZE trailer cannot be trusted: multi-member gzip, sizes past 4 GiB); a
 * Range read first counts the exact inflated size (one inflating pass, no memory), then inflates
 * again, skipping to the range. Bytes that turn out not to inflate are served as stored, as Go's
 * DecompressData keeps them (only detectable here before anything was sent).
 */
async function serveInflated(
  request: FastifyRequest,
  reply: FastifyReply,
  query: GoQuery,
  filename: string,
  mtype: string,
  stored: StreamSource,
  key: string,
): Promise<FastifyReply> {
  let size: number | undefined;
  if (hasRange(request)) {
    try {
      size = await inflatedLength(stored, key);
    } catch (e) {
      if (isZlibError(e)) return writeResponseContent(request, reply, query, filename, mtype, stored);
      return sendHttpError(reply, 500, (e as Error).message);
    }
  }
  return writeResponseContent(request, reply, query, filename, mtype, inflatedSource(stored, size));
}

function isZlibError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

export function readHandler(cradle: Cradle, _listener: 'admin' | 'public') {
  const { store, config, masterClient } = cradle;
  const limiter: InflightLimiter = downloadLimiter(config);
  const chunkSize = Math.max(64 * 1024, Math.floor((config.readBufferSizeMB > 0 ? config.readBufferSizeMB : 4) * MB));
  // Up to 32 MiB of idle chunk buffers (at least two) are kept for the next downloads.
  const pool = new ChunkPool(chunkSize, Math.max(32 * MB, 2 * chunkSize));
  // An image operation holds the whole (inflated) image in memory: at most what an upload may be.
  // Go inflates a gzip-stored image whole whatever its size; a decompression bomb stops here.
  const imageLimit = Math.max(1, config.fileSizeLimitMB) * MB;
  preloadMimeTable();

  const locator: ChunkLocator = {
    async urls(fid: string): Promise<string[]> {
      const comma = fid.indexOf(',');
      if (comma <= 0) throw new Error(`Wrong fid format: ${fid}`);
      const vid = parseVolumeId(fid.slice(0, comma));
      const locations = await masterClient.lookupVolume(vid);
      const urls = locations.map((l) => peerUrl(`${l.url}/${fid}`));
      for (let i = urls.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [urls[i], urls[j]] = [urls[j], urls[i]];
      }
      return urls;
    },
    invalidate(fid: string): void {
      const comma = fid.indexOf(',');
      try {
        masterClient.invalidateLookup(parseVolumeId(fid.slice(0, comma)));
      } catch {
        /* not a vid */
      }
    },
  };

  /** Go's checkDownloadLimit: replica fallback or wait; returns a reply when it answered. */
  async function throttle(request: FastifyRequest, reply: FastifyReply, path: string, query: GoQuery): Promise<FastifyReply | undefined> {
    if (queryFirst(query, 'proxied') !== 'true') {
      const parts = parseUrlPath(path);
      let vid: number;
      try {
        vid = parseVolumeId(parts.vid);
      } catch {
        return reply.code(400).send();
      }
      const v = store.findVolume(vid);
      if (v && v.replicaPlacement.copyCount() > 1) {
        return proxyOrRedirect(cradle, request, reply, vid, parts.vid, parts.fid);
      }
    }
    const ac = new AbortController();
    const onClose = () => ac.abort();
    reply.raw.once('close', onClose);
    try {
      const ok = await limiter.acquire(0, ac.signal);
      if (!ok) {
        return sendJsonError(
          request,
          reply,
          429,
          `request ${path} because inflight download data ${limiter.current} > ${limiter.limitBytes}, and wait timeout`,
        );
      }
    } catch (e) {
      if (e instanceof ThrottleAbortedError) return reply.code(499).send();
      throw e;
    } finally {
      reply.raw.off('close', onClose);
    }
    return undefined;
  }

  return async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.url;
    const qi = url.indexOf('?');
    const query = qi >= 0 ? parseGoQuery(url.slice(qi + 1)) : EMPTY_QUERY;
    const path = decodePath(qi >= 0 ? url.slice(0, qi) : url);
    if (path === undefined) return reply.code(400).send();

    // 1. download throttling
    if (limiter.limited && limiter.overLimit()) {
      const answered = await throttle(request, reply, path, query);
      if (answered) return answered;
    }

    // 2. read JWT, 3. vid/fid
    const parts = parseUrlPath(path);
    if (config.security.jwtSigningRead.key !== '' && !checkJwt(cradle, request, `${parts.vid},${parts.fid}`, false)) {
      return sendJsonError(request, reply, 401, 'wrong jwt');
    }
    let vid: number;
    let nid: NeedleIdCookie;
    try {
      vid = parseVolumeId(parts.vid);
      nid = parseFid(parts.fid);
    } catch {
      return reply.code(400).send();
    }

    // 4. volume not here (neither a normal nor an EC volume: Go's hasVolume / hasEcVolume)
    const volume = store.findVolume(vid);
    const ec = volume ? undefined : store.contributions.ecVolume(vid);
    if (!volume && !ec) {
      if (config.readMode === 'local' || queryFirst(query, 'proxied') === 'true') return reply.code(404).send();
      return proxyOrRedirect(cradle, request, reply, vid, parts.vid, parts.fid);
    }

    // 5. the needle (an EC volume's: located in its .ecx, Go's ReadEcShardNeedle ignores readDeleted)
    const readDeleted = queryFirst(query, 'readDeleted') === 'true';
    let entry: { offset: number; size: number } | undefined;
    if (volume) entry = volume.lookup(nid.id);
    else {
      try {
        entry = await locateEcNeedle(ec!, nid.id);
      } catch (e) {
        if (e instanceof StorageError && NOT_FOUND_CODES.has(e.code)) return reply.code(404).send();
        if (request.method === 'HEAD') return reply.code(500).send();
        return sendJsonError(request, reply, 500, (e as Error).message);
      }
    }
    if (!entry || (volume && entry.offset === 0)) return reply.code(404).send();
    let size = entry.size;
    if (size < 0) {
      if (readDeleted && size !== -1) size = -size;
      else return reply.code(404).send();
    }
    if (limiter.limited && size > 0) {
      const counted = size;
      limiter.add(counted);
      reply.raw.once('close', () => limiter.release(counted));
    }

    let filename = parts.filename;
    let ext = filename !== '' ? goExt(filename) : parts.ext;
    const urlOps = ext !== '' ? imageOps(ext, query) : undefined;

    let n: Needle;
    let meta: NeedleMeta | undefined;
    let reader: DataRangeReader | undefined;
    /** The whole needle again (a streamed gzip needle an image operation needs in memory). */
    let readWhole: () => Promise<Needle>;
    // An EC read gathering from peers stops when the client goes away.
    const ecAbort = ec ? new AbortController() : undefined;
    if (ecAbort) reply.raw.once('close', () => ecAbort.abort());
    try {
      if (ec) {
        const loc = entry;
        const signal = ecAbort!.signal;
        readWhole = async () => (await readEcNeedle(ec, nid.id, signal, loc)).needle;
        if (size > PAGED_READ_LIMIT && ec.version !== 1 && !urlOps) {
          meta = (await readEcNeedleMeta(ec, nid.id, signal, loc)).needle;
          reader = ecDataReader(ec, nid.id, signal);
          if (isChunkManifest(meta) && queryFirst(query, 'cm') !== 'false' && meta.dataSize <= MAX_MANIFEST_BYTES) {
            meta = undefined;
            n = await readWhole();
          } else {
            n = meta;
          }
        } else {
          n = await readWhole();
        }
      } else if (size === 0) {
        readWhole = () => volume!.readNeedle(nid.id, { readDeleted });
        n = await volume!.readNeedle(nid.id, { readDeleted });
        n.cookie = nid.cookie;
      } else if (size > PAGED_READ_LIMIT && volume!.version !== 1 && !urlOps) {
        readWhole = () => volume!.readNeedle(nid.id, { readDeleted });
        // Meta and every data chunk come from the .dat the read started on, also when a
        // compaction commit swaps it meanwhile; the reader is let go when the response closes.
        const r = volume!.openReader();
        reader = r;
        reply.raw.once('close', () => r.release());
        meta = await r.readNeedleMeta(nid.id, { readDeleted });
        // A manifest to expand is read whole, unless it is too big to be one (refused at step 11).
        if (isChunkManifest(meta) && queryFirst(query, 'cm') !== 'false' && meta.dataSize <= MAX_MANIFEST_BYTES) {
          meta = undefined;
          n = await r.readNeedle(nid.id, { readDeleted });
        } else {
          n = meta;
        }
      } else {
        readWhole = () => volume!.readNeedle(nid.id, { readDeleted });
        n = volume!.readNeedleSync(nid.id, { readDeleted }) ?? (await volume!.readNeedle(nid.id, { readDeleted }));
      }
    } catch (e) {
      if (e instanceof StorageError && NOT_FOUND_CODES.has(e.code)) return reply.code(404).send();
      if (request.method === 'HEAD') return reply.code(500).send();
      return sendJsonError(request, reply, 500, (e as Error).message);
    }

    // 6. cookie
    if (n.cookie !== nid.cookie) return reply.code(404).send();

    // 7-9. Last-Modified, ETag, conditional requests
    if (n.lastModified !== 0) reply.header('Last-Modified', formatHttpDate(n.lastModified));
    const etag = needleEtag(n);
    reply.header('ETag', `"${etag}"`);
    const headers = request.headers;
    if (
      (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) &&
      notModified(headers['if-none-match'], headers['if-modified-since'], etag, n.lastModified)
    ) {
      return reply.code(304).send();
    }

    // 10. pairs
    if (n.pairs.length > 0) setPairHeaders(reply, n.pairs);

    // 11. chunk manifest
    if (isChunkManifest(n) && queryFirst(query, 'cm') !== 'false') {
      let manifest: ChunkManifest | undefined;
      try {
        if (meta) throw vsError('VS_ERR_INFLATE_LIMIT', 'chunk manifest', MAX_MANIFEST_BYTES);
        manifest = await loadChunkManifest(n.data, isCompressed(n));
      } catch (e) {
        // Too big to load: a clear error. Unparsable: Go serves the raw bytes.
        if (e instanceof VolumeServerError) return sendJsonError(request, reply, e.httpStatus, e.message);
        manifest = undefined;
      }
      if (manifest) {
        let name = filename;
        if (name === '' && manifest.name !== '') name = toByteString(manifest.name);
        const cext = ext !== '' ? ext : goExt(name);
        const mtype = manifest.mime !== '' && !manifest.mime.startsWith('application/octet-stream') ? toByteString(manifest.mime) : '';
        reply.header('X-File-Store', 'chunked');
        const ac = new AbortController();
        reply.raw.once('close', () => ac.abort());
        const src = chunkedSource(manifest, locator, ac.signal);
        const ops = imageOps(cext, query);
        if (ops) {
          if (src.size > imageLimit) {
            const e = vsError('VS_ERR_INFLATE_LIMIT', 'chunked image', imageLimit);
            return sendJsonError(request, reply, e.httpStatus, e.message);
          }
          let data: Buffer;
          try {
            data = await collectSource(src);
          } catch (e) {
            return sendHttpError(reply, 500, (e as Error).message);
          }
          return writeResponseContent(request, reply, query, name, mtype, await transformImage(data, cext, ops));
        }
        return writeResponseContent(request, reply, query, name, mtype, src);
      }
    }

    // 12. file name, 13. type
    if (n.name.length > 0 && filename === '') {
      filename = bytesToString(n.name);
      if (ext === '') ext = goExt(filename);
    }
    const mtype = storedMimeType(n.mime);

    const ops: ImageOps | undefined = ext !== '' ? imageOps(ext, query) : undefined;
    const acceptsGzip = (headers['accept-encoding'] ?? '').includes('gzip');

    // 15. big needles stream from the .dat (stored gzip too, unless an image operation needs it all)
    if (meta && isCompressed(meta) && ops) {
      try {
        n = await readWhole();
      } catch (e) {
        if (e instanceof StorageError && NOT_FOUND_CODES.has(e.code)) return reply.code(404).send();
        return sendJsonError(request, reply, 500, (e as Error).message);
      }
      meta = undefined;
    }
    if (meta && reader) {
      const stored = needleDataSource({ id: vid }, reader, meta, pool);
      if (!isCompressed(meta)) return writeResponseContent(request, reply, query, filename, mtype, stored);
      let edge: Buffer;
      try {
        edge = await readEdges(reader, meta);
      } catch (e) {
        return sendJsonError(request, reply, 500, (e as Error).message);
      }
      // Bytes that are not gzip are served as stored (Go's DecompressData fails and keeps them).
      if (!isGzipMagic(edge)) return writeResponseContent(request, reply, query, filename, mtype, stored);
      if (acceptsGzip) {
        reply.header('Content-Encoding', 'gzip');
        return writeResponseContent(request, reply, query, filename, mtype, stored);
      }
      // A Range read of a needle that inflates within the bound keeps Go's in-memory inflation;
      // everything else streams through gunzip (serveInflated).
      const isize = edge.readUInt32LE(2);
      if (hasRange(request) && meta.dataSize <= INFLATE_IN_MEMORY_LIMIT && isize <= INFLATE_IN_MEMORY_LIMIT) {
        let whole: Buffer;
        try {
          whole = await collectSource(stored);
        } catch (e) {
          return sendHttpError(reply, 500, (e as Error).message);
        }
        const inflated = await inflateBounded(whole, INFLATE_IN_MEMORY_LIMIT);
        if (inflated !== TOO_LARGE) return writeResponseContent(request, reply, query, filename, mtype, inflated);
      }
      return serveInflated(request, reply, query, filename, mtype, stored, `${vid}:${nid.id}:${meta.dataOffset}:${meta.dataSize}:${meta.storedChecksum}`);
    }

    // 14. stored gzip, image operations
    let data = asBuffer(n.data);
    if (isCompressed(n)) {
      if (ops) {
        const inflated = await inflateBounded(data, imageLimit);
        if (inflated === TOO_LARGE) {
          const e = vsError('VS_ERR_INFLATE_LIMIT', 'inflated image', imageLimit);
          return sendJsonError(request, reply, e.httpStatus, e.message);
        }
        data = inflated;
      } else if (acceptsGzip && isGzipMagic(data)) reply.header('Content-Encoding', 'gzip');
      else if (isGzipMagic(data)) {
        // A small stored gzip may inflate hugely: in memory only within the bound, else streamed.
        const inflated = gzipTrailerSize(data) <= INFLATE_IN_MEMORY_LIMIT ? await inflateBounded(data, INFLATE_IN_MEMORY_LIMIT) : TOO_LARGE;
        if (inflated === TOO_LARGE) {
          return serveInflated(request, reply, query, filename, mtype, bufferSource(data), `${vid}:${nid.id}:${entry.offset}:${data.length}:${n.checksum}`);
        }
        data = inflated;
      }
    }
    if (ops) data = await transformImage(data, ext, ops);
    return writeResponseContent(request, reply, query, filename, mtype, data);
  };
}
