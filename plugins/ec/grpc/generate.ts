// VolumeEcShardsGenerate (Go's volume_grpc_erasure_coding.go): the .ecx from the volume's .idx
// first (so shards can only hold more than the index references, never less), then the shards
// striped from a snapshot of the .dat size in a worker thread, then the EC .vif.
import { rm, stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Cradle } from '../../../core/container.js';
import { vsError } from '../../../core/errors.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { ecShardExt } from '../../../core/storage/ec-placement.js';
import { buildProtection, ecsumPath, saveSidecar } from '../../../core/storage/ec-sum.js';
import { emptyVolumeInfo, loadVolumeInfo, saveVolumeInfo } from '../../../core/storage/volume-info.js';
import { volumeFileName } from '../../../core/storage/volume-files.js';
import { encodeInWorker, prewarmEncodeWorker } from '../codec/encode-pool.js';
import { blockLayout, uniformBlockSize } from '../codec/layout.js';
import { removeEcsumFiles, removeStaleEcArtifacts, syncFile, writeSortedEcx } from '../ec-files.js';
import { DEFAULT_DATA_SHARDS, DEFAULT_PARITY_SHARDS, MAX_SHARD_COUNT } from '../ec-volume.js';
import { ecStoreOf } from '../state.js';
import { checks, messageOf, plain, u32 } from './common.js';

export function generateRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, logger, jobs } = cradle;
  const check = checks(cradle);
  const ec = ecStoreOf(cradle);
  // Two encodes of one volume at once would write the same files.
  const inFlight = new Set<number>();
  return {
    VolumeEcShardsGenerate: async (call: Msg) => {
      check.admin(call);
      check.notInMaintenance();
      const vid = u32(call.request.volume_id);
      const collection = String(call.request.collection ?? '');
      const v = store.findVolume(vid);
      if (!v) throw plain(`volume ${vid} not found`);
      if (v.collection !== collection) throw plain(`existing collection:${v.collection} unexpected input: ${collection}`);
      const base = v.fileName('.dat').slice(0, -'.dat'.length);
      const idxPath = v.fileName('.idx');
      const ecxPath = idxPath.slice(0, -'.idx'.length) + '.ecx';

      // A regeneration keeps a valid ratio its .vif already records.
      let dataShards = DEFAULT_DATA_SHARDS;
      let parityShards = DEFAULT_PARITY_SHARDS;
      const existing = await loadVolumeInfo(base + '.vif');
      const cfg = existing.exists ? existing.info.ecShardConfig : null;
      if (cfg && cfg.dataShards > 0 && cfg.parityShards > 0 && cfg.dataShards + cfg.parityShards <= MAX_SHARD_COUNT) {
        dataShards = cfg.dataShards;
        parityShards = cfg.parityShards;
      }
      const total = dataShards + parityShards;
      const shardPaths = Array.from({ length: total }, (_, i) => base + ecShardExt(i));

      if (inFlight.has(vid)) throw vsError('VS_ERR_UNAVAILABLE', `ec volume ${vid} is already being encoded`);
      inFlight.add(vid);
      // The worker's start-up (modules, WASM compile) overlaps the wipe, sync and .ecx below.
      prewarmEncodeWorker();
      let ok = false;
      // Milliseconds per step, logged with the result: where an encode's time goes.
      const ms: Record<string, number> = {};
      let mark = performance.now();
      const lap = (step: string) => {
        const now = performance.now();
        ms[step] = Math.round(now - mark);
        mark = now;
      };
      try {
        // A retry never mixes two runs: unload the old EC volume, wipe its files on every disk.
        await ec.serial(() => ec.unloadVolume(vid));
        for (const loc of store.locations) {
          const dataBase = volumeFileName(loc.directory, collection, vid);
          const idxBase = volumeFileName(loc.idxDirectory, collection, vid);
          try {
            await removeStaleEcArtifacts(dataBase, idxBase);
          } catch (e) {
            throw plain(`wipe stale EC artifacts for volume ${vid} on ${loc.directory}: ${messageOf(e)}`);
          }
        }
        lap('wipeMs');
        try {
          await writeSortedEcx(idxPath, ecxPath, store.offsetWidth, { sync: false });
        } catch (e) {
          throw plain(`WriteSortedFileFromIdx ${idxPath.slice(0, -4)}: ${messageOf(e)}`);
        }
        lap('ecxMs');
        // The fsyncs of the volume and of the .ecx (Go's generate has neither) run alongside the
        // encode instead of ahead of it: the encode reads through the page cache, which already
        // holds every completed write. They are still done before the RPC answers.
        const synced = Promise.all([v.sync(), syncFile(ecxPath)]);
        synced.catch(() => undefined);
        const datSize = (await stat(base + '.dat')).size;
        const blockSize = uniformBlockSize(datSize, dataShards);
        let checksums;
        try {
          const encode = { datPath: base + '.dat', shardPaths, dataShards, parityShards, datSize, layout: blockLayout(blockSize) };
          checksums = await jobs.run('ec.generate', { vid, collection, totalBytes: datSize }, (job) => encodeInWorker(encode, (b) => job.progress(b)));
        } catch (e) {
          throw plain(`WriteEcFiles ${base}: ${messageOf(e)}`);
        }
        lap('encodeMs');
        await synced;
        lap('syncMs');
        // The generation-0 bitrot sidecar travels with the shards (copy_ecsum_file). Best-effort,
        // as Go: without it the generation is unprotected, not broken.
        try {
          await saveSidecar(ecsumPath(base), buildProtection(checksums, { dataShards, parityShards, blockSize }));
        } catch (e) {
          logger.warn({ vid, err: messageOf(e) }, 'failed to write EC bitrot sidecar');
        }
        lap('ecsumMs');
        const ttlSeconds = v.ttl.minutes() * 60;
        const lastWrite = v.lastModifiedTsSeconds || Math.floor(Date.now() / 1000);
        const vi = emptyVolumeInfo();
        vi.version = v.version;
        vi.expireAtSec = ttlSeconds > 0 ? lastWrite + ttlSeconds : 0;
        vi.datFileSize = datSize;
        vi.ecShardConfig = {
          dataShards,
          parityShards,
          encodeTsNs: BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000)),
          unknown: { blockSize: String(blockSize) },
        };
        try {
          await saveVolumeInfo(base + '.vif', vi);
        } catch (e) {
          throw plain(`SaveVolumeInfo ${base}: ${messageOf(e)}`);
        }
        lap('vifMs');
        ok = true;
        logger.info({ vid, collection, datSize, dataShards, parityShards, ...ms }, 'ec shards generated');
      } finally {
        if (!ok) {
          for (const p of shardPaths) await rm(p, { force: true }).catch(() => undefined);
          await rm(ecxPath, { force: true }).catch(() => undefined);
          await removeEcsumFiles(base).catch(() => undefined);
        }
        inFlight.delete(vid);
      }
      return {};
    },
  };
}
