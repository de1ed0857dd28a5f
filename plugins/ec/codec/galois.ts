// GF(2^8) arithmetic as klauspost/reedsolomon defines it (galois.go): reducing polynomial 0x11D,
// generator 2. The full 256×256 product table makes the scalar kernel one lookup per byte.

export const GF_POLY = 0x11d;

/** exp[i] = 2^i for i in 0..509 (doubled so exp[log a + log b] needs no modulo). */
export const EXP = new Uint8Array(510);
/** log[a] for a in 1..255 (log[0] unused). */
export const LOG = new Uint8Array(256);

{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= GF_POLY;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255];
}

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a] + LOG[b]];
}

export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new Error('gf: divide by zero');
  if (a === 0) return 0;
  return EXP[(LOG[a] - LOG[b] + 255) % 255];
}

/** klauspost's galExp: a^n, with 0^0 = 1. */
export function gfExp(a: number, n: number): number {
  if (n === 0) return 1;
  if (a === 0) return 0;
  return EXP[(LOG[a] * n) % 255];
}

/** MUL[c*256 + x] = c·x: row c is the multiply-by-c table. */
export const MUL = new Uint8Array(256 * 256);
for (let c = 0; c < 256; c++) for (let x = 0; x < 256; x++) MUL[c * 256 + x] = gfMul(c, x);
