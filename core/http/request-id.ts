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
  const nanos = BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000);
  return nanos.toString(16).toUpperCase() + rnd.toString(16).toUpperCase().padStart(8, '0');
}
