// VolumeEcShardsRebuild (Go's volume_grpc_erasure_coding.go): on the disk with the .ecx and the
// most shard files, regenerates every missing shard from any D present ones (other disks' shard
// files count as inputs) in a worker thread, then folds the .ecj into the .ecx. Shards are not
// mounted by this call.
import { rm } from 'node:fs/promises';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import type { DiskLocation } from '../../../core/storage/disk-location.js';
import { ecShardExt } from '../../../core/storage/ec-placement.js';
import { volumeFileName } from '../../../core/storage/volume-files.js';
import { rebuildInWorker } from '../codec/encode-pool.js';
import { rebuildEcxFile } from '../ec-files.js';
import { ecIndexBase, fileSizeOrMissing, MAX_SHARD_COUNT, readEcMeta } from '../ec-volume.js';
import { checks, collectionError, messageOf, plain, u32 } from './common.js';

function shardCount(dataBase: string): number {
  let n = 0;
  for (let i = 0; i < MAX_SHARD_COUNT; i++) if (fileSizeOrMissing(dataBase + ecShardExt(i)) >= 0) n++;
  return n;
}

export function rebuildRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  const check = checks(cradle);
  return {
    VolumeEcShardsRebuild: async (call: Msg) => {
      check.admin(call);
      check.notInMaintenance();
      const vid = u32(call.request.volume_id);
      const collection = String(call.request.collection ?? '');
      const bad = collectionError(collection);
      if (bad) throw plain(bad);

      let target: DiskLocation | undefined;
      let targetCount = 0;
      const others: DiskLocation[] = [];
      for (const loc of store.locations) {
        const n = shardCount(volumeFileName(loc.directory, collection, vid));
        const hasEcx = fileSizeOrMissing(ecIndexBase(loc, collection, vid) + '.ecx') >= 0;
        if (n === 0 && !hasEcx) continue;
        if (hasEcx && (!target || n > targetCount)) {
          if (target) others.push(target);
          target = loc;
          targetCount = n;
        } else others.push(loc);
      }
      if (!target) return { rebuilt_shard_ids: [] };

      const dataBase = volumeFileName(target.directory, collection, vid);
      let meta;
      try {
        meta = await readEcMeta(dataBase + '.vif');
      } catch (e) {
        throw plain(`RebuildEcFiles ${dataBase}: cannot load .vif: ${messageOf(e)}`);
      }
      const total = meta.dataShards + meta.parityShards;
      const inputs: (string | undefined)[] = [];
      const missing: number[] = [];
      for (let i = 0; i < total; i++) {
        // A 0-byte shard file is a failed copy's stub: missing, and overwritten.
        const candidates = [dataBase, ...others.map((l) => volumeFileName(l.directory, collection, vid))].map((b) => b + ecShardExt(i));
        const found = candidates.find((p) => fileSizeOrMissing(p) > 0);
        inputs.push(found);
        if (!found) missing.push(i);
      }
      const present = total - missing.length;
      if (present < meta.dataShards) {
        throw plain(
          `RebuildEcFiles ${dataBase}: not enough shards to rebuild ${dataBase}: found ${present} shards, need at least ${meta.dataShards} (data shards), missing shards: [${missing.join(' ')}]`,
        );
      }
      if (missing.length > 0) {
        const outputs = Object.fromEntries(missing.map((i) => [i, dataBase + ecShardExt(i)]));
        try {
          await rebuildInWorker({ dataShards: meta.dataShards, parityShards: meta.parityShards, inputs, outputs });
        } catch (e) {
          // A half-written shard must never be mounted later.
          for (const p of Object.values(outputs)) await rm(p, { force: true }).catch(() => undefined);
          throw plain(`RebuildEcFiles ${dataBase}: rebuildEcFiles: ${messageOf(e)}`);
        }
      }
      const indexBase = ecIndexBase(target, collection, vid);
      try {
        await rebuildEcxFile(indexBase, store.offsetWidth);
      } catch (e) {
        throw plain(`RebuildEcxFile ${indexBase}: ${messageOf(e)}`);
      }
      return { rebuilt_shard_ids: missing };
    },
  };
}
