// VolumeEcShardsRebuild (Go's volume_grpc_erasure_coding.go): on the disk with the .ecx and the
// most shard files, regenerates every missing shard from any D present ones (other disks' shard
// files count as inputs) in a worker thread, then folds the .ecj into the .ecx. Shards are not
// mounted by this call. With a `.ecsum` bitrot sidecar, present shards that fail their checksums
// are regenerated too and every regenerated shard must match it (Go's generateMissingEcFiles);
// without one, a rebuild that reaches every shard writes one (Go's bitrot backfill).
import { open, rename, rm } from 'node:fs/promises';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import type { DiskLocation } from '../../../core/storage/disk-location.js';
import { ecShardExt } from '../../../core/storage/ec-placement.js';
import {
  buildProtection,
  computeShardFileChecksums,
  ecsumPath,
  findSidecar,
  mismatchedBlocks,
  resolveProtection,
  saveSidecar,
  shardEntry,
  type ResolvedProtection,
} from '../../../core/storage/ec-sum.js';
import { volumeFileName } from '../../../core/storage/volume-files.js';
import { rebuildInWorker } from '../codec/encode-pool.js';
import { rebuildEcxFile } from '../ec-files.js';
import { ecIndexBase, fileSizeOrMissing, MAX_SHARD_COUNT, readEcMeta } from '../ec-volume.js';
import { ecStoreOf } from '../state.js';
import { checks, collectionError, messageOf, plain, u32 } from './common.js';

function shardCount(dataBase: string): number {
  let n = 0;
  for (let i = 0; i < MAX_SHARD_COUNT; i++) if (fileSizeOrMissing(dataBase + ecShardExt(i)) >= 0) n++;
  return n;
}

