// The store: the registry of disk locations and the volumes on them, shared by core and every
// plugin through the container. It emits events the master client turns into heartbeat deltas.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../config/types.js';
import { Contributions, type FamilyContributor } from './contributions.js';
import { DiskLocation } from './disk-location.js';
import type { DiskStatus } from './disk-status.js';
import { DATA_SHARDS_COUNT, findEcShardTargetLocation, findFreeLocation, hasEcxFileOnDisk, type PlacementView } from './ec-placement.js';
import type { OffsetWidth } from './offset-width.js';
import { StorageError, VolumeNotEmptyError } from './storage-errors.js';
import { ReplicaPlacement, Ttl } from './types.js';
import { receiveTarget, type ReceiveRequest, type ReceiveTarget } from './receive-target.js';
import { loadVolumeInfo, saveVolumeInfo } from './volume-info.js';
import { Volume, type VolumeInformationFields } from './volume.js';
import { volumeFileName } from './volume-files.js';

/** master_pb.VolumeInformationMessage, as reported in full heartbeats and /status. */
export type VolumeInformation = VolumeInformationFields;

/** master_pb.VolumeShortInformationMessage, used in new/deleted deltas. */
export interface VolumeShortInformation {
  id: number;
  collection: string;
  replica_placement: number;
  version: number;
  ttl: number;
  disk_type: string;
  disk_id: number;
}

export interface StoreEvents {
  'volume-added': [VolumeShortInformation];
  'volume-removed': [VolumeShortInformation];
}

export interface AllocateParams {
  id: number;
  collection: string;
  replication: string;
  ttl: string;
  preallocate: number;
  diskType: string;
  version: number;
}

/** A plain error whose text is Go's; surfaces as an UNKNOWN gRPC error / 500. */
export class StoreError extends StorageError {
  constructor(message: string, code: ConstructorParameters<typeof StorageError>[0] = 'REFUSED') {
    super(code, message);
  }
}

const LOAD_CONCURRENCY = 8;

function shortInfo(v: Volume): VolumeShortInformation {
  return {
    id: v.id,
    collection: v.collection,
    replica_placement: v.replicaPlacement.toByte(),
    version: v.version,
    ttl: v.ttl.toUint32(),
    disk_type: v.diskType,
    disk_id: v.diskId,
  };
}

export class Store extends EventEmitter<StoreEvents> implements PlacementView {
  readonly locations: DiskLocation[];
  /** What the families add to the reports and the load scan (contributions.ts). */
  readonly contributions = new Contributions();
  /** Set once the startup load ran: a family registering later has its files loaded at once. */
  private loaded = false;
  readonly offsetWidth: OffsetWidth;
  private readonly volumesByLocation: Map<DiskLocation, Map<number, Volume>> = new Map();
  /** Serialises volume creation, mounting and deletion (not reads or writes). */
  private adminChain: Promise<unknown> = Promise.resolve();
  /** Volume ids a VolumeCopy is writing; mount, unmount, allocate and delete wait them out. */
  private readonly copying = new Set<number>();
  /** Set once shutdown begins: health turns 503 and new long-running work is refused. */
  stopping = false;
  /** The master's volume size limit in bytes (0 until the first heartbeat answer). */
  volumeSizeLimit = 0;

  constructor(
    config: ServerConfig,
    private readonly log?: Logger,
  ) {
    super();
    this.offsetWidth = config.offsetBytes;
    this.locations = config.dirs.map(
      (dir, i) =>
        new DiskLocation({
          directory: dir,
          idxDirectory: config.idxDir,
          maxVolumeCount: config.maxCounts[i],
          diskType: config.diskTypes[i],
          minFreeSpace: config.minFreeSpace[i],
          tags: config.tags[i] ?? [],
          diskId: i,
        }),
    );
    for (const loc of this.locations) this.volumesByLocation.set(loc, new Map());
    this.contributions.onRegister = async (c) => {
      if (this.loaded) await this.serial(() => this.loadFamilyFiles([c]));
    };
  }

  /** Runs admin mutations one at a time so two of them never race on the same files. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.adminChain.then(fn, fn);
    this.adminChain = run.catch(() => undefined);
    return run;
  }

  private attach(loc: DiskLocation, v: Volume): void {
    v.diskType = loc.diskType;
    v.diskId = loc.diskId;
    v.locationLowSpace = loc.isLowOnSpace;
    this.volumesByLocation.get(loc)!.set(v.id, v);
  }

  private openOptions(loc: DiskLocation, collection: string, id: number) {
    return { dir: loc.directory, idxDir: loc.idxDirectory, collection, id, offsetWidth: this.offsetWidth };
  }

  /** Claims a volume id for a copy; false when another copy already holds it. */
  beginCopy(id: number): boolean {
    if (this.copying.has(id)) return false;
    this.copying.add(id);
    return true;
  }

