// The EC volumes this server has mounted, per disk location (Go keeps them in each DiskLocation's
// ecVolumes, weed/storage/store_ec.go and disk_location_ec.go): mounting and unmounting shards,
// the deltas and reports the master and /status see (through core's contributions registry) and
// the startup load of the shards found on disk.
import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Contributions, EcShardInformation, FamilyContributor } from '../../core/storage/contributions.js';
import type { DiskLocation } from '../../core/storage/disk-location.js';
import { ecShardExt, hasEcxFileOnDisk } from '../../core/storage/ec-placement.js';
import type { OffsetWidth } from '../../core/storage/types.js';
import { parseVolumeBaseName, volumeFileName } from '../../core/storage/volume-files.js';
import { removeEcsumFiles } from './ec-files.js';
import { EcVolumeView, type EcServeContext } from './ec-volume-view.js';
import { RecoverBudget } from './remote/recover-budget.js';
import { uniformBlockSize } from './codec/layout.js';
import { DEFAULT_DATA_SHARDS, ecIndexBase, EcVolume, fileSizeOrMissing, MAX_SHARD_COUNT, readEcMeta, type EcShard } from './ec-volume.js';

const EC_FILE = /^(.+)\.(ec\d{2,3}|ecx|ecj)$/;

function ownsEcFile(name: string): boolean {
  return EC_FILE.test(name);
}

/** Size of the regular volume's .dat beside EC files of `loc` when it holds more than a super block, else 0. */
function datNextTo(loc: DiskLocation, collection: string, vid: number): number {
  const size = fileSizeOrMissing(volumeFileName(loc.directory, collection, vid) + '.dat');
  return size > 8 ? size : 0;
}

/**
 * Go's validateEcVolume: with a .dat beside them, EC files whose shards are smaller than a full
 * encode of that .dat are an interrupted encode (the .dat is the volume). Shards of unequal sizes
 * or no .dat: kept.
 */
async function ecFilesComplete(loc: DiskLocation, collection: string, vid: number): Promise<boolean> {
  const datSize = datNextTo(loc, collection, vid);
  if (datSize === 0) return true;
  const dataBase = volumeFileName(loc.directory, collection, vid);
  let dataShards = DEFAULT_DATA_SHARDS;
  try {
    dataShards = (await readEcMeta(dataBase + '.vif')).dataShards;
  } catch {
    // an unreadable .vif: the default ratio
  }
  let actual = -1;
  for (let i = 0; i < MAX_SHARD_COUNT; i++) {
    const size = fileSizeOrMissing(dataBase + ecShardExt(i));
    if (size <= 0) continue;
    if (actual >= 0 && size !== actual) return true;
    actual = size;
  }
  if (actual < 0) return false;
  return actual >= uniformBlockSize(datSize, dataShards);
}

/** Go's removeEcVolumeFiles: the shards and EC index files of one disk (the .vif is the volume's). */
async function removeEcFilesOn(loc: DiskLocation, collection: string, vid: number): Promise<void> {
  const dataBase = volumeFileName(loc.directory, collection, vid);
  for (let i = 0; i < MAX_SHARD_COUNT; i++) await rm(dataBase + ecShardExt(i), { force: true });
  for (const base of new Set([dataBase, volumeFileName(loc.idxDirectory, collection, vid)])) {
    await rm(base + '.ecx', { force: true });
    await rm(base + '.ecj', { force: true });
    await removeEcsumFiles(base);
  }
}

export class EcStore {
  private readonly byLocation = new Map<DiskLocation, Map<number, EcVolume>>();
  /** Mount and unmount of one volume id run one at a time. */
  private chain: Promise<unknown> = Promise.resolve();
  /** What the views handed to other families use to reach peers (peers set when the family starts). */
  readonly serve: EcServeContext;

  constructor(
    readonly locations: readonly DiskLocation[],
    private readonly contributions: Contributions,
    private readonly width: OffsetWidth,
    private readonly log: Logger,
  ) {
    this.serve = { budget: new RecoverBudget(), log };
  }

  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private volumesOn(loc: DiskLocation): Map<number, EcVolume> {
    let m = this.byLocation.get(loc);
    if (!m) {
      m = new Map();
      this.byLocation.set(loc, m);
    }
    return m;
  }

  /** The EC volume `vid` on `loc`, if mounted there. */
  find(loc: DiskLocation, vid: number): EcVolume | undefined {
    return this.byLocation.get(loc)?.get(vid);
  }

  /** Every disk's EC volume of `vid`, in location order. */
  findAll(vid: number): EcVolume[] {
    const out: EcVolume[] = [];
    for (const loc of this.locations) {
      const v = this.find(loc, vid);
      if (v) out.push(v);
    }
    return out;
  }

  /** Go's FindEcVolumeWithShard: the volume and shard on the disk that holds the shard. */
  findShard(vid: number, shardId: number): { ev: EcVolume; shard: EcShard } | undefined {
    for (const ev of this.findAll(vid)) {
      const shard = ev.shards.get(shardId);
      if (shard) return { ev, shard };
    }
    return undefined;
  }

