// VolumeEcShardsRebuild (Go's volume_grpc_erasure_coding.go): on the disk with the .ecx and the
// most shard files, regenerates every missing shard from any D present ones (other disks' shard
// files count as inputs) in a worker thread, then folds the .ecj into the .ecx. Shards are not
// mounted by this call. With a `.ecsum` bitrot sidecar, present shards that fail their checksums
// are regenerated too and every regenerated shard must match it (Go's generateMissingEcFiles);
// without one, a rebuild that reaches every shard writes one (Go's bitrot backfill). Shards are
// written under a temp name and renamed into place once checked: a final name never holds a
// half-written or unchecked shard.
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
  mismatchedChecksums,
  resolveProtection,
  saveSidecar,
  shardEntry,
  type ResolvedProtection,
} from '../../../core/storage/ec-sum.js';
import { volumeFileName } from '../../../core/storage/volume-files.js';
import { prewarmEncodeWorker, rebuildInWorker } from '../codec/encode-pool.js';
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
      // The worker's start-up (modules, WASM compile) overlaps the .vif and sidecar loads below.
      prewarmEncodeWorker();

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
      }
      // unsafe_ignore_sidecar: nothing is checked against it (no shard is excluded, no output refused).
      const prot = sum.status === 'on' && !unsafeIgnore ? sum.prot : undefined;

      /**
       * One rebuild pass: every present input read once, the missing shards written to temp files
       * beside their final names. With `checkInputs` (the sidecar's checksums of the present shards
       * are not checked yet), the checksums of the bytes read are taken in the same pass, and
       * `false` says an input failed them or could not be read: the temp files are gone and
       * nothing is published. Otherwise the outputs are checked against the sidecar and only then
       * renamed into place.
       */
      const regenerate = async (checkInputs: boolean): Promise<boolean> => {
        const finals = new Map(missing.map((i) => [i, replaced.get(i) ?? dataBase + ecShardExt(i)]));
        const outputs = Object.fromEntries([...finals].map(([i, final]) => [i, final + '.rebuilding']));
        const dropOutputs = async () => {
          for (const p of Object.values(outputs)) await rm(p, { force: true }).catch(() => undefined);
        };
        let sums: Awaited<ReturnType<typeof rebuildInWorker>>;
        try {
          const shardSize = Math.max(0, ...inputs.map((p) => (p ? fileSizeOrMissing(p) : 0)));
          const job = { dataShards: meta.dataShards, parityShards: meta.parityShards, inputs, outputs, checksumBlockSize: prot?.blockSize };
          sums = await jobs.run('ec.rebuild', { vid, collection, totalBytes: shardSize, detail: `shards ${missing.join(',')}` }, (j) =>
            rebuildInWorker(job, (b) => j.progress(b)),
          );
        } catch (e) {
          // A half-written shard must never be mounted later.
          await dropOutputs();
          if (checkInputs) {
            // the slower verify-then-rebuild follows; keep why the one-pass rebuild gave up
            logger.warn({ vid, err: messageOf(e) }, 'ec rebuild: one-pass rebuild failed; verifying every present shard first');
            return false;
          }
          throw fail(`rebuildEcFiles: ${messageOf(e)}`);
        }
        if (prot) {
          for (let i = 0; checkInputs && i < total; i++) {
            const entry = shardEntry(prot, i);
            const got = sums[i];
            if (!inputs[i] || !entry) continue;
            if (!got || mismatchedChecksums(entry, got).length > 0) {
              await dropOutputs();
              return false;
            }
          }
          // Reed-Solomon is deterministic: a regenerated shard that differs from the sidecar means
          // the sidecar is stale. Publish nothing then.
          for (const i of missing) {
            const entry = shardEntry(prot, i);
            if (!entry) continue;
            const got = sums[i];
            if (!got) {
              await dropOutputs();
              throw fail(`bitrot: verify regenerated shard ${i} for ${dataBase}: no checksums taken`);
            }
            const bad = mismatchedChecksums(entry, got);
            if (bad.length > 0) {
              await dropOutputs();
              throw fail(
                `bitrot: regenerated shard ${i} for ${dataBase} does not match sidecar (${bad.length} blocks differ); sidecar likely stale — aborting (pass unsafeIgnoreSidecar to override)`,
              );
            }
          }
        }
        for (const [i, final] of finals) {
          try {
            await rename(outputs[i], final);
          } catch (e) {
            await dropOutputs();
            if (replaced.has(i)) throw fail(`bitrot: replace corrupt shard ${i} (${outputs[i]} -> ${final}): ${messageOf(e)}`);
            throw fail(`rebuildEcFiles: publish shard ${i} (${outputs[i]} -> ${final}): ${messageOf(e)}`);
          }
        }
        return true;
      };

      // A rebuild reads every present shard: their sidecar checksums are taken in that same pass
      // instead of a read of their own first (Go's generateMissingEcFiles reads them twice). Only
      // when one fails (or the pass fails) does the rebuild go Go's way: verify every present
      // shard, regenerate the corrupt ones too, rebuild again from the good ones.
      // An input of another length than the sidecar records fails it: no use reading it first.
      const sizesMatch = () =>
        inputs.every((p, i) => {
          const entry = p && prot ? shardEntry(prot, i) : undefined;
          return !entry || fileSizeOrMissing(p!) === entry.coveredSize;
        });
      let rebuilt = false;
      if (missing.length > 0 && present >= meta.dataShards && sizesMatch()) rebuilt = await regenerate(prot !== undefined);
      if (!rebuilt) {
        if (prot) {
          const corrupt: number[] = [];
          for (let i = 0; i < total; i++) {
            const p = inputs[i];
            const entry = shardEntry(prot, i);
            if (!p || !entry) continue;
            try {
              if ((await mismatchedBlocks(p, entry, prot.blockSize)).length > 0) corrupt.push(i);
            } catch (e) {
              logger.warn({ vid, shardId: i, err: messageOf(e) }, 'bitrot: failed to verify present shard; excluding it');
              corrupt.push(i);
            }
          }
          if (corrupt.length > meta.parityShards) {
            throw fail(
              `bitrot sidecar suspect for ${dataBase}: ${corrupt.length}/${present} present shards mismatch (> parity ${meta.parityShards}); refusing to rebuild (pass unsafeIgnoreSidecar to override)`,
            );
          }
          if (corrupt.length > 0 && present - corrupt.length < meta.dataShards) {
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
        if (present < meta.dataShards) {
          throw fail(
            `not enough shards to rebuild ${dataBase}: found ${present} shards, need at least ${meta.dataShards} (data shards), missing shards: [${missing.join(' ')}]`,
          );
        }
        if (missing.length > 0) await regenerate(false);
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
