// Request-field helpers of the ec handlers: ids and 64-bit values as the proto loader hands them,
// and Go's error text of a thrown error.
export { checks, i64, plain, send, u32, u64 } from '../../../core/grpc/rpc-support.js';
import { plain, u32 } from '../../../core/grpc/rpc-support.js';
/** Go's checkVolumeCollection, stricter: a collection from the network becomes part of a file name. */
export { collectionError } from '../../../core/security/names.js';

/** Go's erasure_coding.MaxShardCount: shard files are `.ec00`..`.ec31`. */
const MAX_SHARD_ID = 31;

/**
 * The shard ids of a Mount/Unmount/Copy/Delete request. An id past `.ec31` or one listed twice is
 * refused before anything is done: Go narrows ids to a byte (259 would name shard 3) and acts on a
 * repeated id twice; half a request applied is worse than none.
 */
export function shardIdsOf(raw: unknown): number[] {
  const ids = Array.isArray(raw) ? raw.map(u32) : [];
  const seen = new Set<number>();
  for (const id of ids) {
    if (id > MAX_SHARD_ID) throw plain(`invalid shard ids [${ids.join(' ')}]: shard id ${id} is out of range (max ${MAX_SHARD_ID})`);
    if (seen.has(id)) throw plain(`invalid shard ids [${ids.join(' ')}]: shard id ${id} is listed twice`);
    seen.add(id);
  }
  return ids;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
