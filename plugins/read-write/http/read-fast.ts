// The fast path for the most frequent read: GET/HEAD of a small, plain needle by its bare file id
// (no query, no escapes, no Range or conditional headers, no read JWT, no download limit). It
// answers exactly as read.ts would, synchronously, without fastify's routing and reply objects.
// Anything else (a missing or deleted needle included) is declined before a byte is written and
// read.ts answers it. Needles of EC volumes are served too when every byte is on a local shard.
import type { Cradle } from '../../../core/container.js';
import type { FastPath } from '../../../core/http/fast-path.js';
import { parseFid, parseVolumeId } from '../../../core/storage/file-id.js';
import { SYNC_READ_LIMIT } from '../../../core/storage/volume.js';
import { readEcNeedleSync } from '../ec-read.js';
import { isChunkManifest, isCompressed, needleEtag, type Needle } from '../../../core/storage/needle.js';
import { formatHttpDate } from './conditional.js';
import { contentDisposition } from './media-type.js';
import { bytesToString, detectContentType, headerSafe, storedMimeType, typeForName } from './mime.js';
import { isGzipMagic } from './inflate.js';
import { downloadLimiter } from './throttle.js';
import { parseUrlPath } from './url-path.js';

/** Reads the needle a bare `/vid,fid` (or `/vid/fid`) names, or undefined to decline. */
function plainNeedle(cradle: Cradle, url: string): Needle | undefined {
  const parts = parseUrlPath(url);
  if (parts.ext !== '' || parts.filename !== '' || parts.volumeIdOnly) return undefined;
  let vid: number;
  let nid: ReturnType<typeof parseFid>;
  try {
    vid = parseVolumeId(parts.vid);
    nid = parseFid(parts.fid);
  } catch {
    return undefined;
  }
  const volume = cradle.store.findVolume(vid);
  let n: Needle | undefined;
  if (volume) {
    try {
      n = volume.readNeedleSync(nid.id);
    } catch {
      return undefined; // not found, deleted, expired, damaged: read.ts answers
    }
  } else {
    // An EC volume's needle, when all its bytes are on shards here (peers, rebuilds: read.ts).
    const ec = cradle.store.contributions.ecVolume(vid);
    if (!ec) return undefined;
    n = readEcNeedleSync(ec, nid.id, SYNC_READ_LIMIT);
  }
  if (!n || n.cookie !== nid.cookie || n.pairs.length > 0 || isChunkManifest(n)) return undefined;
  return n;
}

export function readFastPath(cradle: Cradle): FastPath {
  const { config } = cradle;
  const limiter = downloadLimiter(config);
  return (req, res, reply) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = req.url ?? '';
    if (url.indexOf('?') >= 0 || url.indexOf('%') >= 0) return false;
    const h = req.headers;
    if (h.range !== undefined || h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) return false;
    if (limiter.limited || config.security.jwtSigningRead.key !== '') return false;

    const n = plainNeedle(cradle, url);
    if (!n) return false;
    const data = Buffer.from(n.data.buffer, n.data.byteOffset, n.data.length);
    let gzip = false;
    if (isCompressed(n)) {
      // Stored gzip goes out as stored only to a client that takes gzip; inflating is read.ts's.
      if (!isGzipMagic(data) || !(h['accept-encoding'] ?? '').includes('gzip')) return false;
      gzip = true;
    }
    const filename = bytesToString(n.name);
    const mtype = typeForName(storedMimeType(n.mime), filename);

    const headers: string[] = [];
    if (n.lastModified !== 0) headers.push('Last-Modified', formatHttpDate(n.lastModified));
    headers.push('ETag', `"${needleEtag(n)}"`);
    if (gzip) headers.push('Content-Encoding', 'gzip');
    // HEAD and empty bodies are not sniffed (read-response.ts).
    if (mtype !== '') headers.push('Content-Type', headerSafe(mtype));
    else if (method === 'GET' && data.length > 0) headers.push('Content-Type', detectContentType(data));
    headers.push('Accept-Ranges', 'bytes');
    if (filename !== '') {
      const disposition = contentDisposition('inline', filename);
      if (disposition !== '') headers.push('Content-Disposition', disposition);
    }
    headers.push('Content-Length', String(data.length));
    reply.send(req, res, 200, headers, method === 'GET' && data.length > 0 ? data : undefined);
    return true;
  };
}
