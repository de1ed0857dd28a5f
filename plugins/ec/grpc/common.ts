// Request-field helpers of the ec handlers: ids and 64-bit values as the proto loader hands them,
// and Go's error text of a thrown error.
export { checks, i64, plain, send, u32, u64 } from '../../../core/grpc/rpc-support.js';
import { u32 } from '../../../core/grpc/rpc-support.js';
/** Go's checkVolumeCollection, stricter: a collection from the network becomes part of a file name. */
export { collectionError } from '../../../core/security/names.js';

export function shardIdsOf(raw: unknown): number[] {
  return Array.isArray(raw) ? raw.map(u32) : [];
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
