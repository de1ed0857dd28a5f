// Writing a read's body as Go's writeResponseContent / ProcessRangeRequest do: content headers
// (type, Accept-Ranges, S3 passthrough overrides, Content-Disposition), HEAD, full bodies, single
// and multiple ranges, 416s, the oversized-ranges guard, and Content-Type sniffing when no type is
// known. Content comes from a source that is either in memory or streamed (a big needle read from
// the .dat in chunks, or a chunk manifest's chunks fetched from other servers).
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ifRangeMatches } from './conditional.js';
import { contentDisposition } from './media-type.js';
import { detectContentType, headerSafe, parseGoBool, typeForName } from './mime.js';
import { RangeError416, closingDelimiter, contentRange, multipartSize, newBoundary, parseRange, partHeader, sumRanges, type ByteRange } from './range.js';

/** Parsed query: key → values (byte strings), as Go's url.Values. */
export type GoQuery = Map<string, string[]>;

export function queryFirst(q: GoQuery, key: string): string {
  const v = q.get(key);
  return v === undefined ? '' : v[0];
}

/** Opened content: the first piece (for sniffing) and the rest. */
export interface OpenedContent {
  head: Buffer;
  rest?: AsyncIterator<Buffer>;
  /**
   * When given, every piece (head included) may be handed back here once the socket has taken it,
   * so its buffer is reused (chunk-pool.ts). A piece must not be touched after being handed back.
   */
  recycle?: (piece: Buffer) => void;
}

/**
 * A streamed body: `open` yields [start, start+length) and may fail before anything is sent.
 * `unknownSize` (an inflating stream, read-stream.ts): `size` is meaningless, the body goes out
 * chunked without Content-Length (HEAD too) and `open(0, Infinity)` yields all of it; such a
 * source is only given when no range is to be served.
 */
export interface StreamSource {
  size: number;
  unknownSize?: boolean;
  open(start: number, length: number): Promise<OpenedContent>;
}

export type BodySource = Buffer | StreamSource;

const PASSTHROUGH: Record<string, string> = {
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
  'response-content-language': 'Content-Language',
  'response-content-type': 'Content-Type',
  'response-expires': 'Expires',
};

/** Go's AdjustPassthroughHeaders: S3 `response-*` query overrides, then Content-Disposition. */
function adjustPassthroughHeaders(reply: FastifyReply, query: GoQuery, filename: string): void {
  if (query.size > 0) {
    for (const [k, values] of query) {
      if (values.length === 0 || k.length < 13 || (k.charCodeAt(0) | 0x20) !== 0x72) continue;
      const header = PASSTHROUGH[k.toLowerCase()];
      if (header) reply.header(header, headerSafe(values[0]));
    }
  }
  if (filename !== '' && !reply.hasHeader('content-disposition')) {
    const dl = queryFirst(query, 'dl');
    const type = dl !== '' && parseGoBool(dl) === true ? 'attachment' : 'inline';
    const v = contentDisposition(type, filename);
    if (v !== '') reply.header('Content-Disposition', v);
  }
}

/** Go's http.Error: text/plain message, nosniff, Content-Length of the text. */
export function sendHttpError(reply: FastifyReply, status: number, message: string): FastifyReply {
  reply.removeHeader('content-length');
  return reply
    .code(status)
    .header('Content-Type', 'text/plain; charset=utf-8')
    .header('X-Content-Type-Options', 'nosniff')
    .send(message + '\n');
}

function toReadable(opened: OpenedContent): Readable {
  const { head, rest } = opened;
  async function* all(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      if (!rest) return;
      for (;;) {
        const n = await rest.next();
        if (n.done) return;
        yield n.value;
      }
    } finally {
      await rest?.return?.();
    }
  }
  return Readable.from(all(), { objectMode: false, highWaterMark: 1 });
}

/** Resolves true on 'drain', false if the response closes first. */
function drained(res: FastifyReply['raw']): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = () => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/**
 * Writes recyclable content straight to the socket (the reply is hijacked: status and headers are
 * written from it), handing each piece back from its write callback: node calls it once the
 * piece is in the kernel, or when the write is abandoned, never while the buffer is still in use.
 * A failure after the head is sent destroys the connection, as fastify does for a stream.
 */
async function writeRecyclable(reply: FastifyReply, opened: OpenedContent, recycle: (piece: Buffer) => void): Promise<FastifyReply> {
  const res = reply.raw;
  reply.hijack();
  res.writeHead(reply.statusCode, reply.getHeaders() as Record<string, string>);
  const write = (piece: Buffer): boolean => res.write(piece, () => recycle(piece));
  try {
    if (opened.head.length > 0 && !write(opened.head) && !(await drained(res))) return reply;
    if (opened.rest) {
      for (;;) {
        if (res.destroyed) return reply;
        const n = await opened.rest.next();
        if (n.done) break;
        if (!write(n.value) && !(await drained(res))) return reply;
      }
    }
    res.end();
  } catch (err) {
    reply.log.error({ err, reqId: reply.request.id }, 'streaming a body failed');
    res.destroy();
  } finally {
    await opened.rest?.return?.();
  }
  return reply;
}

/** Sends opened streamed content: recycled straight to the socket when it can be, else piped. */
function sendOpened(reply: FastifyReply, opened: OpenedContent): FastifyReply | Promise<FastifyReply> {
  if (opened.recycle) return writeRecyclable(reply, opened, opened.recycle);
  return reply.send(toReadable(opened));
}