  endCopy(id: number): void {
    this.copying.delete(id);
  }

  isCopying(id: number): boolean {
    return this.copying.has(id);
  }

  /** Loads every volume found in every location, all locations concurrently. */
  async loadExistingVolumes(): Promise<void> {
    await Promise.all(
      this.locations.map(async (loc) => {
        const found = await loc.scanVolumes();
        let next = 0;
        const worker = async () => {
          while (next < found.length) {
            const { collection, id } = found[next++];
            if (this.findVolume(id)) {
              this.log?.warn(`volume ${id} found again in ${loc.directory}; keeping the first copy`);
              continue;
            }
            try {
              this.attach(loc, await Volume.open(this.openOptions(loc, collection, id)));
            } catch (e) {
              this.log?.error(`load volume ${id} in ${loc.directory}: ${(e as Error).message}`);
            }
          }
        };
        await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
        if (loc.checkFreeSpace() && loc.isLowOnSpace) this.onLowSpace(loc);
      }),
    );
    this.loaded = true;
    await this.loadFamilyFiles(this.contributions.all());
  }

  /**
   * Hands each family the files it owns in every location (Go loads EC shards right after the
   * regular volumes: weed/storage/disk_location_ec.go loadAllEcShards). A failure is logged and the
   * other locations still load, as Go does.
   */
  private async loadFamilyFiles(contributors: readonly FamilyContributor[]): Promise<void> {
    const loaders = contributors.filter((c) => c.loadFiles);
    if (loaders.length === 0) return;
    for (const loc of this.locations) {
      let data: string[];
      let index: string[] = [];
      try {
        data = await readdir(loc.directory);
        if (loc.idxDirectory !== loc.directory) index = await readdir(loc.idxDirectory);
      } catch (e) {
        this.log?.error({ dir: loc.directory, err: e }, 'list files for the families failed');
        continue;
      }
      for (const c of loaders) {
        const owns = (n: string) => (c.ownsFile ? c.ownsFile(n) : true);
        try {
          await c.loadFiles!(loc, { data: data.filter(owns), index: index.filter(owns) });
        } catch (e) {
          this.log?.error({ family: c.family, dir: loc.directory, err: e }, 'family failed to load its files');
        }
      }
    }
  }

  /** Mounts volumes whose files appeared on disk since start (SIGHUP), announcing each. */
  loadNewVolumes(): Promise<void> {
    return this.serial(async () => {
      for (const loc of this.locations) {
        for (const { collection, id } of await loc.scanVolumes()) {
          if (this.findVolume(id)) continue;
          try {
            const v = await Volume.open(this.openOptions(loc, collection, id));
            this.attach(loc, v);
            this.emit('volume-added', shortInfo(v));
          } catch (e) {
            this.log?.error(`load volume ${id} in ${loc.directory}: ${(e as Error).message}`);
          }
        }
      }
      await this.loadFamilyFiles(this.contributions.all());
    });
  }

  private onLowSpace(loc: DiskLocation): void {
    this.log?.warn(`disk ${loc.directory} is below its minimum free space; its volumes refuse writes`);
    for (const v of this.volumesOn(loc)) v.locationLowSpace = loc.isLowOnSpace;
  }

  /** Re-checks free space of every location (called each heartbeat pulse). */
  checkDiskSpace(): void {
    for (const loc of this.locations) {
      if (loc.checkFreeSpace()) {
        if (loc.isLowOnSpace) this.onLowSpace(loc);
        else for (const v of this.volumesOn(loc)) v.locationLowSpace = false;
      }
    }
  }

  diskStatuses(withType: boolean): DiskStatus[] {
    return this.locations.map((loc) => {
      const s = loc.status();
      if (withType) s.disk_type = loc.diskType === '' ? 'hdd' : loc.diskType;
      return s;
    });
  }

  volumesOn(loc: DiskLocation): Volume[] {
    return [...(this.volumesByLocation.get(loc)?.values() ?? [])];
  }

  allVolumes(): Volume[] {
    return this.locations.flatMap((loc) => this.volumesOn(loc));
  }

  findVolume(id: number): Volume | undefined {
    for (const vols of this.volumesByLocation.values()) {
      const v = vols.get(id);
      if (v) return v;
    }
    return undefined;
  }

  volumeCountOn(loc: DiskLocation): number {
    return this.volumesByLocation.get(loc)?.size ?? 0;
  }

  hasVolumeOn(loc: DiskLocation, id: number): boolean {
    return this.volumesByLocation.get(loc)?.has(id) ?? false;
  }

