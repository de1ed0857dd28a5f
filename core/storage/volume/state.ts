// A volume's state and counters (Go: weed/storage/volume.go): its files, needle map, sizes,
// read-only marks and the append clock, with the read-only accessors that heartbeats, status and
// vacuum use. Loading fills it (adopt); the layers above read and append through it.
import type { FileHandle } from 'node:fs/promises';
import { AsyncMutex } from '../async-mutex.js';
import { hasSyncIo, type BackendStorageFile, type SyncBackendStorageFile } from '../backend/backend-file.js';
import type { NeedleMap } from '../needle-map.js';
import { VolumeClosedError, VolumeInfoError, VolumeReadOnlyError } from '../storage-errors.js';
import { SUPER_BLOCK_SIZE, type SuperBlock } from '../super-block.js';
import { indexEntrySize, maxPossibleVolumeSize, type OffsetWidth, type ReplicaPlacement, type Ttl, type Version } from '../types.js';
import { emptyVolumeInfo, saveVolumeInfo, type VolumeInfo } from '../volume-info.js';
import { INDEX_DIR_EXTENSIONS, volumeFileName } from '../volume-files.js';
import type { LoadedVolume } from './loading.js';
import type { VolumeInformationFields, VolumeOpenOptions } from './options.js';

export class VolumeState {
  readonly id: number;
  readonly collection: string;
  readonly dir: string;
  /** Index directory actually used (Go falls back to the data dir when the .idx lives there). */
  idxDir: string;
  readonly offsetWidth: OffsetWidth;
  /** Go's MaxPossibleVolumeSize for this offset width: no record may start at or past it. */
  protected readonly maxVolumeSize: number;

  superBlock!: SuperBlock;
  volumeInfo: VolumeInfo = emptyVolumeInfo();
  /** Disk type / id of the location holding this volume (set by the disk location). */
  diskType = '';
  diskId = 0;
  /** Set by the disk location while its free space is below -minFreeSpace. */
  locationLowSpace = false;

  /** The data file; reads and appends go through it, never through a raw descriptor. */
  protected dat: BackendStorageFile | null = null;
  /** The same file when it offers synchronous I/O (the local disk), for the small-record fast paths. */
  protected datSync: SyncBackendStorageFile | null = null;
  protected idx: FileHandle | null = null;
  protected nm!: NeedleMap;
  protected datSize = 0;
  protected idxSize = 0;
  protected datMtimeMs = 0;
  protected hasVif = false;

  protected noWriteOrDelete = false;
  /** The .dat or .idx could only be opened read-only (permissions, read-only mount). */
  protected filesReadOnly = false;
  protected noWriteCanDelete = false;
  /** Go's hasRemoteFile: the .dat is a tiered remote object (never written; deletes touch the .idx only). */
  protected hasRemoteFile = false;
  /** Why the volume became read-only (load-time checks or a runtime failure), for logs and status. */
  readOnlyReason = '';

  protected lastAppendAtNs = 0n;
  /** Go's lastModifiedTsSeconds: max LastModified of writes, initially the .dat mtime. */
  lastModifiedTsSeconds = 0;

  /** Serialises writes, deletes and compaction steps; reads never take it. */
  protected readonly lock = new AsyncMutex();
  /** One reusable .idx row buffer (appends are serialised). */
  protected readonly idxRow: Buffer;
  protected closed = false;

  protected constructor(o: VolumeOpenOptions) {
    this.id = o.id >>> 0;
    this.collection = o.collection;
    this.dir = o.dir;
    this.idxDir = o.idxDir ?? o.dir;
    this.offsetWidth = o.offsetWidth ?? 4;
    this.maxVolumeSize = maxPossibleVolumeSize(this.offsetWidth);
    this.idxRow = Buffer.alloc(indexEntrySize(this.offsetWidth));
  }

