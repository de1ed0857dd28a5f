// Gzip bombs for tests, built piecewise and never held whole: long runs of zeros gzipped by
// repeating one independently compressed 1 MiB deflate block, with the right CRC-32 and ISIZE.
import { constants, deflateRawSync } from 'node:zlib';

// ---- CRC-32 (IEEE) of long runs of zeros, via zlib's crc32_combine (GF(2) matrices).
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
function gf2Times(mat: number[], vec: number): number {
  let sum = 0;
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i];
  return sum >>> 0;
}
function gf2Square(mat: number[]): number[] {
  return mat.map((v) => gf2Times(mat, v));
}
function crc32Combine(crc1: number, crc2: number, len2: number): number {
  if (len2 <= 0) return crc1;
  let odd = [0xedb88320];
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd.push(row >>> 0);
  let even = gf2Square(odd);
  odd = gf2Square(even);
  for (;;) {
    even = gf2Square(odd);
    if (len2 % 2) crc1 = gf2Times(even, crc1);
    len2 = Math.floor(len2 / 2);
    if (len2 === 0) break;
    odd = gf2Square(even);
    if (len2 % 2) crc1 = gf2Times(odd, crc1);
    len2 = Math.floor(len2 / 2);
    if (len2 === 0) break;
  }
  return (crc1 ^ crc2) >>> 0;
}
function crc32OfZeros(blockCrc: number, blockLen: number, blocks: number): number {
  let result = 0;
  let have = false;
  let pow = blockCrc;
  let powLen = blockLen;
  for (let b = blocks; b > 0; b = Math.floor(b / 2)) {
    if (b % 2) {
      result = have ? crc32Combine(result, pow, powLen) : pow;
      have = true;
    }
    pow = crc32Combine(pow, pow, powLen);
    powLen *= 2;
  }
  return result;
}

/**
 * A gzip stream of `blocks` MiB of zeros, produced piecewise: zlib compresses one MiB once with a
 * full flush (so the block stands alone) and the block is repeated; nothing is held whole.
 */
export function* gzipZeros(blocks: number): Generator<Buffer> {
  const mib = Buffer.alloc(1 << 20);
  const block = deflateRawSync(mib, { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  yield Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  for (let i = 0; i < blocks; i++) yield block;
  yield deflateRawSync(Buffer.alloc(0)); // final empty block
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32OfZeros(crc32(mib), mib.length, blocks), 0);
  trailer.writeUInt32LE((blocks * 2 ** 20) % 2 ** 32, 4);
  yield trailer;
}