  // ------------------------------------------------------------------ placement (ec-placement.ts)

  /** Go's FindEcShardTargetLocation: the disk that receives an EC shard or index file. */
  findEcShardTargetLocation(collection: string, vid: number, dataShardCount = DATA_SHARDS_COUNT, shardIds: number[] = []): DiskLocation | undefined {
    return findEcShardTargetLocation(this, collection, vid, dataShardCount, shardIds);
  }

  /** Go's FindFreeLocation: the location passing `filter` with the most free volume slots. */
  findFreeLocation(filter: (loc: DiskLocation) => boolean, replaceId = 0): DiskLocation | undefined {
    return findFreeLocation(this, filter, replaceId);
  }

  /** Where a file a peer pushes (ReceiveFile) may be written, or why not (receive-target.ts). */
  receiveTarget(req: ReceiveRequest): ReceiveTarget {
    return receiveTarget(this, req);
  }

  private locationOf(id: number): DiskLocation | undefined {
    for (const [loc, vols] of this.volumesByLocation) if (vols.has(id)) return loc;
    return undefined;
  }

  volumeInformations(): VolumeInformation[] {
    return this.allVolumes().map((v) => {
      const info = this.volumeInformation(v);
      // "Full" volumes refuse writes too; the master must see them as read-only.
      if (!info.read_only && this.volumeSizeLimit > 0 && v.isFull(this.volumeSizeLimit)) info.read_only = true;
      return info;
    });
  }

  /** A volume's report; a tiered volume names its remote storage itself, from its .vif (Go's RemoteStorageNameKey). */
  volumeInformation(v: Volume): VolumeInformation {
    return v.information();
  }

  maxFileKey(): bigint {
    let max = 0n;
    for (const v of this.allVolumes()) {
      const k = v.maxFileKey();
      if (k > max) max = k;
    }
    return max;
  }

