// What a feature family adds to core's own reports and to the store's startup scan, without core
// importing the family: the EC shards it has mounted (full and EC heartbeats, new/deleted shard
// deltas, /status EcVolumes, shard placement), per-volume report fields (a tiered volume's remote
// storage name and key) and the files of a disk location it owns at load time. A family registers
// one contributor from its start hook (`cradle.contributions.register(...)`); with none registered
// every report is what core alone answers.
import { EventEmitter } from 'node:events';
import type { DiskLocation } from './disk-location.js';
import type { EcVolumeAccess } from './ec-volume-access.js';

/** master_pb.VolumeEcShardInformationMessage: one per (EC volume, disk) (Go's ToVolumeEcShardInformationMessage). */
export interface EcShardInformation {
  id: number;
  collection: string;
  /** Bit i set when shard i of the volume is mounted on that disk. */
  ec_index_bits: number;
  /** One size per set bit, ascending shard id (int64 as a decimal string or number). */
  shard_sizes: (string | number)[];
  disk_type: string;
  expire_at_sec: string | number;
  disk_id: number;
  file_count: string | number;
  delete_count: string | number;
  encode_ts_ns: string | number;
}

/**
 * One /status `EcVolumes` entry: the exported fields of Go's erasure_coding.EcVolume (one per EC
 * volume and disk, weed/storage/store_ec.go EcVolumes), which is what Go's status page lists.
 */
export interface EcVolumeStatus {
  VolumeId: number;
  Collection: string;
  Shards: { VolumeId: number; ShardId: number; Collection: string; DiskType: string }[];
  Version: number;
  ExpireAtSec: number;
  EncodeTsNs: number;
  [field: string]: unknown;
}

/** Everything optional: a family implements only what it contributes. */
export interface FamilyContributor {
  /** The family name, for logs and to refuse a second registration. */
  family: string;
  /** Every EC (volume, disk) it has mounted, expired ones left out (full and EC heartbeats). */
  ecShards?(): EcShardInformation[];
  /** /status `EcVolumes` entries. */
  ecVolumeStatuses?(): EcVolumeStatus[];
  /** Shard ids of EC volume `vid` it has mounted on `loc` ([] when none): placement and ReceiveFile. */
  mountedEcShardIds?(loc: DiskLocation, vid: number): number[];
  /** Number of EC shards it has mounted on `loc`: free-slot maths of placement and heartbeats. */
  ecShardCount?(loc: DiskLocation): number;
  /** EC volume `vid` when it has shards of it mounted here (reads, deletes, scrubs by other families). */
  ecVolume?(vid: number): EcVolumeAccess | undefined;
  /** Which file names of a disk location it owns (e.g. `.ecNN`, `.ecx`, `.ecj`). */
  ownsFile?(name: string): boolean;
  /**
   * Loads the owned files of a location: called for every location once regular volumes are
   * loaded (Go's loadAllEcShards follows loadExistingVolumes), or at registration when the store
   * already loaded, and again on a rescan (SIGHUP). `files` are the owned names found in the data
   * directory and, when it differs, the index directory.
   */
  loadFiles?(loc: DiskLocation, files: { data: string[]; index: string[] }): Promise<void>;
}

export interface ContributionEvents {
  /** EC shards mounted: the master learns them at once (Go's NewEcShardsChan). */
  'ec-shards-added': [EcShardInformation[]];
  /** EC shards unmounted or deleted (Go's DeletedEcShardsChan). */
  'ec-shards-removed': [EcShardInformation[]];
}

export class Contributions extends EventEmitter<ContributionEvents> {
  private readonly contributors: FamilyContributor[] = [];
  /** Set by the store: loads a newly registered contributor's files when the store already loaded. */
  onRegister: ((c: FamilyContributor) => Promise<void>) | undefined;

  /** Registers a family's contributor; resolves once its files of every location are loaded. */
  async register(c: FamilyContributor): Promise<void> {
    if (this.contributors.some((x) => x.family === c.family)) {
      throw new Error(`family ${c.family} already registered its contributions`);
    }
    this.contributors.push(c);
    await this.onRegister?.(c);
  }

  /** Removes a family's contributor (its stop hook); its shards leave the reports. */
  unregister(family: string): void {
    const i = this.contributors.findIndex((c) => c.family === family);
    if (i >= 0) this.contributors.splice(i, 1);
  }

  all(): readonly FamilyContributor[] {
    return this.contributors;
  }

  /** Whether any family reports EC shards (the periodic EC heartbeat is only sent then). */
  get reportsEcShards(): boolean {
    return this.contributors.some((c) => c.ecShards !== undefined);
  }

  ecShards(): EcShardInformation[] {
    return this.contributors.flatMap((c) => c.ecShards?.() ?? []);
  }

  ecVolumeStatuses(): EcVolumeStatus[] {
    return this.contributors.flatMap((c) => c.ecVolumeStatuses?.() ?? []).sort((a, b) => a.VolumeId - b.VolumeId);
  }

  mountedEcShardIds(loc: DiskLocation, vid: number): number[] {
    return this.contributors.flatMap((c) => c.mountedEcShardIds?.(loc, vid) ?? []);
  }

  /** The EC volume `vid` as the family that mounted it offers it, if any. */
  ecVolume(vid: number): EcVolumeAccess | undefined {
    for (const c of this.contributors) {
      const v = c.ecVolume?.(vid);
      if (v) return v;
    }
    return undefined;
  }

  ecShardCount(loc: DiskLocation): number {
    let n = 0;
    for (const c of this.contributors) n += c.ecShardCount?.(loc) ?? 0;
    return n;
  }

  /** For a family: tells the master about shards it just mounted. */
  announceEcShardsAdded(shards: EcShardInformation[]): void {
    if (shards.length > 0) this.emit('ec-shards-added', shards);
  }

  /** For a family: tells the master about shards it just unmounted or deleted. */
  announceEcShardsRemoved(shards: EcShardInformation[]): void {
    if (shards.length > 0) this.emit('ec-shards-removed', shards);
  }
}
