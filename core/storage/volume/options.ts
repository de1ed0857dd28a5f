// The shapes a volume is opened, written and read with, and its tuning constants.
import type { Cookie, ReplicaPlacement, Size, Ttl, OffsetWidth, Version } from '../types.js';
import type { BackendRegistry } from '../backend/registry.js';

/** Go's syncBatchMaxRequests / syncBatchMaxBytes. */
export const SYNC_BATCH_MAX_REQUESTS = 128;
export const SYNC_BATCH_MAX_BYTES = 4 * 1024 * 1024;
/** Go's PagedReadLimit: above this, HTTP reads stream the data instead of reading it whole. */
export const PAGED_READ_LIMIT = 1024 * 1024;
/** Records up to this size may be read synchronously (readNeedleSync). */
export const SYNC_READ_LIMIT = 128 * 1024;
/** Bytes per read/write when a record's data is copied from a file (one buffer per write). */
export const FILE_COPY_CHUNK = 4 * 1024 * 1024;

export interface VolumeCreateParams {
  replicaPlacement: ReplicaPlacement;
  ttl: Ttl;
  /** Needle version for a new volume (default 3). */
  version?: Version;
  /** Bytes to reserve; accepted for API parity, not applied (Node has no fallocate). */
  preallocate?: number;
}

export interface VolumeOpenOptions {
  /** Data directory (.dat, .vif, .note). */
  dir: string;
  /** Index directory (.idx); defaults to `dir`. */
  idxDir?: string;
  collection: string;
  id: number;
  /** Offset width of this server (storage.offsetBytes); default 4. */
  offsetWidth?: OffsetWidth;
  /** When given, a missing or empty .dat is created with these parameters. */
  create?: VolumeCreateParams;
  /** Where the data file of a remote-tiered volume is opened; default the process-wide registry. */
  backends?: BackendRegistry;
}

export interface WriteOptions {
  /** Acknowledge only after the .dat (and .idx) are fsynced; such writes are batched. */
  fsync?: boolean;
  /**
   * Check the request cookie against an existing needle (default true). With false and cookie 0,
   * the existing cookie is adopted (internal replays).
   */
  checkCookie?: boolean;
}

export interface WriteResult {
  /** Byte offset of the record in the .dat (the existing one when unchanged). */
  offset: number;
  /** Header Size of the record (body length for v2/v3). */
  size: Size;
  /** Data bytes of the needle. */
  dataSize: number;
  /** Same cookie and data as the stored needle: nothing was written (Go's isFileUnchanged). */
  unchanged: boolean;
}

export interface ReadOptions {
  /** If given, the stored cookie must match (else CookieMismatchError). */
  cookie?: Cookie;
  /** Read a deleted needle's old record (until vacuum), as Go's ReadOption.ReadDeleted. */
  readDeleted?: boolean;
}

/** Heartbeat / status fields of a volume (master_pb.VolumeInformationMessage names). */
export interface VolumeInformationFields {
  id: number;
  size: number;
  collection: string;
  file_count: number;
  delete_count: number;
  deleted_byte_count: number;
  read_only: boolean;
  replica_placement: number;
  version: number;
  ttl: number;
  compact_revision: number;
  modified_at_second: number;
  remote_storage_name: string;
  remote_storage_key: string;
  disk_type: string;
  disk_id: number;
}

/** The data of a needle written from a file (writeFromFile): the whole file, nothing else. */
export interface FileDataSource {
  /** Path of a file holding exactly the data bytes. */
  path: string;
  /** Its length in bytes. */
  dataSize: number;
  /** Raw CRC-32C of the data; the copy into the .dat is verified against it. */
  checksum: number;
}

/** Wall-clock unix nanoseconds (ms from Date.now(), sub-ms digits from the monotonic clock). */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}
