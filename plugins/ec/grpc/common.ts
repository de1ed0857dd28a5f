// Request-field helpers of the ec handlers: ids and 64-bit values as the proto loader hands them,
// and Go's error text of a thrown error.
export { checks, plain, send } from '../../../core/grpc/rpc-support.js';
/** Go's checkVolumeCollection, stricter: a collection from the network becomes part of a file name. */
export { collectionError } from '../../../core/security/names.js';

export function u32(raw: unknown): number {
  return Number(raw ?? 0) >>> 0;
}

export function i64(raw: unknown): bigint {
  if (raw === undefined || raw === null || raw === '') return 0n;
  try {
    return BigInt(raw as string | number);
  } catch {
    return 0n;
  }
}

export function u64(raw: unknown): bigint {
  const v = i64(raw);
  return v < 0n ? 0n : v;
}

export function shardIdsOf(raw: unknown): number[] {
  return Array.isArray(raw) ? raw.map(u32) : [];
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
