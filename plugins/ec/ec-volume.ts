// One EC volume on one disk location (Go's erasure_coding.EcVolume, ec_volume.go): the shards of it
// mounted from that disk, its sorted index (.ecx, searched on disk), its deletion journal (.ecj,
// loaded into a set) and the layout and generation read from its .vif.
import { existsSync, readSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { DiskLocation } from '../../core/storage/disk-location.js';
import { ecShardExt } from '../../core/storage/ec-placement.js';
import type { EcShardInformation, EcVolumeStatus } from '../../core/storage/contributions.js';
import { readIdxEntry } from '../../core/storage/idx.js';
import { indexEntrySize, readU64, TOMBSTONE_FILE_SIZE, writeU64, type OffsetWidth } from '../../core/storage/types.js';
import { loadVolumeInfo } from '../../core/storage/volume-info.js';
import { volumeFileName } from '../../core/storage/volume-files.js';
import { blockLayout, locateData, type BlockLayout, type ShardInterval } from './codec/layout.js';

export const DEFAULT_DATA_SHARDS = 10;
export const DEFAULT_PARITY_SHARDS = 4;
export const MAX_SHARD_COUNT = 32;
/** Top levels of the .ecx binary search whose ids an EcVolume keeps (2^12 nodes, 36 KiB). */
const SEARCH_CACHE_NODES = 1 << 12;

/** Go's erasure_coding.NotFoundError text. */
export const NEEDLE_NOT_FOUND = 'needle not found';

export interface EcShard {
  shardId: number;
  path: string;
  size: number;
  fh: FileHandle;
}

/** The EC ratio, layout and identity a .vif records (defaults when it has none). */
export interface EcVolumeMeta {
  version: number;
  dataShards: number;
  parityShards: number;
  /** 0 = legacy two-tier layout. */
  blockSize: number;
  datFileSize: number;
  expireAtSec: number;
  encodeTsNs: bigint;
}

function numberField(v: unknown): number {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : 0;
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Reads an EC volume's .vif; a missing one is version 3, 10+4, legacy layout (Go's NewEcVolume). */
export async function readEcMeta(vifPath: string): Promise<EcVolumeMeta> {
  const { info, exists, error } = await loadVolumeInfo(vifPath);
  if (error) throw error;
  const meta: EcVolumeMeta = {
    version: exists && info.version > 0 ? info.version : 3,
    dataShards: DEFAULT_DATA_SHARDS,
    parityShards: DEFAULT_PARITY_SHARDS,
    blockSize: 0,
    datFileSize: exists ? info.datFileSize : 0,
    expireAtSec: exists ? info.expireAtSec : 0,
    encodeTsNs: 0n,
  };
  const cfg = info.ecShardConfig;
  if (cfg) {
    const d = cfg.dataShards;
    const p = cfg.parityShards;
    if (d > 0 && p > 0 && d + p <= MAX_SHARD_COUNT) {
      meta.dataShards = d;
      meta.parityShards = p;
    }
    meta.encodeTsNs = cfg.encodeTsNs;
    const bs = numberField(cfg.unknown?.blockSize ?? cfg.unknown?.block_size);
    // Go's ValidateBlockSize: anything but whole MiB would map reads to the wrong offsets.
    if (bs % (1024 * 1024) !== 0) throw new Error(`invalid shard block size ${bs}: expected 0 (legacy) or a multiple of 1048576`);
    meta.blockSize = bs;
  }
  return meta;
}

/** Where an EC volume's index files live: the index dir when its .ecx is there, else the data dir. */
export function ecIndexBase(loc: DiskLocation, collection: string, vid: number): string {
  const idxBase = volumeFileName(loc.idxDirectory, collection, vid);
  if (loc.idxDirectory !== loc.directory && existsSync(idxBase + '.ecx')) return idxBase;
  const dataBase = volumeFileName(loc.directory, collection, vid);
  if (existsSync(dataBase + '.ecx')) return dataBase;
  return idxBase;
}

export class EcVolume {
  readonly shards = new Map<number, EcShard>();
  private readonly deleted = new Set<bigint>();
  private ecxSize = 0;
  private closed = false;
  /** One .ecx entry, for the synchronous search (never shared across an await). */
  private entryBuf = Buffer.allocUnsafe(0);
  /** Ids at the top nodes of the .ecx binary search, filled as searches pass them. */
  private readonly searchCache = { ids: new BigUint64Array(SEARCH_CACHE_NODES), known: new Uint8Array(SEARCH_CACHE_NODES) };

  private constructor(
    readonly loc: DiskLocation,
    readonly collection: string,
    readonly id: number,
    readonly dataBase: string,
    /** Base path of the .ecx/.ecj. */
    readonly indexBase: string,
    readonly meta: EcVolumeMeta,
    private readonly width: OffsetWidth,
    private ecx: FileHandle,
    /** Disk type reported for this volume (a mount's source_disk_type, else the disk's). */
    public diskType: string,
  ) {}

  /** Opens the .ecx at `ecxBase` (any disk), loads the .ecj next to it and the .vif of `loc`. */
  static async open(loc: DiskLocation, collection: string, id: number, ecxBase: string, width: OffsetWidth, diskType: string): Promise<EcVolume> {
    const dataBase = volumeFileName(loc.directory, collection, id);
    let vifPath = dataBase + '.vif';
    if (!existsSync(vifPath) && existsSync(ecxBase + '.vif')) vifPath = ecxBase + '.vif';
    const meta = await readEcMeta(vifPath);
    const ecx = await open(ecxBase + '.ecx', 'r');
    try {
      const v = new EcVolume(loc, collection, id, dataBase, ecxBase, meta, width, ecx, diskType);
      v.entryBuf = Buffer.allocUnsafe(indexEntrySize(width));
      v.ecxSize = (await ecx.stat()).size;
      await v.loadJournal();
      return v;
    } catch (e) {
      await ecx.close().catch(() => undefined);
      throw e;
    }
  }

  private async loadJournal(): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(this.indexBase + '.ecj', 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.allocUnsafe(64 * 1024);
      let pos = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        // A partial trailing record (a torn append) is ignored.
        const whole = bytesRead - (bytesRead % 8);
        for (let i = 0; i < whole; i += 8) this.deleted.add(readU64(buf, i));
        if (bytesRead < buf.length) break;
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }

  get entrySize(): number {
    return indexEntrySize(this.width);
  }

  get fileCount(): number {
    return Math.floor(this.ecxSize / this.entrySize);
  }

  /** Whether `id` is in the .ecj journal. */
  isJournalled(id: bigint): boolean {
    return this.deleted.has(id);
  }

  get deleteCount(): number {
    return this.deleted.size;
  }

  async addShard(shardId: number): Promise<boolean> {
    if (this.shards.has(shardId)) return false;
    const path = this.dataBase + ecShardExt(shardId);
    const fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    this.shards.set(shardId, { shardId, path, size, fh });
    return true;
  }

  async removeShard(shardId: number): Promise<boolean> {
    const s = this.shards.get(shardId);
    if (!s) return false;
    this.shards.delete(shardId);
    await s.fh.close().catch(() => undefined);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.shards.keys()]) await this.removeShard(id);
    await this.ecx.close().catch(() => undefined);
  }

  /** Binary search of the .ecx (Go's SearchNeedleFromSortedIndex); size −1 for a journalled delete. */
  async findNeedle(id: bigint): Promise<{ offset: number; size: number } | undefined> {
    return this.findNeedleSync(id);
  }

  /**
   * findNeedle with synchronous preads: a search is ~log2(entries) reads of page-cached bytes, and
   * one async read costs more CPU in thread-pool hand-offs than all of them. The ids at the top
   * SEARCH_CACHE_NODES nodes of the search tree are remembered (the ids of a mounted .ecx never
   * change: rebuildEcxFile only rewrites sizes), so a search reads only its deeper steps and the
   * entry it finds, always from disk.
   */
  findNeedleSync(id: bigint): { offset: number; size: number } | undefined {
    if (this.closed) throw new Error(`ec volume ${this.id}: closed`);
    const buf = this.entryBuf;
    const cache = this.searchCache;
    let lo = 0;
    let hi = this.fileCount;
    let node = 1; // position in the implicit search tree: children 2n and 2n+1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let midId: bigint;
      let inBuf = false;
      if (node < SEARCH_CACHE_NODES && cache.known[node] === 1) midId = cache.ids[node];
      else {
        this.readEntrySync(buf, mid);
        inBuf = true;
        midId = readU64(buf, 0);
        if (node < SEARCH_CACHE_NODES) {
          cache.ids[node] = midId;
          cache.known[node] = 1;
        }
      }
      if (midId === id) {
        if (!inBuf) this.readEntrySync(buf, mid);
        const e = readIdxEntry(buf, 0, this.width);
        const size = this.deleted.has(id) ? TOMBSTONE_FILE_SIZE : e.size;
        return { offset: e.offset, size };
      }
      if (midId < id) {
        lo = mid + 1;
        node = 2 * node + 1;
      } else {
        hi = mid;
        node = 2 * node;
      }
    }
    return undefined;
  }

  private readEntrySync(buf: Buffer, entry: number): void {
    const es = buf.length;
    const got = readSync(this.ecx.fd, buf, 0, es, entry * es);
    if (got !== es) throw new Error(`read ecx entry ${entry}: short read`);
  }

  /** Every .ecx row (Go's WalkIndex), as stored (journalled deletes not applied). */
  async walkIndex(fn: (id: bigint, offset: number, size: number) => void): Promise<void> {
    const es = this.entrySize;
    const rows = 4096;
    const buf = Buffer.allocUnsafe(es * rows);
    for (let pos = 0; pos + es <= this.ecxSize; ) {
      const want = Math.min(buf.length, Math.floor((this.ecxSize - pos) / es) * es);
      const { bytesRead } = await this.ecx.read(buf, 0, want, pos);
      if (bytesRead < es) break;
      const whole = bytesRead - (bytesRead % es);
      for (let i = 0; i < whole; i += es) {
        const e = readIdxEntry(buf, i, this.width);
        fn(e.id, e.offset, e.size);
      }
      pos += whole;
    }
  }

  /** Go's DeleteNeedleFromEcx: journal the id (fsynced), then remember it. */
  async journalDelete(id: bigint): Promise<void> {
    if (this.deleted.has(id)) return;
    const path = this.indexBase + '.ecj';
    const fh = await open(path, 'a', 0o644);
    let before = 0;
    try {
      before = (await fh.stat()).size;
      const rec = Buffer.alloc(8);
      writeU64(rec, 0, id);
      await fh.write(rec, 0, 8);
      await fh.sync();
    } catch (e) {
      // An append that did not land whole must not leave a torn record behind.
      await fh.truncate(before).catch(() => undefined);
      throw e;
    } finally {
      await fh.close();
    }
    this.deleted.add(id);
  }

  layout(): BlockLayout {
    return blockLayout(this.meta.blockSize);
  }

  /** Go's LocateEcShardNeedleInterval: the shard intervals of a needle record of `length` bytes. */
  locate(offset: number, length: number): ShardInterval[] {
    let shardDatSize: number;
    if (this.meta.datFileSize > 0) shardDatSize = Math.floor(this.meta.datFileSize / this.meta.dataShards);
    else {
      const any = this.shards.values().next().value as EcShard | undefined;
      shardDatSize = any ? any.size - 1 : 0;
    }
    return locateData(this.layout(), shardDatSize, offset, length);
  }

  isExpired(nowSec = Date.now() / 1000): boolean {
    return this.meta.expireAtSec > 0 && nowSec > this.meta.expireAtSec;
  }

  sortedShards(): EcShard[] {
    return [...this.shards.values()].sort((a, b) => a.shardId - b.shardId);
  }

  /** master_pb.VolumeEcShardInformationMessage for `shards` (default all mounted) of this disk. */
  information(shards: EcShard[] = this.sortedShards()): EcShardInformation {
    let bits = 0;
    for (const s of shards) bits |= 1 << s.shardId;
    return {
      id: this.id,
      collection: this.collection,
      ec_index_bits: bits >>> 0,
      shard_sizes: shards.map((s) => String(s.size)),
      disk_type: this.diskType,
      expire_at_sec: String(this.meta.expireAtSec),
      disk_id: this.loc.diskId,
      file_count: String(this.fileCount),
      delete_count: String(this.deleted.size),
      encode_ts_ns: this.meta.encodeTsNs.toString(),
    };
  }

  status(): EcVolumeStatus {
    return {
      VolumeId: this.id,
      Collection: this.collection,
      Shards: this.sortedShards().map((s) => ({ VolumeId: this.id, ShardId: s.shardId, Collection: this.collection, DiskType: this.diskType })),
      Version: this.meta.version,
      ExpireAtSec: this.meta.expireAtSec,
      EncodeTsNs: Number(this.meta.encodeTsNs),
    };
  }
}

/** Size of a file, or -1 when missing. */
export function fileSizeOrMissing(path: string): number {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : -1;
  } catch {
    return -1;
  }
}
