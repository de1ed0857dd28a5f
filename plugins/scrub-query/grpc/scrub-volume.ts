// ScrubVolume (Go: weed/server/volume_grpc_scrub.go): checks the named volumes, or every mounted
// one, in INDEX mode (the .idx alone) or FULL mode (LOCAL and READS are FULL for a regular volume:
// there are no shards to stay local to or rebuild from), and with mark_broken_volumes_readonly
// makes each broken volume read-only, persisted, as VolumeMarkReadonly does (allowed in
// maintenance mode: it only restricts the server further).
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { checks, plain } from '../../../core/grpc/rpc-support.js';
import { VolumeClosedError } from '../../../core/storage/storage-errors.js';
import { scrubVolumeData, scrubVolumeIndex, type ScrubOutcome } from '../../../core/storage/volume-scan.js';
import type { Volume } from '../../../core/storage/volume.js';
import { ScanPacer } from '../scan-pacer.js';
import { modeName, modeNumber } from './scrub-mode.js';

export function scrubVolumeRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, masterClient, logger, config, metrics, jobs } = cradle;
  const { admin } = checks(cradle);
  const log = logger.child({ family: 'scrub-query' });

  const notifyMaster = (v: Volume) =>
    masterClient.notifyVolumeReadonly(
      { id: v.id, collection: v.collection, replicaPlacement: v.replicaPlacement.toByte(), ttl: v.ttl.toUint32(), diskType: v.diskType },
      true,
    );

  /** Go's makeVolumeReadonly(ctx, v, canDelete=false, persist=true). */
  const makeReadonly = async (v: Volume): Promise<void> => {
    await notifyMaster(v);
    await store.markVolumeReadonly(v.id, false, true);
    await notifyMaster(v);
  };

  return {
    ScrubVolume: async (call: Msg) => {
      admin(call);
      const r = call.request;
      const mode = modeNumber(r.mode);
      const explicit = (r.volume_ids ?? []).length > 0;
      const vids: number[] = explicit ? (r.volume_ids as number[]).map((x) => x >>> 0) : store.allVolumes().map((v) => v.id);
      const pacer = new ScanPacer(call, log, config.maintenanceMBps * 1024 * 1024, modeName(mode), { registry: jobs, kind: 'scrub' });

      const details: string[] = [];
      const broken: Volume[] = [];
      let totalVolumes = 0;
      let totalFiles = 0;
      for (const vid of vids) {
        pacer.check();
        const v = store.findVolume(vid);
        // A volume from our own listing may go (deleted, unmounted) while others are scanned:
        // skip it rather than lose every result so far. A volume the caller named must exist.
        const vanished = () => {
          if (explicit) throw plain(`volume id ${vid} not found`);
          log.info({ vid }, 'scrub: volume is no longer mounted, skipping');
        };
        if (!v) {
          vanished();
          continue;
        }
        let out: ScrubOutcome;
        // INDEX reads the .idx; the data modes read the .dat as well.
        pacer.begin(vid, { collection: v.collection, totalBytes: v.idxFileSize() + (mode === 1 ? 0 : v.datFileSize()) });
        try {
          if (mode === 1) out = await scrubVolumeIndex(v, pacer.hooks());
          else if (mode === 2 || mode === 3 || mode === 5) out = await scrubVolumeData(v, pacer.hooks());
          else throw plain(`unsupported volume scrub mode ${mode}`);
        } catch (e) {
          pacer.settle(e);
          if (call.cancelled) {
            log.info({ vid, mode: modeName(mode) }, 'scrub: cancelled by the client');
            throw e;
          }
          if (e instanceof VolumeClosedError || store.findVolume(vid) !== v) {
            vanished();
            continue;
          }
          throw e;
        }
        pacer.end(out.files, out.errors.length);
        totalVolumes++;
        totalFiles += out.files;
        if (out.errors.length > 0) {
          broken.push(v);
          details.push(...out.errors);
          log.warn({ vid, problems: out.errors.length, first: out.errors[0] }, 'scrub: volume is broken');
        }
      }

      const failures: string[] = [];
      if (r.mark_broken_volumes_readonly) {
        for (const v of broken) {
          try {
            await makeReadonly(v);
            details.push(`volume ${v.id} is now read-only`);
          } catch (e) {
            const text = (e as Error).message;
            failures.push(text);
            details.push(text);
          }
        }
      }

      const labels = { mode: modeName(mode) };
      metrics.scrubLastTimeSeconds.set(labels, Math.floor(Date.now() / 1000));
      metrics.scrubVolumeFailures.inc(labels, broken.length);

      if (failures.length > 0) throw plain(failures.join('\n'));
      return {
        total_volumes: String(totalVolumes),
        total_files: String(totalFiles),
        broken_volume_ids: broken.map((v) => v.id),
        details,
      };
    },
  };
}
