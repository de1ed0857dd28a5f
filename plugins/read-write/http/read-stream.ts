// Serving gzip-stored needles (flag compressed) to clients that do not accept gzip without holding
// the inflated data in memory: the stored bytes (from memory or streamed from the .dat) go through
// zlib's gunzip with backpressure. Go inflates the whole needle in memory (DecompressData); we do
// that too (inflate.ts, off the event loop), but only while the inflated size stays below
// INFLATE_IN_MEMORY_LIMIT.
//
// Sizes: the gzip ISIZE trailer is the inflated length mod 2^32 of the LAST member only, so it is
// never trusted for a Content-Length. A full read streams chunked (no Content-Length, HEAD too);
// a Range read needs the exact size (suffix ranges, Content-Range's total), so it is counted by a
// first inflating pass (CPU, no memory; cached per needle), then the range is served by inflating
// again, discarding up to its start and passing `length` bytes through.
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { OpenedContent, StreamSource } from './read-response.js';

/** Inflated bytes a single request may hold in memory (Go's in-memory DecompressData). */
export const INFLATE_IN_MEMORY_LIMIT = 64 * 1024 * 1024;
const INFLATE_CHUNK = 64 * 1024;

/** The ISIZE trailer (inflated length mod 2^32 of the last member), or -1 when too short for gzip. */
export function gzipTrailerSize(data: Uint8Array): number {
  if (data.length < 18) return -1;
  const o = data.length - 4;
  return (data[o] | (data[o + 1] << 8) | (data[o + 2] << 16)) + data[o + 3] * 0x1000000;
}

/** An in-memory buffer as a StreamSource (the stored bytes of a small needle). */
export function bufferSource(buf: Buffer): StreamSource {
  return {
    size: buf.length,
    async open(start: number, length: number): Promise<OpenedContent> {
      return { head: buf.subarray(start, start + length) };
    },
  };
}

/** All the stored bytes (a full read, so the .dat source checks the CRC at its end). */
function storedReadable(stored: StreamSource): Readable {
  async function* all(): AsyncGenerator<Buffer> {
    const opened = await stored.open(0, stored.size);
    try {
      if (opened.head.length > 0) yield opened.head;
      if (!opened.rest) return;
      for (;;) {
        const n = await opened.rest.next();
        if (n.done) return;
        yield n.value;
      }
    } finally {
      await opened.rest?.return?.();
    }
  }
  return Readable.from(all(), { objectMode: false, highWaterMark: 1 });
}

/** Inflated bytes [start, start+length) of the stored gzip; an iterator that stops the pipeline on return(). */
function inflatedRange(stored: StreamSource, start: number, length: number): AsyncIterator<Buffer> {
  const src = storedReadable(stored);
  const gz = createGunzip({ chunkSize: INFLATE_CHUNK });
  pipeline(src, gz, () => {
    /* errors surface through gz's iterator */
  });
  const it = gz[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let skip = start;
  let left = length;
  let finished = false;
  const stop = async (): Promise<IteratorResult<Buffer>> => {
    if (!finished) {
      finished = true;
      src.destroy();
      gz.destroy();
    }
    return { done: true, value: undefined };
  };
  return {
    async next(): Promise<IteratorResult<Buffer>> {
      while (!finished) {
        if (left <= 0) return stop();
        const n = await it.next();
        if (n.done) {
          finished = true;
          if (Number.isFinite(length) && left > 0) throw new Error(`inflated data ended ${left} bytes short of the range`);
          return { done: true, value: undefined };
        }
        let b = n.value;
        if (skip > 0) {
          if (b.length <= skip) {
            skip -= b.length;
            continue;
          }
          b = b.subarray(skip);
          skip = 0;
        }
        if (b.length > left) b = b.subarray(0, left);
        left -= b.length;
        return { done: false, value: b };
      }
      return { done: true, value: undefined };
    },
    return: stop,
  };
}

/**
 * The inflated content of stored gzip bytes as a StreamSource: of `size` bytes when known (exact,
 * from inflatedLength), else of unknown size (served chunked, no ranges).
 */
export function inflatedSource(stored: StreamSource, size: number | undefined): StreamSource {
  return {
    size: size ?? 0,
    unknownSize: size === undefined,
    async open(start: number, length: number): Promise<OpenedContent> {
      const rest = inflatedRange(stored, start, length);
      try {
        const first = await rest.next();
        if (first.done) return { head: Buffer.alloc(0) };
        return { head: first.value, rest };
      } catch (e) {
        await rest.return?.();
        // Not gzip after all (bad header/data in the first inflated chunk, nothing sent yet): a
        // full read serves the stored bytes, as Go's DecompressData keeps them.
        const code = (e as NodeJS.ErrnoException).code;
        if (size === undefined && start === 0 && typeof code === 'string' && code.startsWith('Z_')) return stored.open(0, stored.size);
        throw e;
      }
    },
  };
}

const sizeCache = new Map<string, number>();
const SIZE_CACHE_ENTRIES = 256;

/** The exact inflated length: one inflating pass that counts and discards; cached under `key`. */
export async function inflatedLength(stored: StreamSource, key: string): Promise<number> {
  const hit = sizeCache.get(key);
  if (hit !== undefined) return hit;
  const it = inflatedRange(stored, 0, Infinity);
  let total = 0;
  try {
    for (;;) {
      const n = await it.next();
      if (n.done) break;
      total += n.value.length;
    }
  } finally {
    await it.return?.();
  }
  if (sizeCache.size >= SIZE_CACHE_ENTRIES) sizeCache.delete(sizeCache.keys().next().value as string);
  sizeCache.set(key, total);
  return total;
}
