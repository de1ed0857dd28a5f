// Every collection name that arrives from the network is checked here before it can become part
// of a file name (`<collection>_<vid>.dat`). Go's rule (weed/server/volume_grpc_copy.go
// checkVolumeCollection: one path element, not `.` or `..`) applies to CopyFile/ReceiveFile only;
// here it applies to every RPC that takes a collection, and is stricter: no NUL or other control
// character, and a bounded length.
import { vsError } from '../errors.js';

/**
 * Longest collection name in UTF-8 bytes: `<collection>_<vid>.<ext>` (vid ≤ 10 digits, extensions
 * up to `.cpldb`) then stays within the 255-byte file-name limit of common file systems.
 */
export const MAX_COLLECTION_BYTES = 200;

/** Go's `invalid collection %q` text for a refused name, or undefined when the name is usable. The empty name is the default collection. */
export function collectionError(collection: unknown): string | undefined {
  if (typeof collection !== 'string') return `invalid collection ${JSON.stringify(String(collection))}`;
  if (
    collection === '.' ||
    collection === '..' ||
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    /[/\\\x00-\x1f\x7f]/.test(collection) ||
    Buffer.byteLength(collection, 'utf8') > MAX_COLLECTION_BYTES
  ) {
    return `invalid collection ${JSON.stringify(collection)}`;
  }
  return undefined;
}

/** Throws Go's plain (gRPC UNKNOWN) `invalid collection "<name>"` error for a refused name; returns the name. */
export function checkCollection(collection: unknown): string {
  const bad = collectionError(collection);
  if (bad !== undefined) throw vsError('VS_ERR_PLAIN', bad);
  return collection as string;
}
