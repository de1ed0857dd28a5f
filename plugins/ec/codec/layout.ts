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

// Locating needle bytes in the shards is core's (the scrub family locates them too).
export { locateData, type ShardInterval } from '../../../core/storage/ec-locate.js';