  /**
   * Takes over what loading found, in one synchronous step. With `keepRuntime` (a reload after
   * compaction) the read-only marks and the write clock already held are kept.
   */
  protected adopt(l: LoadedVolume, keepRuntime: boolean): void {
    this.dat = l.dat;
    this.datSync = hasSyncIo(l.dat) ? l.dat : null;
    this.idx = l.idx;
    this.nm = l.nm;
    this.datSize = l.datSize;
    this.idxSize = l.idxSize;
    this.datMtimeMs = l.datMtimeMs;
    this.superBlock = l.superBlock;
    this.volumeInfo = l.volumeInfo;
    this.hasVif = l.hasVif;
    this.idxDir = l.idxDir;
    this.hasRemoteFile = l.hasRemoteFile;
    if (!keepRuntime) {
      this.noWriteOrDelete = l.noWriteOrDelete;
      this.noWriteCanDelete = l.noWriteCanDelete;
      this.filesReadOnly = l.filesReadOnly;
      this.readOnlyReason = l.readOnlyReason;
      this.lastAppendAtNs = l.lastAppendAtNs;
      this.lastModifiedTsSeconds = l.lastModifiedTsSeconds;
      return;
    }
    if (l.lastAppendAtNs > this.lastAppendAtNs) this.lastAppendAtNs = l.lastAppendAtNs;
    if (l.lastModifiedTsSeconds > this.lastModifiedTsSeconds) this.lastModifiedTsSeconds = l.lastModifiedTsSeconds;
    if (l.filesReadOnly) {
      this.filesReadOnly = true;
      this.noWriteOrDelete = true;
    }
    if (l.readOnlyReason) this.addReadOnlyReason(l.readOnlyReason);
  }

  // ------------------------------------------------------------------ names

  /** Path of a volume file; index-side extensions go to the index dir. */
  fileName(ext: string): string {
    const dir = INDEX_DIR_EXTENSIONS.has(ext) ? this.idxDir : this.dir;
    return volumeFileName(dir, this.collection, this.id) + ext;
  }

  get version(): Version {
    return this.superBlock.version;
  }

  get ttl(): Ttl {
    return this.superBlock.ttl;
  }

  get replicaPlacement(): ReplicaPlacement {
    return this.superBlock.replicaPlacement;
  }

  // ------------------------------------------------------------------ read-only marks

  /**
   * A runtime failure left the volume's files in doubt (a failed fsync rollback, an index append
   * or sync that failed, a failed compaction commit): no more writes or deletes until reloaded.
   */
  protected markFailed(reason: string): void {
    this.addReadOnlyReason(reason);
  }

  private addReadOnlyReason(reason: string): void {
    this.noWriteOrDelete = true;
    this.readOnlyReason = this.readOnlyReason ? `${this.readOnlyReason}; ${reason}` : reason;
  }

  protected assertOpen(): void {
    if (this.closed || !this.dat || !this.idx) throw new VolumeClosedError(this.id);
  }

  /** Writes refused (heartbeat read_only). */
  isReadOnly(): boolean {
    return this.noWriteOrDelete || this.noWriteCanDelete || this.locationLowSpace;
  }

  /** Deletes refused (only noWriteOrDelete blocks deletes). */
  isNoWriteOrDelete(): boolean {
    return this.noWriteOrDelete;
  }

  readOnlyReasons(): { readOnly: boolean; noWriteOrDelete: boolean; noWriteCanDelete: boolean; diskSpaceLow: boolean } {
    return {
      readOnly: this.isReadOnly(),
      noWriteOrDelete: this.noWriteOrDelete,
      noWriteCanDelete: this.noWriteCanDelete,
      diskSpaceLow: this.locationLowSpace,
    };
  }

