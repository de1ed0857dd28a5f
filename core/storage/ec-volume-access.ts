// An EC volume as the other families see it: the read-write family serves HTTP reads and deletes
// and VolumeNeedleStatus of fids in EC volumes through it (Go's ReadEcShardNeedle and
// DeleteEcShardNeedle, weed/storage/store_ec.go), the scrub-query family verifies EC volumes with it
// (Go's weed/server/volume_grpc_scrub.go scrubEcVolumes). The ec family implements it; core only
// names the shape, so neither family imports the other.

/** One shard file of the volume mounted on this server. */
export interface LocalEcShard {
  shardId: number;
  /** Absolute path of the `.ecNN` file. */
  path: string;
  size: number;
  /** Disk location index holding it. */
  diskId: number;
}

/** Where a needle record lies in the volume's logical `.dat` (Go's FindNeedleFromEcx). */
export interface EcNeedleLocation {
  /** Byte offset of the record in the original `.dat`. */
  offset: number;
  /** The index size; TOMBSTONE_FILE_SIZE (or negative) once deleted. */
  size: number;
}

export interface EcReadOptions {
  /** Only this server's shard files: no peer reads and no reconstruction needing peers. */
  localOnly?: boolean;
  /** Stops a long read (a scrub whose client went away). */
  signal?: AbortSignal;
  /**
   * Bytes only as some shard file holds them (local, else a peer holding that shard): never rebuilt
   * from other shards. A scrub in FULL mode reads so, to find the shards that are broken rather
   * than heal around them (Go's scrubEcVolumeWalk).
   */
  noReconstruct?: boolean;
  /**
   * The needle the bytes belong to: peers asked for its shard intervals answer "deleted" when their
   * journal has it (Go's VolumeEcShardRead file_key), and the read then rejects with NEEDLE_DELETED.
   */
  needleId?: bigint;
  /**
   * Shards whose bytes are not trusted (a needle read from them failed to parse): their intervals
   * are reconstructed from the other shards instead (Go's rebuildEcShardNeedle).
   */
  exclude?: readonly number[];
}

/** `size` bytes of shard `shardId` at `offset` in the shard file. */
export interface EcShardInterval {
  shardId: number;
  offset: number;
  size: number;
}

export interface EcVolumeAccess {
  readonly id: number;
  readonly collection: string;
  /** Needle version of the records (the .vif's, 3 when absent). */
  readonly version: number;
  readonly dataShards: number;
  readonly parityShards: number;
  /** Size of the encoded `.dat` as the .vif records it (0 when unknown). */
  readonly datFileSize: number;
  /** Uniform shard block size from the .vif (0 = Go's legacy 1 GiB / 1 MiB layout). */
  readonly blockSize: number;
  readonly expireAtSec: number;
  /** Base path (no extension) of the .ecx/.ecj and of the `.ecsum` sidecar. */
  readonly indexBase: string;
  /** Every shard of the volume mounted here, across disks, by ascending shard id. */
  localShards(): LocalEcShard[];
  /** Binary search of the sorted `.ecx`, the `.ecj` applied (size becomes a tombstone). */
  findNeedle(id: bigint): Promise<EcNeedleLocation | undefined>;
  /** findNeedle with synchronous reads, for the small-read fast path; throws what findNeedle rejects with. */
  findNeedleSync?(id: bigint): EcNeedleLocation | undefined;
  /**
   * readDat of a small range when every interval is on a shard mounted here, read synchronously;
   * undefined whenever readDat would need peers or a rebuild, or a read fails.
   */
  readDatLocalSync?(offset: number, length: number): Buffer | undefined;
  /** Every `.ecx` row as stored, in file order (journalled deletes not applied). */
  walkIndex(fn: (id: bigint, offset: number, size: number) => void): Promise<void>;
  /** Whether `id` is in the `.ecj` deletion journal. */
  isDeleted(id: bigint): boolean;
  /** The shard intervals holding `length` bytes of the logical `.dat` at `offset` (Go's LocateData). */
  locate(offset: number, length: number): EcShardInterval[];
  /**
   * `length` bytes of the logical `.dat` from `offset`: from local shards, intervals of missing
   * shards from the peers holding them, else reconstructed from any `dataShards` shards (Go's
   * readEcShardIntervals). Rejects with a clear error when that is impossible.
   */
  readDat(offset: number, length: number, opts?: EcReadOptions): Promise<Buffer>;
  /** Go's DeleteEcShardNeedle: journals `id` here and on the other holders of the volume's shards. */
  deleteNeedle(id: bigint): Promise<void>;
}