/** Sets Content-Type from the first body bytes when nothing set one (Go's server-side sniffing). */
function sniff(reply: FastifyReply, head: Uint8Array): void {
  if (head.length > 0 && !reply.hasHeader('content-type')) reply.header('Content-Type', detectContentType(head));
}

async function multipartStream(
  source: BodySource,
  ranges: ByteRange[],
  boundary: string,
  mimeType: string,
  size: number,
): Promise<AsyncGenerator<Buffer>> {
  async function* parts(): AsyncGenerator<Buffer> {
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i];
      yield Buffer.from(partHeader(boundary, i, r, mimeType, size), 'latin1');
      if (Buffer.isBuffer(source)) {
        yield source.subarray(r.start, r.start + r.length);
        continue;
      }
      const opened = await source.open(r.start, r.length);
      if (opened.head.length > 0) yield opened.head;
      if (opened.rest) {
        try {
          for (;;) {
            const n = await opened.rest.next();
            if (n.done) break;
            yield n.value;
          }
        } finally {
          await opened.rest.return?.();
        }
      }
    }
    yield Buffer.from(closingDelimiter(boundary), 'latin1');
  }
  return parts();
}

/**
 * Go's writeResponseContent: `filename` (byte string) and `mimeType` as decided by the handler;
 * the body from `source`.
 */
export async function writeResponseContent(
  request: FastifyRequest,
  reply: FastifyReply,
  query: GoQuery,
  filename: string,
  mimeType: string,
  source: BodySource,
): Promise<FastifyReply> {
  const totalSize = Buffer.isBuffer(source) ? source.length : source.size;
  mimeType = typeForName(mimeType, filename);
  if (mimeType !== '') reply.header('Content-Type', headerSafe(mimeType));
  reply.header('Accept-Ranges', 'bytes');
  adjustPassthroughHeaders(reply, query, filename);

  const unknownSize = !Buffer.isBuffer(source) && source.unknownSize === true;
  if (request.method === 'HEAD') {
    if (!unknownSize) reply.header('Content-Length', String(totalSize));
    return reply.send();
  }

  let rangeHeader: string | undefined = request.headers.range;
  if (rangeHeader !== undefined && rangeHeader !== '') {
    const ifRange = request.headers['if-range'] as string | string[] | undefined;
    if (ifRange !== undefined && !ifRangeMatches(Array.isArray(ifRange) ? ifRange[0] : ifRange, reply.getHeader('etag') as string | undefined, reply.getHeader('last-modified') as string | undefined)) {
      rangeHeader = undefined;
    }
  }

  if (rangeHeader === undefined || rangeHeader === '' || unknownSize) {
    if (Buffer.isBuffer(source)) {
      reply.header('Content-Length', String(totalSize));
      // An empty body is not sniffed: Go sends no Content-Type then (fastify would add one).
      if (totalSize === 0) return reply.send();
      sniff(reply, source);
      return reply.send(source);
    }
    let opened: OpenedContent;
    try {
      opened = await source.open(0, unknownSize ? Infinity : totalSize);
    } catch (e) {
      return sendHttpError(reply, 500, (e as Error).message);
    }
    sniff(reply, opened.head);
    if (!unknownSize) reply.header('Content-Length', String(totalSize));
    return sendOpened(reply, opened);
  }

  let ranges: ByteRange[];
  try {
    ranges = parseRange(rangeHeader, totalSize);
  } catch (e) {
    if (e instanceof RangeError416) {
      if (e.noOverlap) reply.header('Content-Range', `bytes */${totalSize}`);
      return sendHttpError(reply, 416, e.message);
    }
    throw e;
  }
  // Go writes nothing (200, empty body) for an empty list or ranges adding up past the size.
  if (ranges.length === 0 || sumRanges(ranges) > totalSize) return reply.send();

  if (ranges.length === 1) {
    const r = ranges[0];
    reply.header('Content-Length', String(r.length)).header('Content-Range', contentRange(r, totalSize)).code(206);
    if (Buffer.isBuffer(source)) {
      const part = source.subarray(r.start, r.start + r.length);
      sniff(reply, part);
      return reply.send(part);
    }
    let opened: OpenedContent;
    try {
      opened = await source.open(r.start, r.length);
    } catch (e) {
      reply.removeHeader('content-range');
      return sendHttpError(reply, 500, (e as Error).message);
    }
    sniff(reply, opened.head);
    return sendOpened(reply, opened);
  }

  const boundary = newBoundary();
  const size = multipartSize(ranges, boundary, mimeType, totalSize);
  reply.header('Content-Type', `multipart/byteranges; boundary=${boundary}`);
  if (!reply.hasHeader('content-encoding')) reply.header('Content-Length', String(size));
  reply.code(206);
  // Go streams the parts; with a Content-Encoding it sends no Content-Length (chunked), which a
  // stream payload also gets from fastify.
  if (Buffer.isBuffer(source) && size <= 4 * 1024 * 1024 && !reply.hasHeader('content-encoding')) {
    const pieces: Buffer[] = [];
    for (const p of await collect(await multipartStream(source, ranges, boundary, mimeType, totalSize))) pieces.push(p);
    return reply.send(Buffer.concat(pieces));
  }
  const gen = await multipartStream(source, ranges, boundary, mimeType, totalSize);
  return reply.send(Readable.from(gen, { objectMode: false, highWaterMark: 1 }));
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of gen) out.push(b);
  return out;
}