  /** Max volume counts per disk type for the heartbeat ('' = hdd). */
  maxVolumeCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const loc of this.locations) {
      let max = loc.maxVolumeCount;
      // A low disk offers no new slot: what it holds, EC shards ten to a slot (Go's CollectHeartbeat).
      if (loc.isLowOnSpace) max = this.volumesOn(loc).length + Math.ceil(this.contributions.ecShardCount(loc) / DATA_SHARDS_COUNT);
      out[loc.diskType] = (out[loc.diskType] ?? 0) + Math.max(0, max);
    }
    return out;
  }

  diskBytes(): { total: Record<string, number>; free: Record<string, number> } {
    const total: Record<string, number> = {};
    const free: Record<string, number> = {};
    for (const loc of this.locations) {
      const s = loc.status();
      total[loc.diskType] = (total[loc.diskType] ?? 0) + s.all;
      free[loc.diskType] = (free[loc.diskType] ?? 0) + s.free;
    }
    return { total, free };
  }

  // ------------------------------------------------------------------ admin lifecycle

  allocateVolume(p: AllocateParams): Promise<Volume> {
    return this.serial(async () => {
      const rp = ReplicaPlacement.parse(p.replication);
      const ttl = Ttl.parse(p.ttl);
      if (this.findVolume(p.id)) throw new StoreError(`Volume Id ${p.id} already exists!`, 'VOLUME_EXISTS');
      const diskType = p.diskType === 'hdd' ? '' : p.diskType.toLowerCase();
      // The location of that disk type with a free slot and the fewest volumes.
      let chosen: DiskLocation | undefined;
      for (const loc of this.locations) {
        if (loc.diskType !== diskType || loc.isLowOnSpace) continue;
        const count = this.volumesOn(loc).length;
        if (count >= loc.maxVolumeCount) continue;
        if (!chosen || count < this.volumesOn(chosen).length) chosen = loc;
      }
      if (!chosen) throw new StoreError('No more free space left', 'NO_FREE_SPACE');
      // Checked after the location, as Go's NewVolume does: a request without a version fails here.
      if (p.version < 1 || p.version > 3) {
        throw new StoreError(`volume super block version ${p.version} is not supported`);
      }
      const v = await Volume.create({
        ...this.openOptions(chosen, p.collection, p.id),
        create: { replicaPlacement: rp, ttl, version: p.version as 1 | 2 | 3, preallocate: p.preallocate },
      });
      this.attach(chosen, v);
      this.log?.info(`add volume ${p.id} collection:${p.collection} in ${chosen.directory}`);
      this.emit('volume-added', shortInfo(v));
      return v;
    });
  }

  /** Mounts a volume whose files are on disk; `volume <id> not found on disk` otherwise. */
  mountVolume(id: number): Promise<void> {
    return this.serial(async () => {
      if (this.findVolume(id)) return;
      for (const loc of this.locations) {
        const found = (await loc.scanVolumes()).find((f) => f.id === id);
        if (!found) continue;
        const v = await Volume.open(this.openOptions(loc, found.collection, id));
        this.attach(loc, v);
        this.emit('volume-added', shortInfo(v));
        return;
      }
      throw new StoreError(`volume ${id} not found on disk`, 'VOLUME_NOT_FOUND');
    });
  }

  /** Unmounts a volume; unmounting one that is not mounted is a success, as Go. */
  unmountVolume(id: number): Promise<void> {
    return this.serial(async () => {
      const loc = this.locationOf(id);
      if (!loc) return;
      const v = this.volumesByLocation.get(loc)!.get(id)!;
      this.volumesByLocation.get(loc)!.delete(id);
      await v.close();
      this.emit('volume-removed', shortInfo(v));
    });
  }

  /**
   * Go's Volume.sharesVifWithEcVolume: an EC volume of the same id on the disk (mounted, or its
   * .ecx on disk) shares the .vif, which records its shard layout — removing the regular volume
   * (as ec.encode does once the shards are spread) must leave it.
   */
  private sharesVifWithEcVolume(loc: DiskLocation, v: Volume): boolean {
    return this.contributions.mountedEcShardIds(loc, v.id).length > 0 || hasEcxFileOnDisk(loc, v.collection, v.id);
  }

  deleteVolume(id: number, onlyEmpty: boolean): Promise<void> {
    return this.serial(async () => {
      const loc = this.locationOf(id);
      if (!loc) throw new StoreError(`delete volume ${id} not found on disk: volume not found`, 'VOLUME_NOT_FOUND');
      const v = this.volumesByLocation.get(loc)!.get(id)!;
      if (onlyEmpty && !v.isEmpty()) throw new VolumeNotEmptyError(`DeleteVolume ${id}: volume not empty`);
      await v.destroy({ onlyEmpty, keepVif: this.sharesVifWithEcVolume(loc, v) });
      this.volumesByLocation.get(loc)!.delete(id);
      this.log?.info(`delete volume ${id}`);
      this.emit('volume-removed', shortInfo(v));
    });
  }

  deleteCollection(collection: string): Promise<void> {
    return this.serial(async () => {
      for (const [, vols] of this.volumesByLocation) {
        for (const v of [...vols.values()]) {
          if (v.collection !== collection) continue;
          await v.destroy();
          vols.delete(v.id);
          this.emit('volume-removed', shortInfo(v));
        }
      }
    });
  }

  /**
   * Changes a volume's replication: the .vif carries it (and wins at load), the .dat super block
   * byte is rewritten too so Go and older tools agree. The volume must be unmounted.
   */
  async configureVolume(id: number, replication: string): Promise<void> {
    let rp: ReplicaPlacement;
    try {
      rp = ReplicaPlacement.parse(replication);
    } catch (e) {
      throw new StoreError(`volume ${id} replication ${JSON.stringify(replication)}: ${(e as Error).message}`);
    }
    for (const loc of this.locations) {
      const found = (await loc.scanVolumes()).find((f) => f.id === id);
      if (!found) continue;
      const base = volumeFileName(loc.directory, found.collection, id);
      const vif = await loadVolumeInfo(`${base}.vif`);
      if (vif.error) throw new StoreError(`volume ${id} failed to load vif: ${vif.error}`);
      vif.info.replication = rp.toString();
      await saveVolumeInfo(`${base}.vif`, vif.info);
      if (existsSync(`${base}.dat`)) {
        const fh = await open(`${base}.dat`, 'r+');
        try {
          await fh.write(Buffer.from([rp.toByte()]), 0, 1, 1);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      return;
    }
    throw new StoreError(`volume ${id} not found on disk`, 'VOLUME_NOT_FOUND');
  }

  async markVolumeReadonly(id: number, canDelete: boolean, persist: boolean): Promise<void> {
    const v = this.findVolume(id);
    if (!v) throw new StoreError(`volume ${id} not found`, 'VOLUME_NOT_FOUND');
    await v.markReadOnly(canDelete, persist);
  }

  async markVolumeWritable(id: number): Promise<void> {
    const v = this.findVolume(id);
    if (!v) throw new StoreError(`volume ${id} not found`, 'VOLUME_NOT_FOUND');
    await v.markWritable();
  }

  async close(): Promise<void> {
    await Promise.all(
      this.allVolumes().map((v) =>
        v.close().catch((e) => this.log?.error(`close volume ${v.id}: ${(e as Error).message}`)),
      ),
    );
  }
}
