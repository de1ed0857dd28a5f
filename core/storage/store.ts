// The store: the registry of disk locations and the volumes on them, shared by core and every
// plugin through the container. It emits events the master client turns into heartbeat deltas.
import { EventEmitter } from 'node:events';
import type { ServerConfig } from '../../config/types.js';
import { DiskLocation } from './disk-location.js';
import type { DiskStatus } from './disk-status.js';

/** master_pb.VolumeInformationMessage, as reported in full heartbeats and /status. */
export interface VolumeInformation {
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

/** What the store needs from a mounted volume to report it. */
export interface ReportableVolume {
  readonly id: number;
  readonly collection: string;
  information(): VolumeInformation;
  maxFileKey(): bigint;
}

export interface StoreEvents {
  'volume-added': [VolumeShortInformation];
  'volume-removed': [VolumeShortInformation];
  'state-changed': [];
}

export class Store extends EventEmitter<StoreEvents> {
  readonly locations: DiskLocation[];
  /** Volumes by id, per location. A volume id lives on at most one location at a time. */
  private readonly volumesByLocation: Map<DiskLocation, Map<number, ReportableVolume>> = new Map();
  /** Set once shutdown begins: health turns 503 and new long-running work is refused. */
  stopping = false;
  /** The master's volume size limit in bytes (0 until the first heartbeat answer). */
  volumeSizeLimit = 0;

  constructor(config: ServerConfig) {
    super();
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
  }

  diskStatuses(withType: boolean): DiskStatus[] {
    return this.locations.map((loc) => {
      const s = loc.status();
      if (withType) s.disk_type = loc.diskType === '' ? 'hdd' : loc.diskType;
      return s;
    });
  }

  volumesOn(loc: DiskLocation): ReportableVolume[] {
    return [...(this.volumesByLocation.get(loc)?.values() ?? [])];
  }

  allVolumes(): ReportableVolume[] {
    return this.locations.flatMap((loc) => this.volumesOn(loc));
  }

  findVolume(id: number): ReportableVolume | undefined {
    for (const vols of this.volumesByLocation.values()) {
      const v = vols.get(id);
      if (v) return v;
    }
    return undefined;
  }

  volumeInformations(): VolumeInformation[] {
    return this.allVolumes().map((v) => v.information());
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
      if (loc.isLowOnSpace) max = this.volumesOn(loc).length;
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

  async close(): Promise<void> {
    // Volumes are closed by their owners once the storage engine lands; nothing is buffered here.
  }
}