  /** Go's PersistReadOnly: record the mark in the .vif. */
  async persistReadOnly(readOnly: boolean, canDelete: boolean): Promise<void> {
    const prev = [this.volumeInfo.readOnly, this.volumeInfo.readOnlyCanDelete] as const;
    this.volumeInfo.readOnly = readOnly;
    this.volumeInfo.readOnlyCanDelete = readOnly && canDelete;
    try {
      await saveVolumeInfo(this.fileName('.vif'), this.volumeInfo);
      this.hasVif = true;
    } catch (e) {
      [this.volumeInfo.readOnly, this.volumeInfo.readOnlyCanDelete] = prev;
      throw new VolumeInfoError(`persist volume read-only state: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Go's Store.MarkVolumeReadonly for this volume. */
  async markReadOnly(canDelete = false, persist = false): Promise<void> {
    await this.lock.run(async () => {
      const prev = [this.noWriteOrDelete, this.noWriteCanDelete] as const;
      this.noWriteOrDelete = !canDelete;
      this.noWriteCanDelete = canDelete;
      if (persist) {
        try {
          await this.persistReadOnly(true, canDelete);
        } catch (e) {
          [this.noWriteOrDelete, this.noWriteCanDelete] = prev;
          throw e;
        }
      }
    });
  }

  /** Go's Store.MarkVolumeWritable for this volume (always persisted). */
  async markWritable(): Promise<void> {
    await this.lock.run(async () => {
      // a volume whose files could only be opened read-only cannot become writable
      if (this.filesReadOnly) throw new VolumeReadOnlyError(this.id);
      const prev = [this.noWriteOrDelete, this.noWriteCanDelete] as const;
      this.noWriteOrDelete = false;
      this.noWriteCanDelete = false;
      try {
        await this.persistReadOnly(false, false);
      } catch (e) {
        [this.noWriteOrDelete, this.noWriteCanDelete] = prev;
        throw e;
      }
    });
  }

  // ------------------------------------------------------------------ counters

  /** Size of the .dat in bytes (what heartbeats report as `size`). */
  datFileSize(): number {
    return this.datSize;
  }

  /**
   * The data file's size as the backend reports it now (Go's DataBackend.GetStat), which differs
   * from datFileSize() when the file was changed behind the volume's back: what a scrub checks.
   */
  async dataFileStat(): Promise<{ size: number; mtimeMs: number }> {
    this.assertOpen();
    return this.dat!.stat();
  }

  idxFileSize(): number {
    return this.idxSize;
  }

  /** The master's "full": the .dat reached the size limit it sent (0 = unknown). */
  isFull(volumeSizeLimit: number): boolean {
    return volumeSizeLimit > 0 && this.datSize >= volumeSizeLimit;
  }

  fileCount(): number {
    return this.nm.fileCount;
  }
  deletedCount(): number {
    return this.nm.deletedCount;
  }
  deletedSize(): number {
    return this.nm.deletedBytes;
  }
  /** Go's ContentSize(): sum of all put sizes (what /status shows as Size). */
  contentSize(): number {
    return this.nm.fileBytes;
  }
  maxFileKey(): bigint {
    return this.nm.maxFileKey();
  }
  /** .dat modification time, unix seconds. */
  modifiedAtSecond(): number {
    return Math.floor(this.datMtimeMs / 1000);
  }

  isEmpty(): boolean {
    return this.datSize <= SUPER_BLOCK_SIZE && this.nm.fileBytes === 0;
  }

  isGarbage(): boolean {
    const c = this.nm.fileBytes;
    return c > 0 && this.nm.deletedBytes >= c;
  }

  /** Go's Volume.expired (TTL volumes). */
  expired(volumeSizeLimit: number, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
    if (volumeSizeLimit === 0) return false;
    if (this.datSize <= SUPER_BLOCK_SIZE) return false;
    const ttlMinutes = this.ttl.minutes();
    if (ttlMinutes === 0) return false;
    const livedMinutes = Math.trunc((nowSeconds - this.lastModifiedTsSeconds) / 60);
    return ttlMinutes < livedMinutes;
  }

  /** Go's Volume.expiredLongEnough. */
  expiredLongEnough(maxDelayMinutes: number, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
    const ttlMinutes = this.ttl.minutes();
    if (ttlMinutes === 0) return false;
    const removalDelay = Math.min(Math.floor(ttlMinutes / 10), maxDelayMinutes);
    return (ttlMinutes + removalDelay) * 60 + this.lastModifiedTsSeconds < nowSeconds;
  }

  /** Heartbeat / status fields (a tiered volume names its remote file, as Go's ToVolumeInformationMessage). */
  information(): VolumeInformationFields {
    const remote = this.volumeInfo.files[0];
    return {
      id: this.id,
      size: this.datSize,
      collection: this.collection,
      file_count: this.nm.fileCount,
      delete_count: this.nm.deletedCount,
      deleted_byte_count: this.nm.deletedBytes,
      read_only: this.isReadOnly(),
      replica_placement: this.replicaPlacement.toByte(),
      version: this.version,
      ttl: this.ttl.toUint32(),
      compact_revision: this.superBlock.compactionRevision,
      modified_at_second: this.modifiedAtSecond(),
      remote_storage_name: remote ? `${remote.backendType}.${remote.backendId}` : '',
      remote_storage_key: remote ? remote.key : '',
      disk_type: this.diskType,
      disk_id: this.diskId,
    };
  }

  /** The needle map (read access for vacuum, sync and status code). */
  needleMap(): NeedleMap {
    return this.nm;
  }
}
