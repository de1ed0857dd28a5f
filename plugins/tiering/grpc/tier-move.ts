// VolumeTierMoveDatToRemote and VolumeTierMoveDatFromRemote (Go: weed/server/
// volume_grpc_tier_upload.go, volume_grpc_tier_download.go, weed/storage/volume_tier.go): the
// checks in Go's order with Go's texts, then the transfer with progress messages (at most one a
// second, as Go), the .vif switch and the volume's data file swapped in place.
//
// The switch runs with the volume's writes held off (runExclusive), as Go swaps the data backend
// under its locks: the data file cannot change between the "still what was copied" check and the
// .vif naming the copy, so no write is lost to the tier. The volume is reloaded from its files the
// way a compaction commit does it: reads never see it missing, and a read that started on the old
// data file finishes from it (core/storage/backend/pinned-file.ts). The volume is claimed for the
// whole move, so a copy, delete or unmount of it is refused meanwhile.
import type { JobHandle } from '../../../core/jobs/job-registry.js';
import type { Stats } from 'node:fs';
import { open, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Cradle } from '../../../core/container.js';
import { vsError } from '../../../core/errors.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { checks, plain, send } from '../../../core/grpc/rpc-support.js';
import { RETIRED_PIN_IDLE_MS } from '../../../core/storage/backend/pinned-file.js';
import type { Store } from '../../../core/storage/store.js';
import type { Volume } from '../../../core/storage/volume.js';
import { saveVolumeInfo, type RemoteFile, type VolumeInfo } from '../../../core/storage/volume-info.js';
import { backendNameToTypeId, type TierBackend, type TierBackends } from '../backends.js';
import type { Progress } from '../s3/s3-backend.js';
import { goList, throttled, tierVolume, u32 } from './common.js';

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A download goes to `<volume>.dat.download` and is renamed over the .dat once complete. */
export const DOWNLOAD_SUFFIX = '.dat.download';

/** Go's clampTierConcurrency: 0 (the backend's default) up to 1024 (the backend bounds it further). */
function tierConcurrency(raw: unknown): number {
  const n = Number(raw ?? 0);
  if (!Number.isInteger(n) || n < 0) return 0;
  return Math.min(n, 1024);
}

/** Progress to the caller (throttled, as Go) and to the job registry (every step). */
function progressSender(call: Msg, job: JobHandle): Progress {
  const toCaller = throttled((processed, percentage) => send(call, { processed: String(processed), processedPercentage: percentage }));
  return async (processed, percentage) => {
    job.progress(processed);
    await toCaller(processed, percentage);
  };
}

/** Runs `fn` with volume `id` claimed; refused while another copy or move holds it. */
async function claimed<T>(store: Store, id: number, fn: () => Promise<T>): Promise<T> {
  if (!store.beginCopy(id)) throw vsError('VS_ERR_UNAVAILABLE', `volume ${id} is being copied or moved`);
  try {
    return await fn();
  } finally {
    store.endCopy(id);
  }
}

/**
 * With the volume's writes held off: `prepare` changes its files, then the volume is reloaded from
 * them in place. When either fails, `vifPath` gets `fallback` back and the volume stays on the
 * files it had (a failed reload leaves the loaded volume untouched).
 */
async function swapInPlace(v: Volume, vifPath: string, fallback: VolumeInfo, prepare: () => Promise<void>): Promise<void> {
  await v.runExclusive(async () => {
    try {
      await prepare();
      await v.reloadAfterCompaction();
    } catch (e) {
      await saveVolumeInfo(vifPath, fallback);
      throw e;
    }
  });
}

interface Move {
  volume: Volume;
  backends: TierBackends;
  log: Logger;
  id: number;
  datPath: string;
  vifPath: string;
  info: VolumeInfo;
  progress: Progress;
}

/** Uploads the .dat, then switches the volume to the copy (Go's CopyFile + AttachRemoteDatFile). */
async function moveToRemote(m: Move, backend: TierBackend, name: string, before: Stats, keepLocal: boolean, concurrency: number): Promise<void> {
  const { volume: v, log, id, datPath, vifPath } = m;
  let copied: { key: string; size: number };
  try {
    copied = await backend.copyFile(datPath, m.progress, concurrency);
  } catch (e) {
    throw plain(`backend ${name} copy file ${datPath}: ${(e as Error).message}`);
  }
  const { type, id: backendId } = backendNameToTypeId(name);
  const remote: RemoteFile = {
    backendType: type,
    backendId,
    key: copied.key,
    offset: 0,
    fileSize: copied.size,
    modifiedTime: Math.floor(before.mtimeMs / 1000),
    extension: '.dat',
  };
  const local: VolumeInfo = { ...m.info, files: [...m.info.files] };
  const wasReadOnly = v.readOnlyReasons();
  try {
    // Go's MarkTieredDeletable: no writes from here on, deletes go to the .idx (the reload keeps
    // the volume's runtime marks, so the mark is set before it)
    await v.markReadOnly(true);
    await swapInPlace(v, vifPath, local, async () => {
      const now = await stat(datPath);
      if (now.ino !== before.ino || now.size !== copied.size) {
        throw new Error(`volume ${id} data file changed during the copy (compacted or reloaded)`);
      }
      await saveVolumeInfo(vifPath, { ...local, files: [...local.files, remote] });
    });
  } catch (e) {
    await backend.deleteFile(copied.key).catch((err: Error) => log.warn({ vid: id, key: copied.key, err: err.message }, 'remove unused remote copy failed'));
    // the marks it had before (the runtime ones: a persisted mark is in the restored .vif)
    const restore = !wasReadOnly.noWriteOrDelete && !wasReadOnly.noWriteCanDelete ? v.markWritable() : wasReadOnly.noWriteOrDelete ? v.markReadOnly(false) : Promise.resolve();
    await restore.catch((err: Error) => log.warn({ vid: id, err: err.message }, 'restore read-only marks after a failed tier move failed'));
    throw plain(`volume ${id} failed to attach remote file: ${(e as Error).message}`);
  }
  log.info({ vid: id, backend: name, key: copied.key, size: copied.size }, 'volume data file moved to the remote tier');
  if (!keepLocal) await rm(datPath, { force: true });
}

