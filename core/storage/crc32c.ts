// CRC-32C (Castagnoli) for needle checksums. The native implementation (@node-rs/crc32, prebuilt
// N-API binaries, SSE4.2/ARMv8 CRC instructions) runs at several GB/s; the table-driven JS fallback
// (slicing-by-8) is only used when the native module cannot be loaded on this platform.
import { createRequire } from 'node:module';

type CrcFn = (data: Uint8Array, initial: number) => number;

/** Table-driven slicing-by-8 CRC-32C (reflected polynomial 0x82F63B78). */
const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[0][i];
    for (let k = 1; k < 8; k++) {
      c = t[0][c & 0xff] ^ (c >>> 8);
      t[k][i] = c >>> 0;
    }
  }
  return t;
})();

/** Pure-JS CRC-32C continuing from `initial` (a previous finished CRC value, 0 to start). */
export function crc32cJs(data: Uint8Array, initial = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let crc = ~initial >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ crc;
    const b = data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24);
    crc =
      t7[a & 0xff] ^
      t6[(a >>> 8) & 0xff] ^
      t5[(a >>> 16) & 0xff] ^
      t4[a >>> 24] ^
      t3[b & 0xff] ^
      t2[(b >>> 8) & 0xff] ^
      t1[(b >>> 16) & 0xff] ^
      t0[b >>> 24];
    i += 8;
  }
  while (i < n) crc = t0[(crc ^ data[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

function loadNative(): CrcFn | undefined {
  try {
    const require = createRequire(import.meta.url);
    const mod = require('@node-rs/crc32') as { crc32c?: (d: Uint8Array, s?: number) => number };
    const fn = mod.crc32c;
    if (typeof fn !== 'function') return undefined;
    // Self-test against the standard check value before trusting it.
    if (fn(Buffer.from('123456789'), 0) >>> 0 !== 0xe3069283) return undefined;
    return (d, s) => fn(d, s) >>> 0;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** Which implementation is active: 'native' (@node-rs/crc32) or 'js' (fallback). */
export const crc32cImplementation: 'native' | 'js' = native ? 'native' : 'js';

const impl: CrcFn = native ?? crc32cJs;

/**
 * CRC-32C of `data`, continuing from `initial` (the finished CRC of the preceding bytes; 0 to
 * start). crc32c(b, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(data: Uint8Array, initial = 0): number {
  if (data.length === 0) return initial >>> 0;
  return impl(data, initial);
}

/**
 * Go's pre-3.09 stored checksum ("CRC.Value()"): rotate right by 15, then add 0xa282ead8 (mod 2^32).
 * Old volumes store this form; readers accept either.
 */
export function legacyMaskedCrc(c: number): number {
  const r = ((c >>> 15) | (c << 17)) >>> 0;
  return (r + 0xa282ead8) >>> 0;
}

/** True if `stored` matches the raw CRC `crc` or its legacy masked form. */
export function crcMatches(stored: number, crc: number): boolean {
  stored >>>= 0;
  crc >>>= 0;
  return stored === crc || stored === legacyMaskedCrc(crc);
}

/** Incremental CRC-32C accumulator for streamed data. */
export class Crc32c {
  private value = 0;
  update(chunk: Uint8Array): this {
    this.value = crc32c(chunk, this.value);
    return this;
  }
  digest(): number {
    return this.value >>> 0;
  }
  reset(): void {
    this.value = 0;
  }
}