  /** Go's findEcxIdxDirForVolume: the base of a non-empty .ecx of the volume on any disk. */
  private findEcxBase(collection: string, vid: number): string | undefined {
    for (const loc of this.locations) {
      if (hasEcxFileOnDisk(loc, collection, vid)) return ecIndexBase(loc, collection, vid);
    }
    return undefined;
  }

  /**
   * Go's Store.MountEcShards: mounts shard `shardId` from the first disk holding its file, using
   * the .ecx found on any disk, and announces it to the master.
   */
  mountShard(collection: string, vid: number, shardId: number, sourceDiskType = ''): Promise<void> {
    return this.serial(async () => {
      const ecxBase = this.findEcxBase(collection, vid);
      for (const loc of this.locations) {
        const path = volumeFileName(loc.directory, collection, vid) + ecShardExt(shardId);
        if (fileSizeOrMissing(path) <= 0) continue;
        // No non-empty .ecx anywhere: a disk's own empty one (a volume without live needles) still serves.
        const own = ecIndexBase(loc, collection, vid);
        const base = ecxBase ?? (fileSizeOrMissing(own + '.ecx') >= 0 ? own : undefined);
        if (!base) continue;
        const ev = await this.openOn(loc, collection, vid, base);
        if (sourceDiskType) ev.diskType = sourceDiskType.toLowerCase() === 'hdd' ? '' : sourceDiskType;
        await ev.addShard(shardId);
        const s = ev.shards.get(shardId)!;
        this.contributions.announceEcShardsAdded([ev.information([s])]);
        return;
      }
      if (!ecxBase) throw new Error(`MountEcShards ${vid}.${shardId}: no .ecx index found on any local disk`);
      throw new Error(`MountEcShards ${vid}.${shardId} not found on disk`);
    });
  }

  private async openOn(loc: DiskLocation, collection: string, vid: number, ecxBase: string): Promise<EcVolume> {
    const m = this.volumesOn(loc);
    let ev = m.get(vid);
    if (!ev) {
      // This disk's own .ecx when it has one, else the sibling's (Go's LoadEcShardAcrossDisks).
      const own = ecIndexBase(loc, collection, vid);
      const base = hasEcxFileOnDisk(loc, collection, vid) || fileSizeOrMissing(own + '.ecx') >= 0 ? own : ecxBase;
      ev = await EcVolume.open(loc, collection, vid, base, this.width, loc.diskType);
      m.set(vid, ev);
    }
    return ev;
  }

  /**
   * Go's Store.UnmountEcShards: unmounts the shard on every disk holding it (a generation-fenced
   * request only where the disk's generation is known and older). Not mounted is not an error.
   */
  unmountShard(vid: number, shardId: number, encodeTsNs = 0n): Promise<void> {
    return this.serial(async () => {
      for (const loc of this.locations) {
        const ev = this.find(loc, vid);
        const shard = ev?.shards.get(shardId);
        if (!ev || !shard) continue;
        const gen = ev.meta.encodeTsNs;
        if (encodeTsNs > 0n && !(gen > 0n && gen < encodeTsNs)) continue;
        const info = ev.information([shard]);
        info.shard_sizes = ['0'];
        info.file_count = '0';
        info.delete_count = '0';
        info.expire_at_sec = '0';
        await ev.removeShard(shardId);
        if (ev.shards.size === 0) {
          this.volumesOn(loc).delete(vid);
          await ev.close();
        }
        this.contributions.announceEcShardsRemoved([info]);
      }
    });
  }

  /** Go's UnloadEcVolume: closes every disk's EC volume `vid`, telling the master. */
  async unloadVolume(vid: number): Promise<void> {
    for (const loc of this.locations) await this.unloadOn(loc, vid);
  }

  async unloadOn(loc: DiskLocation, vid: number): Promise<void> {
    const ev = this.find(loc, vid);
    if (!ev) return;
    this.volumesOn(loc).delete(vid);
    const info = ev.information();
    await ev.close();
    if (info.ec_index_bits !== 0) this.contributions.announceEcShardsRemoved([info]);
  }

  async closeAll(): Promise<void> {
    for (const m of this.byLocation.values()) {
      for (const ev of m.values()) await ev.close();
      m.clear();
    }
  }

  /**
   * What the reports list. An expired EC volume is left out and destroyed (its files on that disk
   * removed, the master told) as the heartbeat collects it (Go's Store.deleteExpiredEcVolumes).
   */
  private reportable(): EcVolume[] {
    const out: EcVolume[] = [];
    for (const loc of this.locations) {
      for (const ev of this.byLocation.get(loc)?.values() ?? []) {
        if (ev.isExpired()) this.destroyExpired(ev);
        else if (ev.shards.size > 0) out.push(ev);
      }
    }
    return out;
  }

  private readonly destroying = new Set<EcVolume>();
  /** Resolves when the destroys scheduled so far are done (tests, shutdown). */
  destroyed: Promise<unknown> = Promise.resolve();