/** Downloads the remote .dat, switches the volume back to it, then deletes the remote object unless kept. */
async function moveFromRemote(m: Move, backend: TierBackend, name: string, remote: RemoteFile, keepRemote: boolean, concurrency: number): Promise<void> {
  const { volume: v, log, id, datPath, vifPath } = m;
  // downloaded beside the .dat, then renamed over it with the volume's writes held off
  const partial = datPath.slice(0, -'.dat'.length) + DOWNLOAD_SUFFIX;
  try {
    await backend.downloadFile(partial, remote.key, m.progress, concurrency);
  } catch (e) {
    await rm(partial, { force: true });
    throw plain(`backend ${name} copy file ${datPath}: ${(e as Error).message}`);
  }
  const tiered: VolumeInfo = { ...m.info, files: [...m.info.files] };
  try {
    await swapInPlace(v, vifPath, tiered, async () => {
      await rename(partial, datPath);
      if (remote.modifiedTime > 0) {
        await utimes(datPath, remote.modifiedTime, remote.modifiedTime).catch((e: Error) =>
          log.warn({ vid: id, err: e.message }, 'restore data file modified time failed'),
        );
      }
      await fsyncDir(dirname(datPath));
      // the .vif stops naming the remote object before the object is deleted
      await saveVolumeInfo(vifPath, { ...tiered, files: tiered.files.slice(1) });
    });
  } catch (e) {
    await rm(partial, { force: true });
    throw plain(`volume ${id} failed to open local dat file ${datPath}: ${(e as Error).message}`);
  }
  // writable again unless its .vif says read-only (what a fresh load of the local volume gives)
  if (!tiered.readOnly) {
    await v.markWritable().catch((e: Error) => log.warn({ vid: id, err: e.message }, 'mark writable after the tier download failed'));
  }
  log.info({ vid: id, backend: name, key: remote.key }, 'volume data file moved back from the remote tier');
  if (keepRemote) return;
  // reads that started on the remote file finish from it before it goes (bounded: a pin idle that
  // long is revoked anyway, core/storage/backend/pinned-file.ts)
  await m.backends.whenUnused(name, remote.key.startsWith('/') ? remote.key.slice(1) : remote.key, RETIRED_PIN_IDLE_MS);
  try {
    await backend.deleteFile(remote.key);
  } catch (e) {
    throw plain(`volume ${id} failed to delete remote file ${remote.key}: ${(e as Error).message}`);
  }
}

export function tierMoveRpcs(cradle: Cradle, backends: TierBackends): Record<string, GrpcHandler> {
  const { store, logger, jobs } = cradle;
  const log = logger.child({ plugin: 'tiering' });
  const check = checks(cradle);

  return {
    VolumeTierMoveDatToRemote: async (call: Msg) => {
      check.admin(call);
      check.notInMaintenance();
      const req = call.request;
      const id = u32(req.volume_id);
      const v = tierVolume(store, id, String(req.collection ?? ''));
      // a volume already served from a remote tier: nothing to do (Go returns nil)
      if (v.volumeInfo.files.length > 0) return;
      const datPath = v.fileName('.dat');
      let before: Stats;
      try {
        before = await stat(datPath);
      } catch (e) {
        throw plain(`stat data file ${datPath}: ${(e as Error).message}`);
      }
      const name = String(req.destination_backend_name ?? '');
      const backend = backends.get(name);
      if (!backend) throw plain(`destination ${name} not found, supported: ${goList(backends.names())}`);
      const { type, id: backendId } = backendNameToTypeId(name);
      if (v.volumeInfo.files.some((f) => f.backendType === type && f.backendId === backendId)) {
        throw plain(`destination ${name} already exists`);
      }
      await claimed(store, id, () =>
        jobs.run('tier.upload', { vid: id, collection: v.collection, totalBytes: before.size, detail: `to ${name}` }, (job) => {
          const move: Move = { volume: v, backends, log, id, datPath, vifPath: v.fileName('.vif'), info: v.volumeInfo, progress: progressSender(call, job) };
          return moveToRemote(move, backend, name, before, req.keep_local_dat_file === true, tierConcurrency(req.concurrency));
        }),
      );
    },

    VolumeTierMoveDatFromRemote: async (call: Msg) => {
      check.admin(call);
      const req = call.request;
      const id = u32(req.volume_id);
      const v = tierVolume(store, id, String(req.collection ?? ''));
      const remote = v.volumeInfo.files[0];
      const name = remote && remote.backendType && remote.backendId ? `${remote.backendType}.${remote.backendId}` : '';
      if (!name || !remote.key) throw plain(`volume ${id} is already on local disk`);
      const backend = backends.get(name);
      if (!backend) throw plain(`remote storage ${name} not found from supported: ${goList(backends.names())}`);
      await claimed(store, id, () =>
        jobs.run('tier.download', { vid: id, collection: v.collection, totalBytes: Number(remote.fileSize), detail: `from ${name}` }, (job) => {
          const move: Move = { volume: v, backends, log, id, datPath: v.fileName('.dat'), vifPath: v.fileName('.vif'), info: v.volumeInfo, progress: progressSender(call, job) };
          return moveFromRemote(move, backend, name, remote, req.keep_remote_dat_file === true, tierConcurrency(req.concurrency));
        }),
      );
    },
  };
}
