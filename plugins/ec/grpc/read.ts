// VolumeEcShardRead and VolumeEcBlobDelete (Go's volume_grpc_erasure_coding.go): serving a byte
// range of a local shard to a peer (fenced by the encode generation, a deleted needle answered
// with is_deleted), and journalling a delete on this holder.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { NEEDLE_NOT_FOUND } from '../ec-volume.js';
import { ecStoreOf } from '../state.js';
import { checks, i64, plain, send, u32, u64 } from './common.js';

/** Go's BufferSizeLimit: the largest data chunk of one streamed message. */
const BUFFER_SIZE_LIMIT = 2 * 1024 * 1024;

export function readRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const check = checks(cradle);
  const ec = ecStoreOf(cradle);
  return {
    VolumeEcShardRead: async (call: Msg) => {
      const r = call.request;
      const vid = u32(r.volume_id);
      const shardId = u32(r.shard_id);
      const found = ec.findShard(vid, shardId);
      if (!found) throw plain(`not found ec shard ${vid}.${shardId}`);
      const { ev, shard } = found;
      const gen = ev.meta.encodeTsNs;
      const want = i64(r.encode_ts_ns);
      if (want !== 0n && want !== gen) throw plain(`ec shard ${vid}.${shardId} belongs to a different encode run`);
      const fileKey = u64(r.file_key);
      if (fileKey !== 0n) {
        const n = await ev.findNeedle(fileKey);
        // A delete is journalled on one disk's EC volume (VolumeEcBlobDelete): the volume's other
        // disks, which may share that journal or keep their own, must answer it deleted too.
        if (n && (n.size < 0 || ec.findAll(vid).some((other) => other.isJournalled(fileKey)))) {
          await send(call, { is_deleted: true, encode_ts_ns: gen.toString() });
          return;
        }
      }
      let offset = i64(r.offset);
      let left = i64(r.size);
      if (offset < 0n) throw plain(`ec shard ${vid}.${shardId}: negative offset ${offset}`);
      if (left <= 0n) return;
      const buf = Buffer.allocUnsafe(Number(left < BigInt(BUFFER_SIZE_LIMIT) ? left : BigInt(BUFFER_SIZE_LIMIT)));
      while (left > 0n) {
        if (offset >= BigInt(shard.size)) return; // end of the shard: fewer bytes, no error
        const n = Number(left < BigInt(buf.length) ? left : BigInt(buf.length));
        const { bytesRead } = await shard.fh.read(buf, 0, n, Number(offset));
        if (bytesRead === 0) return;
        await send(call, { data: Buffer.from(buf.subarray(0, bytesRead)), encode_ts_ns: gen.toString() });
        offset += BigInt(bytesRead);
        left -= BigInt(bytesRead);
      }
    },

    VolumeEcBlobDelete: async (call: Msg) => {
      check.notInMaintenance();
      const r = call.request;
      const vid = u32(r.volume_id);
      const key = u64(r.file_key);
      // The first disk holding the volume journals it; no local EC volume is a no-op (Go).
      const ev = ec.findAll(vid)[0];
      if (!ev) return {};
      const n = await ev.findNeedle(key);
      if (!n) throw plain(`locate in local ec volume: FindNeedleFromEcx: ${NEEDLE_NOT_FOUND}`);
      if (n.size < 0) return {};
      await ev.journalDelete(key);
      return {};
    },
  };
}
