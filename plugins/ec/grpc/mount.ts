// VolumeEcShardsMount / VolumeEcShardsUnmount / VolumeEcShardsInfo (Go's
// volume_grpc_erasure_coding.go): shards in and out of service, and what this server holds of a
// volume.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { rawSize } from '../../../core/storage/types.js';
import { ecStoreOf } from '../state.js';
import { checks, collectionError, i64, messageOf, plain, shardIdsOf, u32 } from './common.js';

export function mountRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const check = checks(cradle);
  const ec = ecStoreOf(cradle);
  return {
    VolumeEcShardsMount: async (call: Msg) => {
      const r = call.request;
      const vid = u32(r.volume_id);
      const collection = String(r.collection ?? '');
      const bad = collectionError(collection);
      if (bad) throw plain(bad);
      for (const shardId of shardIdsOf(r.shard_ids)) {
        try {
          await ec.mountShard(collection, vid, shardId, String(r.source_disk_type ?? ''));
        } catch (e) {
          throw plain(`mount ${vid}.${shardId}: ${messageOf(e)}`);
        }
      }
      return {};
    },

    VolumeEcShardsUnmount: async (call: Msg) => {
      check.admin(call);
      const r = call.request;
      const vid = u32(r.volume_id);
      for (const shardId of shardIdsOf(r.shard_ids)) {
        try {
          await ec.unmountShard(vid, shardId, i64(r.encode_ts_ns));
        } catch (e) {
          throw plain(`unmount ${vid}.${shardId}: ${messageOf(e)}`);
        }
      }
      return {};
    },

    VolumeEcShardsInfo: async (call: Msg) => {
      const vid = u32(call.request.volume_id);
      const all = ec.findAll(vid);
      if (all.length === 0) throw plain(`VolumeEcShardsInfo: EC volume ${vid} not found`);
      const seen = new Set<number>();
      const infos: Msg[] = [];
      for (const ev of all) {
        for (const s of ev.shards.values()) {
          if (seen.has(s.shardId)) continue;
          seen.add(s.shardId);
          infos.push({ shard_id: s.shardId, size: String(s.size), collection: ev.collection, volume_id: vid });
        }
      }
      let files = 0;
      let deleted = 0;
      let total = 0;
      // Raw sizes of deleted entries count too, like VolumeStatus's size of the .dat.
      await all[0].walkIndex((_id, _offset, size) => {
        total += rawSize(size);
        if (size < 0) deleted++;
        else files++;
      });
      // The layout reads go through: the ec.encode worker refuses to delete the source volume unless
      // every holder serves the block size it encoded with (Go's RequireAgreedBlockLayout).
      const meta = all[0].meta;
      return {
        ec_shard_infos: infos,
        volume_size: String(total),
        file_count: String(files),
        file_deleted_count: String(deleted),
        ec_shard_config: { data_shards: meta.dataShards, parity_shards: meta.parityShards, block_size: String(meta.blockSize) },
      };
    },
  };
}
