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
import { isPlainReadRequest } from './fast-requests.js';
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

export interface PlainReadAnswer {
  /** The answer's headers (flat name/value list) besides those every answer carries. */
  headers: string[];
  body: Buffer | undefined;
}

/** The 200 answer to a plain read (isPlainReadRequest) of `url`, or undefined to decline. */
export function answerPlainRead(
  cradle: Cradle,
  limiter: ReturnType<typeof downloadLimiter>,
  method: 'GET' | 'HEAD',
  url: string,
  acceptEncoding: string | undefined,
): PlainReadAnswer | undefined {
  if (limiter.limited || cradle.config.security.jwtSigningRead.key !== '') return undefined;
  const n = plainNeedle(cradle, url);
  if (!n) return undefined;
  const data = Buffer.from(n.data.buffer, n.data.byteOffset, n.data.length);
  let gzip = false;
  if (isCompressed(n)) {
    // Stored gzip goes out as stored only to a client that takes gzip; inflating is read.ts's.
    if (!isGzipMagic(data) || !(acceptEncoding ?? '').includes('gzip')) return undefined;
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
  return { headers, body: method === 'GET' && data.length > 0 ? data : undefined };
}

export function readFastPath(cradle: Cradle): FastPath {
  const limiter = downloadLimiter(cradle.config);
  return (req, res, reply) => {
    const method = req.method;
    const url = req.url ?? '';
    if (!isPlainReadRequest(method, url, req.headers)) return false;
    const answer = answerPlainRead(cradle, limiter, method as 'GET' | 'HEAD', url, req.headers['accept-encoding']);
    if (!answer) return false;
    reply.send(req, res, 200, answer.headers, answer.body);
    return true;
  };
}

/** The main thread's answer to a worker thread's plain read: [method, url, accept-encoding]. */
export function plainReadCall(cradle: Cradle): (payload: unknown) => { headers: string[]; body: Uint8Array | undefined } | undefined {
  const limiter = downloadLimiter(cradle.config);
  return (payload) => {
    const [method, url, acceptEncoding] = payload as ['GET' | 'HEAD', string, string | undefined];
    const answer = answerPlainRead(cradle, limiter, method, url, acceptEncoding);
    // A copy of just the needle's bytes: a view would carry its whole buffer across threads.
    return answer && { headers: answer.headers, body: answer.body && new Uint8Array(answer.body) };
  };
}
