// Where a range of an EC volume's logical .dat lies in its shards (Go's
// weed/storage/erasure_coding/ec_locate.go LocateData and Interval.ToShardIdAndOffset). Core holds
// it because the ec family reads through it and the scrub family names broken shards with it.

/** Go's ErasureCodingLargeBlockSize and ErasureCodingSmallBlockSize (the legacy two-tier layout). */
export const EC_LARGE_BLOCK_SIZE = 1024 * 1024 * 1024;
export const EC_SMALL_BLOCK_SIZE = 1024 * 1024;

/** Block lengths of a shard layout: large rows first, then small rows. */
export interface EcBlockLayout {
  large: number;
  small: number;
}

/** The layout from the .vif block size (0 = legacy 1 GiB / 1 MiB). */
export function ecBlockLayout(blockSize: number): EcBlockLayout {
  return blockSize > 0 ? { large: blockSize, small: blockSize } : { large: EC_LARGE_BLOCK_SIZE, small: EC_SMALL_BLOCK_SIZE };
}

/** A piece of a needle: `size` bytes of shard `shardId` at `offset`. */
export interface ShardInterval {
  shardId: number;
  offset: number;
  size: number;
}

/**
 * Go's LocateData + ToShardIdAndOffset: the shard intervals holding [offset, offset+size) of the
 * .dat. `shardDatSize` fixes the number of large rows (datFileSize/D, or shard size − 1). Go's
 * locate math uses 10 data shards whatever the ratio; so does this (only 10+4 interoperates).
 */
export function locateData(layout: EcBlockLayout, shardDatSize: number, offset: number, size: number): ShardInterval[] {
  const D = 10;
  const nLargeRows = Math.floor(shardDatSize / layout.large);
  let large = offset < nLargeRows * layout.large * D;
  let blockIndex: number;
  let inner: number;
  if (large) {
    blockIndex = Math.floor(offset / layout.large);
    inner = offset % layout.large;
  } else {
    const o = offset - nLargeRows * layout.large * D;
    blockIndex = Math.floor(o / layout.small);
    inner = o % layout.small;
  }
  const out: ShardInterval[] = [];
  let left = size;
  while (left > 0) {
    const remaining = (large ? layout.large : layout.small) - inner;
    if (remaining > 0) {
      const take = Math.min(left, remaining);
      const row = Math.floor(blockIndex / D);
      const shardOffset = inner + (large ? row * layout.large : nLargeRows * layout.large + row * layout.small);
      out.push({ shardId: blockIndex % D, offset: shardOffset, size: take });
      left -= take;
    }
    blockIndex++;
    inner = 0;
    if (large && blockIndex === nLargeRows * D) {
      large = false;
      blockIndex = 0;
    }
  }
  return out;
}
