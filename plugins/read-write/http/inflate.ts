// Inflating gzip-stored needle data in memory, as Go's util.DecompressData does
// (weed/util/compression.go), but bounded and never on the event loop: zlib's async API runs the
// inflation on the thread pool and stops as soon as the output passes the cap, so a decompression
// bomb costs at most `limit` bytes and never blocks other requests.
import { gunzip, type ZlibOptions } from 'node:zlib';

/** Result of inflateBounded when the inflated data would exceed the limit. */
export const TOO_LARGE = Symbol('too large');

/** Output pieces of 64 KiB: fewer thread-pool round trips than zlib's default 16 KiB. */
const INFLATE_CHUNK = 64 * 1024;

export function isGzipMagic(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

function gunzipAsync(data: Buffer, opts: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => gunzip(data, opts, (err, out) => (err ? reject(err) : resolve(out))));
}

/**
 * Go's DecompressData for gzip, bounded: the inflated bytes, TOO_LARGE when they pass `limit`, or
 * the input itself when it is not (valid) gzip (Go logs the error and the caller goes on).
 */
export async function inflateBounded(data: Buffer, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  if (!isGzipMagic(data)) return data;
  try {
    return await gunzipAsync(data, { maxOutputLength: limit, chunkSize: INFLATE_CHUNK });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) return TOO_LARGE;
    return data;
  }
}
