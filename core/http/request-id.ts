import { randomFillSync } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-amz-request-id';

// Random bytes are drawn in blocks: one randomBytes call per request costs more than the rest of
// the id. Ids need to be unique, not secret.
const POOL = Buffer.allocUnsafe(4096);
let poolPos = POOL.length;

/** Go's request_id.New(): uppercase hex unix-nanoseconds followed by 8 uppercase random hex digits. */
export function newRequestId(): string {
  if (poolPos + 4 > POOL.length) {
    randomFillSync(POOL);
    poolPos = 0;
  }
  const rnd = POOL.readUInt32BE(poolPos);
  poolPos += 4;
  return nanosHex(Date.now(), process.hrtime()[1] % 1_000_000) + hex8(rnd);
}

const TWO32 = 0x1_0000_0000;

function hex8(v: number): string {
  return v.toString(16).toUpperCase().padStart(8, '0');
}

let cachedMs = -1;
let cachedHigh = 0;
let cachedLow = 0;

/**
 * Uppercase hex of ms·10⁶ + ns without BigInt (a BigInt per request shows in profiles): the value
 * is kept as two 32-bit halves; ms·10⁶ is split once per millisecond.
 */
function nanosHex(ms: number, ns: number): string {
  if (ms !== cachedMs) {
    // ms < 2^42, so ms = a·2^21 + b with both products below 2^53 and exact.
    const a = Math.floor(ms / 2_097_152);
    const b = ms - a * 2_097_152;
    const hi = a * 1_000_000; // ms·10⁶ = hi·2^21 + b·10⁶
    const hiHigh = Math.floor(hi / 2048); // hi·2^21 = hiHigh·2^32 + (hi mod 2^11)·2^21
    const low = (hi - hiHigh * 2048) * 2_097_152 + b * 1_000_000; // < 2^32 + 2^41
    cachedHigh = hiHigh + Math.floor(low / TWO32);
    cachedLow = low % TWO32;
    cachedMs = ms;
  }
  let low = cachedLow + ns;
  let high = cachedHigh;
  if (low >= TWO32) {
    low -= TWO32;
    high += 1;
  }
  return high === 0 ? low.toString(16).toUpperCase() : high.toString(16).toUpperCase() + hex8(low);
}
