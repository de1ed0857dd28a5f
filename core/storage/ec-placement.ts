// Which disk location receives a file: an EC shard or index arriving for (collection, vid), or a
// new regular volume. Core owns this (Go keeps it in weed/storage/store_ec.go and store.go) so every
// family that moves files places them the same way; the mounted EC shards come from the families'
// contributions.
import { statSync } from 'node:fs';
import type { Contributions } from './contributions.js';
import type { DiskLocation } from './disk-location.js';
import { volumeFileName } from './volume-files.js';

/** Go's erasure_coding.DataShardsCount and MaxShardCount. */
export const DATA_SHARDS_COUNT = 10;
export const MAX_SHARD_COUNT = 32;

/** What placement reads of the store. */
export interface PlacementView {
  readonly locations: readonly DiskLocation[];
  readonly contributions: Contributions;
  volumeCountOn(loc: DiskLocation): number;
  hasVolumeOn(loc: DiskLocation, vid: number): boolean;
}

function nonEmptyFile(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() && st.size > 0;
  } catch {
    return false;
  }
}

/** Go's `<base>.ecNN` name of a shard. */
export function ecShardExt(shardId: number): string {
  return `.ec${String(shardId).padStart(2, '0')}`;
}

/** Go's diskHoldsEcShardFile: whether `dir` has a non-empty shard file of the volume. */
export function holdsEcShardFile(dir: string, collection: string, vid: number): boolean {
  const base = volumeFileName(dir, collection, vid);
  for (let i = 0; i < MAX_SHARD_COUNT; i++) if (nonEmptyFile(base + ecShardExt(i))) return true;
  return false;
}

/**
 * Go's DiskLocation.HasEcxFileOnDisk: a non-empty .ecx of the volume in the data directory, else
 * the index directory (an empty one is the stub of a failed copy and must not steer placement).
 */
export function hasEcxFileOnDisk(loc: DiskLocation, collection: string, vid: number): boolean {
  if (nonEmptyFile(volumeFileName(loc.directory, collection, vid) + '.ecx')) return true;
  return loc.idxDirectory !== loc.directory && nonEmptyFile(volumeFileName(loc.idxDirectory, collection, vid) + '.ecx');
}

/** Go's ecFreeShardCount: free EC shard slots of a location (a max of 0 or less is unlimited). */
export function ecFreeShardCount(view: PlacementView, loc: DiskLocation, dataShardCount: number): number {
  if (dataShardCount <= 0) return 0;
  const used = view.volumeCountOn(loc) * dataShardCount + view.contributions.ecShardCount(loc);
  if (loc.maxVolumeCount <= 0) {
    const unlimited = 2 ** 30;
    return used >= unlimited ? 1 : unlimited - used;
  }
  return Math.max(0, loc.maxVolumeCount * dataShardCount - used);
}

const TIER_ANY_DISK = 1;
const TIER_HDD = 2;
const TIER_ECX_ON_DISK = 3;
const TIER_MOUNTED = 4;
const TIER_OWNS_SHARD = 5;

/**
 * Go's Store.FindEcShardTargetLocation: the disk that receives a shard or index file of (collection,
 * vid). Best first: a disk that already has one of `shardIds` mounted (a re-copy overwrites in place,
 * even on a low disk), a disk with the EC volume mounted, a disk with its .ecx on disk, a hard drive,
 * any disk; low-space and full disks are skipped; ties go to more owned shards, then more free slots.
 */
export function findEcShardTargetLocation(
  view: PlacementView,
  collection: string,
  vid: number,
  dataShardCount = DATA_SHARDS_COUNT,
  shardIds: number[] = [],
): DiskLocation | undefined {
  let best: DiskLocation | undefined;
  let bestTier = 0;
  let bestOwned = 0;
  let bestFree = 0;
  for (const loc of view.locations) {
    const mounted = view.contributions.mountedEcShardIds(loc, vid);
    const owned = shardIds.filter((s) => mounted.includes(s)).length;
    const free = ecFreeShardCount(view, loc, dataShardCount);
    if (owned === 0 && (loc.isLowOnSpace || free <= 0)) continue;
    let tier = loc.diskType === '' ? TIER_HDD : TIER_ANY_DISK;
    if (hasEcxFileOnDisk(loc, collection, vid)) tier = TIER_ECX_ON_DISK;
    if (mounted.length > 0) tier = TIER_MOUNTED;
    if (owned > 0) tier = TIER_OWNS_SHARD;
    let better = best === undefined || tier > bestTier;
    if (!better && tier === bestTier) better = owned > bestOwned || (owned === bestOwned && free > bestFree);
    if (better) {
      best = loc;
      bestTier = tier;
      bestOwned = owned;
      bestFree = free;
    }
  }
  return best;
}

/**
 * Go's Store.FindFreeLocation: among locations passing `filter` and not low on space, the one with
 * the most free volume slots, counting mounted EC shards (ten to a slot) against them. `replaceId`
 * frees the slot of a volume about to be replaced.
 */
export function findFreeLocation(
  view: PlacementView,
  filter: (loc: DiskLocation) => boolean,
  replaceId = 0,
): DiskLocation | undefined {
  let best: DiskLocation | undefined;
  let max = 0;
  for (const loc of view.locations) {
    if (!filter(loc) || loc.isLowOnSpace) continue;
    let free = loc.maxVolumeCount - view.volumeCountOn(loc);
    if (replaceId !== 0 && view.hasVolumeOn(loc, replaceId)) free++;
    free = Math.trunc((free * DATA_SHARDS_COUNT - view.contributions.ecShardCount(loc)) / DATA_SHARDS_COUNT);
    if (free > max) {
      max = free;
      best = loc;
    }
  }
  return best;
}