export function rebuildRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, logger, jobs } = cradle;
  const check = checks(cradle);
  const ec = ecStoreOf(cradle);
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
      const unsafeIgnore = !!call.request.unsafe_ignore_sidecar;
      const indexBase = ecIndexBase(target, collection, vid);
      const dirs = [...new Set(store.locations.flatMap((l) => [l.directory, l.idxDirectory]))];
      const layout = { dataShards: meta.dataShards, parityShards: meta.parityShards, blockSize: meta.blockSize };
      // Go's loadRebuildSidecar: a sidecar recording another layout is unusable here, not fatal.
      let sum: ResolvedProtection;
      try {
        sum = await resolveProtection(vid, layout, dataBase, indexBase, dirs);
      } catch (e) {
        sum = { status: 'invalid', reason: messageOf(e) };
      }
      const fail = (text: string) => plain(`RebuildEcFiles ${dataBase}: ${text}`);
      let present = total - missing.length;
      // Present shards that fail the sidecar are regenerated in place: written beside the original,
      // checked, then renamed over it.
      const replaced = new Map<number, string>();
      if (sum.status === 'invalid') {
        if (!unsafeIgnore) throw fail(`bitrot sidecar for ${dataBase} is malformed/unverifiable; refusing to rebuild (pass unsafeIgnoreSidecar to override)`);
        logger.warn({ vid, reason: sum.reason }, 'bitrot sidecar is malformed/unverifiable; rebuilding anyway (unsafe_ignore_sidecar)');
      } else if (sum.status === 'on' && sum.prot) {
        const corrupt: number[] = [];
        for (let i = 0; i < total; i++) {
          const p = inputs[i];
          const entry = shardEntry(sum.prot, i);
          if (!p || !entry) continue;
          try {
            if ((await mismatchedBlocks(p, entry, sum.prot.blockSize)).length > 0) corrupt.push(i);
          } catch (e) {
            logger.warn({ vid, shardId: i, err: messageOf(e) }, 'bitrot: failed to verify present shard; excluding it');
            corrupt.push(i);
          }
        }
        if (corrupt.length > 0 && !unsafeIgnore) {
          if (corrupt.length > meta.parityShards) {
            throw fail(
              `bitrot sidecar suspect for ${dataBase}: ${corrupt.length}/${present} present shards mismatch (> parity ${meta.parityShards}); refusing to rebuild (pass unsafeIgnoreSidecar to override)`,
            );
          }
          if (present - corrupt.length < meta.dataShards) {
            throw fail(
              `bitrot: only ${present - corrupt.length} verified-good shards for ${dataBase}, need ${meta.dataShards} data shards; sidecar may be stale (pass unsafeIgnoreSidecar to override)`,
            );
          }
          for (const i of corrupt) {
            logger.warn({ vid, shardId: i }, 'bitrot: present shard fails its checksum; regenerating it');
            replaced.set(i, inputs[i]!);
            inputs[i] = undefined;
            missing.push(i);
            present--;
          }
        }
      }
      if (present < meta.dataShards) {
        throw fail(
          `not enough shards to rebuild ${dataBase}: found ${present} shards, need at least ${meta.dataShards} (data shards), missing shards: [${missing.join(' ')}]`,
        );
      }
      if (missing.length > 0) {
        const outputs = Object.fromEntries(missing.map((i) => [i, replaced.has(i) ? replaced.get(i)! + '.rebuilding' : dataBase + ecShardExt(i)]));
        const dropOutputs = async () => {
          for (const p of Object.values(outputs)) await rm(p, { force: true }).catch(() => undefined);
        };
        try {
          const shardSize = Math.max(0, ...inputs.map((p) => (p ? fileSizeOrMissing(p) : 0)));
          await jobs.run('ec.rebuild', { vid, collection, totalBytes: shardSize, detail: `shards ${missing.join(',')}` }, (job) =>
            rebuildInWorker({ dataShards: meta.dataShards, parityShards: meta.parityShards, inputs, outputs }, (b) => job.progress(b)),
          );
        } catch (e) {
          // A half-written shard must never be mounted later.
          await dropOutputs();
          throw fail(`rebuildEcFiles: ${messageOf(e)}`);
        }
        // Reed-Solomon is deterministic: a regenerated shard that differs from the sidecar means the
        // sidecar is stale. Publish nothing then.
        if (sum.status === 'on' && sum.prot && !unsafeIgnore) {
          for (const i of missing) {
            const entry = shardEntry(sum.prot, i);
            if (!entry) continue;
            let bad: number[];
            try {
              bad = await mismatchedBlocks(outputs[i], entry, sum.prot.blockSize);
            } catch (e) {
              await dropOutputs();
              throw fail(`bitrot: verify regenerated shard ${i} for ${dataBase}: ${messageOf(e)}`);
            }
            if (bad.length > 0) {
              await dropOutputs();
              throw fail(
                `bitrot: regenerated shard ${i} for ${dataBase} does not match sidecar (${bad.length} blocks differ); sidecar likely stale — aborting (pass unsafeIgnoreSidecar to override)`,
              );
            }
          }
        }
        for (const [i, final] of replaced) {
          try {
            await rename(outputs[i], final);
          } catch (e) {
            throw fail(`bitrot: replace corrupt shard ${i} (${outputs[i]} -> ${final}): ${messageOf(e)}`);
          }
        }
        // A replaced shard that is mounted still reads the old inode: point it at the new file.
        if (replaced.size > 0) {
          await ec.serial(async () => {
            for (const i of replaced.keys()) {
              for (const ev of ec.findAll(vid)) {
                const s = ev.shards.get(i);
                if (!s) continue;
                try {
                  const fh = await open(s.path, 'r');
                  const size = (await fh.stat()).size;
                  const old = s.fh;
                  ev.shards.set(i, { ...s, fh, size });
                  await old.close().catch(() => undefined);
                } catch (e) {
                  logger.warn({ vid, shardId: i, err: messageOf(e) }, 'regenerated shard could not be reopened; unmounting it');
                  await ev.removeShard(i);
                }
              }
            }
          });
        }
      }
      try {
        await rebuildEcxFile(indexBase, store.offsetWidth);
      } catch (e) {
        throw plain(`RebuildEcxFile ${indexBase}: ${messageOf(e)}`);
      }
      // Bitrot backfill: a volume without a sidecar anywhere gets one when every shard is reachable
      // here (trust on first use: it blesses the bytes as they are now).
      if (!(await findSidecar(0, dataBase, indexBase, dirs))) {
        try {
          const sums = [];
          for (let i = 0; i < total; i++) {
            const p = [dataBase, ...others.map((l) => volumeFileName(l.directory, collection, vid))].map((b) => b + ecShardExt(i)).find((c) => fileSizeOrMissing(c) > 0);
            if (!p) throw new Error(`shard ${i} missing for ${dataBase}; refusing to write a partial sidecar`);
            sums.push(await computeShardFileChecksums(p));
          }
          await saveSidecar(ecsumPath(dataBase), buildProtection(sums, layout));
          logger.info({ vid }, 'bitrot backfill: wrote sidecar after rebuild');
        } catch (e) {
          logger.debug({ vid, err: messageOf(e) }, 'bitrot backfill skipped');
        }
      }
      return { rebuilt_shard_ids: missing };
    },
  };
}
