// Request-field helpers of the ec handlers: ids and 64-bit values as the proto loader hands them,
// and Go's error text of a thrown error.
export { checks, plain, send } from '../../../core/grpc/rpc-support.js';

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

/** A collection becomes part of a file name: one path element, never a separator or `..`. */
export function collectionError(collection: string): string | undefined {
  if (collection === '.' || collection === '..' || /[/\\\0]/.test(collection)) return `invalid collection ${JSON.stringify(collection)}`;
  return undefined;
}
