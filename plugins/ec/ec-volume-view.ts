// The EC volume `vid` of this server as core's EcVolumeAccess (core/storage/ec-volume-access.ts):
// the mounted shards of every disk merged (Go mounts a split volume once per disk, and its readers
// look across all of them: weed/storage/store_ec.go), the index of the first disk that has one.
import type { EcNeedleLocation, EcReadOptions, EcVolumeAccess, LocalEcShard } from '../../core/storage/ec-volume-access.js';
import type { EcShard, EcVolume } from './ec-volume.js';

export class EcVolumeView implements EcVolumeAccess {
  /** `disks` in location order, each holding some shards of the one volume. */
  constructor(private readonly disks: EcVolume[]) {
    if (disks.length === 0) throw new Error('an EC volume view needs at least one disk');
  }

  private get first(): EcVolume {
    return this.disks[0];
  }

  get id(): number {
    return this.first.id;
  }
  get collection(): string {
    return this.first.collection;
  }
  get version(): number {
    return this.first.meta.version;
  }
  get dataShards(): number {
    return this.first.meta.dataShards;
  }
  get parityShards(): number {
    return this.first.meta.parityShards;
  }
  get datFileSize(): number {
    return this.first.meta.datFileSize;
  }
  get blockSize(): number {
    return this.first.meta.blockSize;
  }
  get expireAtSec(): number {
    return this.first.meta.expireAtSec;
  }
  get indexBase(): string {
    return this.first.indexBase;
  }

  /** The shard files of the volume across disks (the first disk's copy when two hold one id). */
  shardMap(): Map<number, { ev: EcVolume; shard: EcShard }> {
    const m = new Map<number, { ev: EcVolume; shard: EcShard }>();
    for (const ev of this.disks) for (const s of ev.sortedShards()) if (!m.has(s.shardId)) m.set(s.shardId, { ev, shard: s });
    return m;
  }

  localShards(): LocalEcShard[] {
    return [...this.shardMap().values()]
      .map(({ ev, shard }) => ({ shardId: shard.shardId, path: shard.path, size: shard.size, diskId: ev.loc.diskId }))
      .sort((a, b) => a.shardId - b.shardId);
  }

  findNeedle(id: bigint): Promise<EcNeedleLocation | undefined> {
    return this.first.findNeedle(id);
  }

  walkIndex(fn: (id: bigint, offset: number, size: number) => void): Promise<void> {
    return this.first.walkIndex(fn);
  }

  isDeleted(id: bigint): boolean {
    return this.first.isJournalled(id);
  }

  /** Local shards only so far: an interval of a shard not mounted here is an error. */
  async readDat(offset: number, length: number, opts: EcReadOptions = {}): Promise<Buffer> {
    opts.signal?.throwIfAborted();
    const shards = this.shardMap();
    const out = Buffer.allocUnsafe(length);
    let at = 0;
    for (const iv of this.first.locate(offset, length)) {
      const local = shards.get(iv.shardId);
      if (!local) throw new Error(`ec volume ${this.id}: shard ${iv.shardId} is not mounted here`);
      const { bytesRead } = await local.shard.fh.read(out, at, iv.size, iv.offset);
      if (bytesRead !== iv.size) throw new Error(`ec volume ${this.id}: short read of shard ${iv.shardId} at ${iv.offset}: ${bytesRead} of ${iv.size} bytes`);
      at += iv.size;
    }
    return out;
  }

  /** Journals locally only so far. */
  async deleteNeedle(id: bigint): Promise<void> {
    await this.first.journalDelete(id);
  }
}
