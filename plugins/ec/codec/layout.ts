// Where the bytes of a .dat go in the shards (weed/storage/erasure_coding/ec_encoder.go
// WriteEcFiles, UniformBlockSize; ec_locate.go LocateData). Go's encoder now always writes the
// uniform layout (large and small block both = blockSize, recorded in the .vif); blockSize 0 in a
// .vif is the legacy 1 GiB / 1 MiB two-tier layout, which readers must still understand.

export const LARGE_BLOCK_SIZE = 1024 * 1024 * 1024;
export const SMALL_BLOCK_SIZE = 1024 * 1024;

/** Go's UniformBlockSize: ceil(datSize / D) rounded up to whole MiB, at least 1 MiB. */
export function uniformBlockSize(datFileSize: number, dataShards: number): number {
  const perShard = Math.ceil(datFileSize / dataShards);
  const blocks = Math.max(1, Math.ceil(perShard / SMALL_BLOCK_SIZE));
  return blocks * SMALL_BLOCK_SIZE;
}

export interface BlockLayout {
  large: number;
  small: number;
}

/** The block lengths of a volume's layout from the .vif block size (0 = legacy). */
export function blockLayout(blockSize: number): BlockLayout {
  return blockSize > 0 ? { large: blockSize, small: blockSize } : { large: LARGE_BLOCK_SIZE, small: SMALL_BLOCK_SIZE };
}

/** One row of the stripe: `blockSize` bytes per data shard starting at `datOffset`. */
export interface StripeRow {
  datOffset: number;
  blockSize: number;
}

/** Go's encodeDatFile loop: large rows while a whole one remains, then small rows (zero-padded). */
export function stripeRows(datSize: number, dataShards: number, layout: BlockLayout): StripeRow[] {
  const rows: StripeRow[] = [];
  let remaining = datSize;
  let processed = 0;
  const largeRow = layout.large * dataShards;
  const smallRow = layout.small * dataShards;
  while (remaining >= largeRow) {
    rows.push({ datOffset: processed, blockSize: layout.large });
    remaining -= largeRow;
    processed += largeRow;
  }
  while (remaining > 0) {
    rows.push({ datOffset: processed, blockSize: layout.small });
    remaining -= smallRow;
    processed += smallRow;
  }
  return rows;
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
export function locateData(layout: BlockLayout, shardDatSize: number, offset: number, size: number): ShardInterval[] {
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
