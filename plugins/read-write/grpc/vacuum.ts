// Vacuum RPCs driven by the master (Go: weed/server/volume_grpc_vacuum.go, weed/storage/volume_vacuum.go): check, compact
// (server-streaming progress every 128 MiB), commit and cleanup. The compaction itself lives in
// core/storage/vacuum.ts and runs while the volume keeps serving reads and writes.
import { availableParallelism, loadavg } from 'node:os';
import type { Cradle } from '../../../core/container.js';
import { vsError, type VolumeServerError } from '../../../core/errors.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import {
  cleanupCompaction,
  commitCompaction,
  compactVolume,
  ensureCompactionSpace,
  garbageLevel,
} from '../../../core/storage/vacuum.js';
import { checks, messageOf, plain, send } from './common.js';

/** Go's reportInterval: one progress message per 128 MiB of processed source offset. */
export const COMPACT_REPORT_INTERVAL = 128 * 1024 * 1024;

function loadAverage1m(): number {
  const cpus = availableParallelism();
  return cpus > 0 ? loadavg()[0] / cpus : 0;
}

function notFound(text: string): VolumeServerError {
  return vsError('VS_ERR_NOT_FOUND', text);
}

export function vacuumRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, config } = cradle;
  const { admin, notInMaintenance } = checks(cradle);

  return {
    // No whitelist, no maintenance check (Go).
    VacuumVolumeCheck: async (call: Msg) => {
      const id = call.request.volume_id >>> 0;
      const v = store.findVolume(id);
      if (!v) throw notFound(`volume id ${id} is not found during check compact: volume not found`);
      return { garbage_ratio: garbageLevel(v) };
    },

    VacuumVolumeCompact: async (call: Msg) => {
      admin(call);
      notInMaintenance();
      const r = call.request;
      const id = r.volume_id >>> 0;
      const v = store.findVolume(id);
      if (!v) throw notFound(`compact volume ${id}: volume id ${id} is not found during compact: volume not found`);
      const preallocate = Number(r.preallocate) || 0;
      let nextReport = COMPACT_REPORT_INTERVAL;
      const job = cradle.jobs.start('vacuum', { vid: id, collection: v.collection, totalBytes: v.datFileSize() });
      try {
        await ensureCompactionSpace(v, preallocate);
        await compactVolume(v, {
          preallocate,
          bytesPerSecond: config.compactionMBps * 1024 * 1024,
          progress: async (processed) => {
            job.progress(processed);
            if (call.cancelled) return false;
            if (processed > nextReport) {
              await send(call, { processed_bytes: processed, load_avg_1m: loadAverage1m() });
              nextReport = processed + COMPACT_REPORT_INTERVAL;
            }
            return true;
          },
        });
        job.finish();
      } catch (e) {
        job.fail(e);
        throw plain(`compact volume ${id}: ${messageOf(e)}`);
      }
    },

    VacuumVolumeCommit: async (call: Msg) => {
      admin(call);
      notInMaintenance();
      const id = call.request.volume_id >>> 0;
      if (store.stopping) throw plain(`commit compact volume ${id}: volume id ${id} skips compact because volume is stopping`);
      const v = store.findVolume(id);
      if (!v) throw notFound(`commit compact volume ${id}: volume id ${id} is not found during commit compact: volume not found`);
      const isReadOnly = v.isReadOnly();
      try {
        await commitCompaction(v);
      } catch (e) {
        throw plain(`commit compact volume ${id}: ${messageOf(e)}`);
      }
      return { is_read_only: isReadOnly, volume_size: v.datFileSize() };
    },

    VacuumVolumeCleanup: async (call: Msg) => {
      admin(call);
      notInMaintenance();
      const id = call.request.volume_id >>> 0;
      const v = store.findVolume(id);
      if (!v) throw notFound(`cleanup volume ${id}: volume id ${id} is not found during cleaning up: volume not found`);
      try {
        await cleanupCompaction(v);
      } catch (e) {
        throw plain(`cleanup volume ${id}: ${messageOf(e)}`);
      }
      return {};
    },
  };
}
