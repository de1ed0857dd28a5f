// ScrubEcVolume (Go: weed/server/volume_grpc_scrub.go scrubEcVolumes): checks the named EC volumes,
// or every one mounted here, in INDEX (the .ecx), LOCAL (local shards and the needles they hold
// wholly), FULL and READS (every needle, shards read as stored; READS rebuilds what cannot be read)
// or CHECKSUM (local shard bytes against the .ecsum bitrot sidecar) mode. EC volumes are reached
// through core's EcVolumeAccess only.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { checks, plain } from '../../../core/grpc/rpc-support.js';
import { scrubEcChecksum, scrubEcIndex, scrubEcLocal, scrubEcReads, type BrokenShard, type EcScrubOutcome } from '../ec-scrub.js';
import { ScanPacer } from '../scan-pacer.js';
import { modeName, modeNumber } from './scrub-mode.js';

export function scrubEcVolumeRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, contributions, metrics, logger, config, jobs } = cradle;
  const { admin } = checks(cradle);
  const log = logger.child({ family: 'scrub-query' });
  return {
    ScrubEcVolume: async (call: Msg) => {
      admin(call);
      const r = call.request;
      const mode = modeNumber(r.mode);
      if (r.force_deleted_needles_check && mode !== 2 && mode !== 5) {
        throw plain('deleted needle checks are only supported for FULL and READS scrubs');
      }
      // Every mounted EC volume once, in location order, as Go's de-duplicated listing.
      const explicit = (r.volume_ids ?? []).length > 0;
      const vids: number[] = [];
      if (explicit) for (const x of r.volume_ids as number[]) vids.push(x >>> 0);
      else for (const s of contributions.ecShards()) if (!vids.includes(s.id >>> 0)) vids.push(s.id >>> 0);
      const metadataDirs = [...new Set(store.locations.flatMap((l) => [l.directory, l.idxDirectory]))];
      const pacer = new ScanPacer(call, log, config.maintenanceMBps * 1024 * 1024, modeName(mode), { registry: jobs, kind: 'scrub.ec' });
      const abort = new AbortController();
      const onCancel = () => abort.abort();
      call.once('cancelled', onCancel);

      const details: string[] = [];
      const brokenIds: number[] = [];
      const brokenShards: BrokenShard[] = [];
      let totalVolumes = 0;
      let totalFiles = 0;
      try {
        for (const vid of vids) {
          pacer.check();
          const ev = contributions.ecVolume(vid);
          if (!ev) {
            if (explicit) throw plain(`EC volume id ${vid} not found`);
            log.info({ vid }, 'ec scrub: volume is no longer mounted, skipping');
            continue;
          }
          const hooks = pacer.hooks();
          const width = store.offsetWidth;
          let out: EcScrubOutcome;
          pacer.begin(vid, { collection: ev.collection });
          if (mode === 1) out = await scrubEcIndex(ev, width, hooks);
          else if (mode === 3) out = await scrubEcLocal(ev, width, hooks);
          else if (mode === 2 || mode === 5) out = await scrubEcReads(ev, width, mode === 2 ? 'FULL' : 'READS', !!r.force_deleted_needles_check, hooks, abort.signal);
          else if (mode === 4) out = await scrubEcChecksum(ev, metadataDirs, hooks);
          else throw plain(`unsupported EC volume scrub mode ${mode}`);
          pacer.end(out.files, out.errors.length + out.broken.length);
          totalVolumes++;
          totalFiles += out.files;
          if (out.errors.length > 0 || out.broken.length > 0) {
            brokenIds.push(vid);
            brokenShards.push(...out.broken);
            details.push(...out.errors);
            log.warn({ vid, shards: out.broken.map((s) => s.shard_id), problems: out.errors.length, first: out.errors[0] }, 'ec scrub: volume is broken');
          }
        }
      } catch (e) {
        pacer.settle(e);
        if (call.cancelled) log.info({ mode: modeName(mode) }, 'ec scrub: cancelled by the client');
        throw e;
      } finally {
        call.off('cancelled', onCancel);
      }

      const labels = { mode: modeName(mode) };
      metrics.scrubLastTimeSeconds.set(labels, Math.floor(Date.now() / 1000));
      metrics.scrubVolumeFailures.inc(labels, brokenIds.length);
      metrics.scrubShardFailures.inc(labels, brokenShards.length);
      return {
        total_volumes: String(totalVolumes),
        total_files: String(totalFiles),
        broken_volume_ids: brokenIds,
        broken_shard_infos: brokenShards,
        details,
      };
    },
  };
}
