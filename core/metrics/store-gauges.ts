// The gauges Go refreshes while building a heartbeat, computed from the store when scraped:
// weed/storage/store.go CollectHeartbeat (volumes, read-only counts, disk size per collection),
// weed/storage/disk_location.go CheckDiskSpace (resource, disk_error_status) and NewStore
// (max_volumes). A collection with no volume left has no series, as Go drops it.
import type { Gauge } from 'prom-client';
import type { MinFreeSpace } from '../../config/types.js';
import type { EcShardInformation } from '../storage/contributions.js';
import type { Store } from '../storage/store.js';

/** EC shard counts per collection, once the EC family reports them. */
export type EcShardSource = () => { collection: string; shards: number; bytes: number }[];

/**
 * Shard count and bytes per collection from the EC shards the families report (Go counts mounted
 * shards per collection into volumes{type="ec_shards"} and their sizes into total_disk_size{type="ec"}).
 */
export function ecShardTotals(infos: EcShardInformation[]): { collection: string; shards: number; bytes: number }[] {
  const by = new Map<string, { collection: string; shards: number; bytes: number }>();
  for (const info of infos) {
    let t = by.get(info.collection);
    if (!t) by.set(info.collection, (t = { collection: info.collection, shards: 0, bytes: 0 }));
    for (let bits = info.ec_index_bits >>> 0; bits !== 0; bits &= bits - 1) t.shards++;
    for (const size of info.shard_sizes) t.bytes += Number(size);
  }
  return [...by.values()];
}

// Go's read-only type labels (weed/stats/metrics.go IsReadOnly and friends).
const READ_ONLY_TYPES = ['IsReadOnly', 'noWriteOrDelete', 'noWriteCanDelete', 'isDiskSpaceLow'] as const;

/** Go's MinFreeSpace.AvailableSpace: free bytes above the configured reserve. */
export function availableSpace(min: MinFreeSpace, free: number, all: number): number {
  const reserve = Math.floor(min.kind === 'percent' ? (all * min.value) / 100 : min.value);
  return reserve > free ? 0 : free - reserve;
}

export function collectStoreGauges(store: Store, ecShards: EcShardSource) {
  return {
    volumes(g: Gauge<'collection' | 'type'>): void {
      g.reset();
      const counts = new Map<string, number>();
      for (const v of store.allVolumes()) counts.set(v.collection, (counts.get(v.collection) ?? 0) + 1);
      for (const [collection, n] of counts) g.labels(collection, 'volume').set(n);
      for (const ec of ecShards()) g.labels(ec.collection, 'ec_shards').set(ec.shards);
    },

    readOnlyVolumes(g: Gauge<'collection' | 'type'>): void {
      g.reset();
      const counts = new Map<string, number[]>();
      for (const v of store.allVolumes()) {
        let c = counts.get(v.collection);
        if (!c) counts.set(v.collection, (c = [0, 0, 0, 0]));
        const r = v.readOnlyReasons();
        if (!r.readOnly) continue;
        c[0]++;
        if (r.noWriteOrDelete) c[1]++;
        if (r.noWriteCanDelete) c[2]++;
        if (r.diskSpaceLow) c[3]++;
      }
      for (const [collection, c] of counts) READ_ONLY_TYPES.forEach((t, i) => g.labels(collection, t).set(c[i]));
    },

    maxVolumes(g: Gauge): void {
      let max = 0;
      for (const loc of store.locations) max += loc.maxVolumeCount;
      g.set(max);
    },

    diskSizes(g: Gauge<'collection' | 'type'>): void {
      g.reset();
      const sizes = new Map<string, [number, number]>();
      for (const v of store.allVolumes()) {
        const info = v.information();
        const s = sizes.get(v.collection) ?? [0, 0];
        s[0] += info.size;
        s[1] += info.deleted_byte_count;
        sizes.set(v.collection, s);
      }
      for (const [collection, [size, deleted]] of sizes) {
        g.labels(collection, 'normal').set(size);
        g.labels(collection, 'deleted_bytes').set(deleted);
      }
      for (const ec of ecShards()) g.labels(ec.collection, 'ec').set(ec.bytes);
    },

    resources(g: Gauge<'name' | 'type'>): void {
      g.reset();
      for (const loc of store.locations) {
        const s = loc.status();
        if (s.error) continue;
        g.labels(loc.directory, 'all').set(s.all);
        g.labels(loc.directory, 'used').set(s.used);
        g.labels(loc.directory, 'free').set(s.free);
        g.labels(loc.directory, 'avail').set(availableSpace(loc.minFreeSpace, s.free, s.all));
      }
    },

    diskErrors(g: Gauge<'name' | 'type'>): void {
      for (const loc of store.locations) g.labels(loc.directory, 'error').set(loc.status().error ? 1 : 0);
    },
  };
}