  /** Go's EcVolume.Destroy: shards, both copies of .ecx/.ecj, the active .vif and sidecars. */
  private destroyExpired(ev: EcVolume): void {
    if (this.destroying.has(ev)) return;
    this.destroying.add(ev);
    const run = this.serial(async () => {
      if (this.find(ev.loc, ev.id) !== ev) return;
      const info = ev.information();
      const shardPaths = [...ev.shards.values()].map((s) => s.path);
      this.volumesOn(ev.loc).delete(ev.id);
      await ev.close();
      for (const p of shardPaths) await rm(p, { force: true });
      const idxBase = volumeFileName(ev.loc.idxDirectory, ev.collection, ev.id);
      for (const base of new Set([ev.indexBase, ev.dataBase, idxBase])) {
        await rm(base + '.ecx', { force: true });
        await rm(base + '.ecj', { force: true });
        await removeEcsumFiles(base);
      }
      await rm(ev.dataBase + '.vif', { force: true });
      this.log.info({ vid: ev.id, dir: ev.loc.directory }, 'expired ec volume destroyed');
      if (info.ec_index_bits !== 0) this.contributions.announceEcShardsRemoved([info]);
    })
      .catch((e: unknown) => this.log.error({ vid: ev.id, err: e }, 'destroy expired ec volume failed'))
      .finally(() => this.destroying.delete(ev));
    this.destroyed = Promise.all([this.destroyed, run]);
  }

  /**
   * Startup load of one location (Go's loadAllEcShards): shard files (non-empty) grouped by
   * volume, mounted when the volume's .ecx is on this disk or a sibling.
   */
  async loadLocation(loc: DiskLocation, files: { data: string[]; index: string[] }): Promise<void> {
    const groups = new Map<string, { collection: string; vid: number; shards: number[] }>();
    for (const name of files.data) {
      const m = EC_FILE.exec(name);
      if (!m || !m[2].startsWith('ec') || m[2] === 'ecx' || m[2] === 'ecj') continue;
      const shardId = Number(m[2].slice(2));
      if (!(shardId < MAX_SHARD_COUNT)) continue;
      const parsed = parseVolumeBaseName(m[1]);
      if (!parsed) continue;
      let size: number;
      try {
        size = statSync(join(loc.directory, name)).size;
      } catch {
        continue;
      }
      if (size === 0) continue;
      const key = m[1];
      const g = groups.get(key) ?? { collection: parsed.collection, vid: parsed.id, shards: [] };
      g.shards.push(shardId);
      groups.set(key, g);
    }
    for (const g of groups.values()) {
      const own = ecIndexBase(loc, g.collection, g.vid);
      const ecxBase = hasEcxFileOnDisk(loc, g.collection, g.vid)
        ? own
        : (this.findEcxBase(g.collection, g.vid) ?? (fileSizeOrMissing(own + '.ecx') >= 0 ? own : undefined));
      if (!ecxBase) {
        if (datNextTo(loc, g.collection, g.vid) > 0) {
          // An encode interrupted before its .ecx: the .dat is the volume.
          this.log.warn({ vid: g.vid, dir: loc.directory }, 'ec shards without an .ecx next to a .dat; removing the shards');
          await removeEcFilesOn(loc, g.collection, g.vid);
        } else this.log.warn({ vid: g.vid, dir: loc.directory }, 'ec shards without an .ecx on any disk; not mounted');
        continue;
      }
      if (!(await ecFilesComplete(loc, g.collection, g.vid))) {
        this.log.warn({ vid: g.vid, dir: loc.directory }, 'ec shards smaller than a full encode of the .dat beside them; removing the ec files');
        await removeEcFilesOn(loc, g.collection, g.vid);
        continue;
      }
      await this.serial(async () => {
        try {
          const ev = await this.openOn(loc, g.collection, g.vid, ecxBase);
          const added: EcShard[] = [];
          for (const id of g.shards.sort((a, b) => a - b)) if (await ev.addShard(id)) added.push(ev.shards.get(id)!);
          if (added.length) this.contributions.announceEcShardsAdded([ev.information(added)]);
        } catch (e) {
          this.log.error({ vid: g.vid, dir: loc.directory, err: e }, 'load ec shards failed');
        }
      });
    }
  }

  contributor(): FamilyContributor {
    return {
      family: 'ec',
      ecShards: (): EcShardInformation[] => this.reportable().map((ev) => ev.information()),
      ecVolumeStatuses: () => this.reportable().map((ev) => ev.status()),
      mountedEcShardIds: (loc, vid) => [...(this.find(loc, vid)?.shards.keys() ?? [])].sort((a, b) => a - b),
      ecShardCount: (loc) => {
        let n = 0;
        for (const ev of this.byLocation.get(loc)?.values() ?? []) n += ev.shards.size;
        return n;
      },
      ecVolume: (vid) => {
        const disks = this.findAll(vid).filter((ev) => ev.shards.size > 0 && !ev.isExpired());
        return disks.length > 0 ? new EcVolumeView(disks, this.serve) : undefined;
      },
      ownsFile: ownsEcFile,
      loadFiles: (loc, files) => this.loadLocation(loc, files),
    };
  }
}
