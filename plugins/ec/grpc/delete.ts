// VolumeEcShardsDelete (Go's volume_grpc_erasure_coding.go): removes shard files on every disk;
// the shared index (.ecx/.ecj, and a .vif no regular volume owns) goes only once no shard of the
// volume is left anywhere on this server. A full teardown wipes every EC file of the volume
// (generation-fenced when the request carries a generation).
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { ecShardExt } from '../../../core/storage/ec-placement.js';
import { volumeFileName } from '../../../core/storage/volume-files.js';
import { removeEcsumFiles, removeStaleEcArtifacts } from '../ec-files.js';
import { ecIndexBase, fileSizeOrMissing, MAX_SHARD_COUNT, readEcMeta } from '../ec-volume.js';
import { ecStoreOf } from '../state.js';
import { checks, collectionError, i64, messageOf, plain, shardIdsOf, u32 } from './common.js';

function shardFilesOn(dataBase: string): number {
  let n = 0;
  for (let i = 0; i < MAX_SHARD_COUNT; i++) if (fileSizeOrMissing(dataBase + ecShardExt(i)) >= 0) n++;
  return n;
}

export function deleteRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  const check = checks(cradle);
  const ec = ecStoreOf(cradle);
  return {
    VolumeEcShardsDelete: async (call: Msg) => {
      check.admin(call);
      const r = call.request;
      const vid = u32(r.volume_id);
      const collection = String(r.collection ?? '');
      const bad = collectionError(collection);
      if (bad) throw plain(bad);
      const bases = store.locations.map((loc) => ({
        loc,
        dataBase: volumeFileName(loc.directory, collection, vid),
        idxBase: volumeFileName(loc.idxDirectory, collection, vid),
      }));

      if (r.full_teardown) {
        const gen = i64(r.encode_ts_ns);
        for (const { loc, dataBase, idxBase } of bases) {
          if (gen > 0n) {
            // Only a disk whose generation is known and strictly older than the request's.
            let diskGen: bigint;
            try {
              diskGen = (await readEcMeta(dataBase + '.vif')).encodeTsNs;
            } catch {
              continue;
            }
            if (diskGen === 0n || diskGen >= gen) continue;
          }
          await ec.serial(() => ec.unloadOn(loc, vid));
          try {
            await removeStaleEcArtifacts(dataBase, idxBase);
          } catch (e) {
            throw plain(`full teardown of ec volume ${vid} on ${loc.directory}: ${messageOf(e)}`);
          }
        }
        return { full_teardown_done: true };
      }

      const ids = shardIdsOf(r.shard_ids);
      for (const { loc, dataBase } of bases) {
        let found = false;
        for (const s of ids) {
          const p = dataBase + ecShardExt(s);
          if (fileSizeOrMissing(p) < 0) continue;
          found = true;
          try {
            await rm(p, { force: true });
          } catch (e) {
            throw plain(`remove ec shard ${p}: ${messageOf(e)}`);
          }
        }
        // A checksum sidecar describes this disk's shards: gone with the last of them.
        if (found && shardFilesOn(dataBase) === 0) {
          await removeEcsumFiles(dataBase);
          const ib = ecIndexBase(loc, collection, vid);
          if (ib !== dataBase) await removeEcsumFiles(ib);
        }
      }
      const remaining = bases.reduce((n, b) => n + shardFilesOn(b.dataBase), 0);
      if (remaining === 0) {
        for (const { dataBase, idxBase } of bases) {
          for (const base of dataBase === idxBase ? [idxBase] : [idxBase, dataBase]) {
            await rm(base + '.ecx', { force: true });
            await rm(base + '.ecj', { force: true });
          }
          // The .vif stays where a regular volume (its .idx) still owns it.
          if (!existsSync(idxBase + '.idx') && !existsSync(dataBase + '.idx')) await rm(dataBase + '.vif', { force: true });
        }
      }
      return {};
    },
  };
}
