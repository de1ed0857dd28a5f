// What the tiering handlers share: request field parsing and the volume checks every tier RPC
// starts with (Go: the opening lines of VolumeTierMoveDatToRemote / VolumeTierMoveDatFromRemote).
import type { Store } from '../../../core/storage/store.js';
import type { Volume } from '../../../core/storage/volume.js';
import { plain } from '../../../core/grpc/rpc-support.js';

export { u32 } from '../../../core/grpc/rpc-support.js';

/** An int64 request field (decimal string from the loader) as a number; NaN when not an integer. */
export function i64(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 0;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

/** The volume a tier request names, in the collection it names: Go's errors otherwise. */
export function tierVolume(store: Store, volumeId: number, collection: string): Volume {
  const v = store.findVolume(volumeId);
  if (!v) throw plain(`volume ${volumeId} not found`);
  if (v.collection !== collection) throw plain(`existing collection:${v.collection} unexpected input: ${collection}`);
  return v;
}

/** Go's %v of a []string: `[a b c]`. */
export function goList(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

/**
 * Go's progress throttle: a progress message goes out at most once a second, the first one only
 * after a second has passed.
 */
export function throttled(send: (processed: number, percentage: number) => Promise<void>) {
  let last = Date.now();
  return async (processed: number, percentage: number): Promise<void> => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    await send(processed, percentage);
  };
}
