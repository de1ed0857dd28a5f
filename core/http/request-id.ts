import { randomBytes } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-amz-request-id';

/** Go's request_id.New(): uppercase hex unix-nanoseconds followed by 8 uppercase random hex digits. */
export function newRequestId(): string {
  const nanos = BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000);
  return nanos.toString(16).toUpperCase() + randomBytes(4).toString('hex').toUpperCase();
}
