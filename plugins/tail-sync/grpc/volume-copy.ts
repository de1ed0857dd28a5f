// VolumeCopy: this server pulls a whole volume (.dat, .idx, .vif) from a peer and mounts it (Go's
// VolumeCopy). The files are staged in `<dir>/copying/`, which the volume scan never reads, checked
// against the source's sizes and counts, and only then swapped in: a replica already here is kept
// (hard links) until the new files are in place and mounted, and put back if anything fails. A
// caller that goes away mid-copy cancels it, and nothing is mounted.
import type * as grpc from '@grpc/grpc-js';
import { link, mkdir, open, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { vsError } from '../../../core/errors.js';
import type { DiskLocation } from '../../../core/storage/disk-location.js';
import { readIdxEntry } from '../../../core/storage/idx.js';
import { parseNeedleHeader } from '../../../core/storage/needle.js';
import { NeedleMap } from '../../../core/storage/needle-map.js';
import {
  CURRENT_VERSION,
  NEEDLE_CHECKSUM_SIZE,
  NEEDLE_HEADER_SIZE,
  TIMESTAMP_SIZE,
  indexEntrySize,
  isSupportedVersion,
  readU64,
  type Version,
} from '../../../core/storage/types.js';
import { WriteThrottler } from '../../../core/storage/vacuum.js';
import { pathExists } from '../../../core/storage/file-io.js';
import { volumeFileName } from '../../../core/storage/volume-files.js';
import {
  callUnary,
  checks,
  collectionError,
  messageOf,
  openServerStream,
  peerClient,
  plain,
  readableDiskType,
  send,
  toDiskType,
  u64,
  validateReplicaTarget,
  volumeIdOf,
} from './common.js';

/** Go's progress report interval of VolumeCopy: one processed_bytes message per 128 MiB. */
const REPORT_INTERVAL = 128 * 1024 * 1024;
/** What Go asks for when copying the optional .vif. */
const VIF_STOP_OFFSET = 1024 * 1024;

interface PullOptions {
  ignoreMissing: boolean;
  throttler: WriteThrottler;
  /** The VolumeCopy call: when its caller leaves, the pull from the source stops at once. */
  call: grpc.ServerWritableStream<Msg, Msg>;
  onProgress?: (processed: number) => Promise<void>;
}

/**
 * Pulls one file with the peer's CopyFile into `dest` (Go's doCopyFile/writeToFile). An optional
 * file (ignoreMissing) is written to `<dest>.copying` and renamed on success, so a source without
 * it never truncates `dest`. Returns the source mtime (unix ns), 0 when the source has no such
 * file (nothing is left at `dest` then).
 */
async function pullFile(client: grpc.Client, req: Msg, dest: string, o: PullOptions): Promise<bigint> {
  const writePath = o.ignoreMissing ? `${dest}.copying` : dest;
  const fh = await open(writePath, 'w', 0o644);
  const stream = openServerStream(client, 'CopyFile', req);
  const onCancel = () => stream.cancel();
  o.call.once('cancelled', onCancel);
  let modified = 0n;
  let processed = 0;
  let position = 0;
  try {
    if (o.call.cancelled) throw new Error('context canceled');
    for await (const msg of stream as AsyncIterable<Msg>) {
      if (o.call.cancelled) throw new Error('context canceled');
      const ts = u64(msg.modified_ts_ns);
      if (ts !== 0n) modified = ts;
      const chunk: Buffer = msg.file_content ?? Buffer.alloc(0);
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position);
        off += bytesWritten;
        position += bytesWritten;
      }
      processed += chunk.length;
      if (o.onProgress) await o.onProgress(processed);
      await o.throttler.maybeSlowdown(chunk.length);
    }
  } catch (e) {
    stream.cancel();
    await fh.close().catch(() => undefined);
    await rm(writePath, { force: true });
    throw plain(`failed to copy ${dest} file: receiving ${dest}: ${o.call.cancelled ? 'context canceled' : messageOf(e)}`);
  } finally {
    o.call.off('cancelled', onCancel);
  }
  await fh.close();
  if (modified === 0n) {
    await rm(writePath, { force: true });
    return 0n;
  }
  if (writePath !== dest) await rename(writePath, dest);
  return modified;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Go's findLastAppendAtNsFromCopiedFiles: the AppendAtNs of the record the last .idx row names. */
async function lastAppendAtNsOf(idxPath: string, datPath: string, version: Version, width: 4 | 5): Promise<bigint> {
  if (version < 3) return 0n;
  const es = indexEntrySize(width);
  const idxSize = await sizeOf(idxPath);
  if (!idxSize) return 0n;
  if (idxSize % es !== 0) throw new Error(`unexpected idx file ${idxPath} size: ${idxSize}`);
  const idx = await open(idxPath, 'r');
  let offset: number;
  try {
    const row = Buffer.alloc(es);
    await idx.read(row, 0, es, idxSize - es);
    offset = readIdxEntry(row, 0, width).offset;
  } finally {
    await idx.close();
  }
  if (offset === 0) return 0n;
  const dat = await open(datPath, 'r');
  try {
    const header = Buffer.alloc(NEEDLE_HEADER_SIZE);
    const { bytesRead } = await dat.read(header, 0, NEEDLE_HEADER_SIZE, offset);
    if (bytesRead !== NEEDLE_HEADER_SIZE) throw new Error(`read needle header ${datPath} offset ${offset}: EOF`);
    const h = parseNeedleHeader(header);
    const tail = Buffer.alloc(NEEDLE_CHECKSUM_SIZE + TIMESTAMP_SIZE);
    const t = await dat.read(tail, 0, tail.length, offset + NEEDLE_HEADER_SIZE + h.size);
    if (t.bytesRead !== tail.length) throw new Error(`read needle tail ${datPath} offset ${offset}: EOF`);
    return readU64(tail, NEEDLE_CHECKSUM_SIZE);
  } finally {
    await dat.close();
  }
}

/** File count of a copied index, as the loaded volume will count it. */
async function copiedFileCount(idxPath: string, width: 4 | 5, version: Version): Promise<number> {
  if (!(await pathExists(idxPath))) return 0;
  const fh = await open(idxPath, 'r');
  try {
    return (await NeedleMap.load(fh, width, version)).map.fileCount;
  } finally {
    await fh.close();
  }
}

/**
 * Hard-links existing files into a `copying/replaced_<name>` sibling so they survive the
 * replacement and a failed swap can restore them. `complete` is false when an existing file could
 * not be preserved.
 */
async function linkReplaced(paths: string[]): Promise<{ links: string[]; complete: boolean }> {
  const links: string[] = [];
  let complete = true;
  for (const p of new Set(paths)) {
    if (!(await pathExists(p))) continue;
    const l = join(dirname(p), 'copying', `replaced_${basename(p)}`);
    try {
      await mkdir(dirname(l), { recursive: true });
      await rm(l, { force: true });
      await link(p, l);
      links.push(l);
    } catch {
      complete = false;
    }
  }
  return { links, complete };
}

function replacedBaseOf(l: string): string {
  return join(dirname(dirname(l)), basename(l).replace(/^replaced_/, ''));
}

async function restoreReplaced(links: string[]): Promise<void> {
  for (const l of links) {
    const base = replacedBaseOf(l);
    try {
      await rm(base, { force: true });
      await rename(l, base);
    } catch {
      // keep the link for a human to find
    }
  }
}

/** Go's removeStaleIndexFiles: derived index files a mount would trust over the fresh .idx. */
async function removeStaleIndexFiles(indexBase: string, dataBase: string): Promise<void> {
  for (const base of new Set([indexBase, dataBase])) {
    for (const ext of ['.ldb', '.sdx', '.rdb', '.idx']) await rm(base + ext, { recursive: true, force: true });
  }
}

function hasEcxOnDisk(loc: DiskLocation, collection: string, id: number): Promise<boolean> {
  return pathExists(volumeFileName(loc.idxDirectory, collection, id) + '.ecx').then(
    async (found) => found || pathExists(volumeFileName(loc.directory, collection, id) + '.ecx'),
  );
}

export function volumeCopyRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, config, logger } = cradle;
  const { admin, notInMaintenance } = checks(cradle);
  /** Volumes with a copy in flight: the staged names are fixed per volume. */

  const copyVolume = async (call: grpc.ServerWritableStream<Msg, Msg>, id: number, source: string): Promise<void> => {
    const r = call.request;
    const cancelled = () => call.cancelled;
    const client = peerClient(cradle, source);

    const before = await callUnary(client, 'VolumeStatus', { volume_id: id }).catch((e) => {
      logger.warn({ vid: id, err: messageOf(e) }, 'failed to read source volume status before copy; skip record count validation');
      return undefined;
    });
    let status: Msg;
    try {
      status = await callUnary(client, 'ReadVolumeFileStatus', { volume_id: id });
    } catch (e) {
      throw plain(`read volume file status failed, ${messageOf(e)}`);
    }
    const collection = String(status.collection ?? '');
    const badCollection = collectionError(collection);
    if (badCollection) throw plain(`source volume ${id}: ${badCollection}`);
    if ((status.volume_info?.files ?? []).length > 0) {
      throw plain(`volume ${id} is tiered to remote storage on its source; remote-tiered volumes are not supported here`);
    }
    const version: Version = isSupportedVersion(Number(status.version)) ? (Number(status.version) as Version) : CURRENT_VERSION;
    const datSize = Number(u64(status.dat_file_size));
    const idxSize = Number(u64(status.idx_file_size));
    const diskType = toDiskType(String(r.disk_type || status.disk_type || ''));

    const loc = cradle.store.findFreeLocation((l) => l.diskType === diskType && l.status().free > datSize, id);
    if (!loc) throw plain(`no space left for disk type ${readableDiskType(diskType)}`);

    const dataBase = volumeFileName(loc.directory, collection, id);
    const indexBase = volumeFileName(loc.idxDirectory, collection, id);
    const stagedDataBase = join(loc.directory, 'copying', basename(dataBase));
    const stagedIndexBase = join(loc.idxDirectory, 'copying', basename(indexBase));
    const stagedDat = `${stagedDataBase}.dat`;
    const stagedIdx = `${stagedIndexBase}.idx`;
    const stagedVif = `${stagedDataBase}.vif`;
    const datFile = `${dataBase}.dat`;
    const idxFile = `${indexBase}.idx`;
    const vifFile = `${dataBase}.vif`;

    const job = cradle.jobs.start('volume.copy', { vid: id, collection, totalBytes: datSize + idxSize, detail: `from ${source}` });
    let moved: string[] = [];
    let links: string[] = [];
    let replacedRemoved = false;
    let mounted = false;
    const removeStaged = async () => {
      for (const p of [stagedDat, stagedIdx, stagedVif, `${stagedDat}.copying`, `${stagedVif}.copying`]) {
        await rm(p, { force: true }).catch(() => undefined);
      }
    };

    try {
      await mkdir(dirname(stagedDataBase), { recursive: true });
      await mkdir(dirname(stagedIndexBase), { recursive: true });
      await removeStaged(); // a crashed copy's leftovers must not stand in for a missing optional file

      const bps = Number(r.io_byte_per_second ?? 0) > 0 ? Number(r.io_byte_per_second) : config.maintenanceMBps * 1024 * 1024;
      const throttler = new WriteThrottler(bps);
      const rev = Number(status.compaction_revision ?? 0) >>> 0;
      const fileReq = (ext: string, stop: number, ignore: boolean) => ({
        volume_id: id,
        ext,
        compaction_revision: rev,
        stop_offset: String(stop),
        collection: String(r.collection ?? ''),
        is_ec_volume: false,
        ignore_source_file_not_found: ignore,
      });
      const setTimes = async (path: string, ns: bigint) => {
        if (ns <= 0n) return;
        const t = new Date(Number(ns / 1_000_000n));
        await utimes(path, t, t).catch(() => undefined);
      };

      let nextReport = REPORT_INTERVAL;
      const datTs = await pullFile(client, fileReq('.dat', datSize, true), stagedDat, {
        ignoreMissing: true,
        throttler,
        call,
        onProgress: async (processed) => {
          job.progress(processed);
          if (processed > nextReport) {
            await send(call, { processed_bytes: String(processed) });
            nextReport = processed + REPORT_INTERVAL;
          }
        },
      });
      await setTimes(stagedDat, datTs);
      const idxTs = await pullFile(client, fileReq('.idx', idxSize, false), stagedIdx, {
        ignoreMissing: false,
        throttler,
        call,
        onProgress: async (processed) => job.progress(datSize + processed),
      });
      await setTimes(stagedIdx, idxTs);
      const vifTs = await pullFile(client, fileReq('.vif', VIF_STOP_OFFSET, true), stagedVif, { ignoreMissing: true, throttler, call });
      await setTimes(stagedVif, vifTs);

      let after: Msg;
      try {
        after = await callUnary(client, 'VolumeStatus', { volume_id: id });
      } catch (e) {
        throw plain(`read source volume ${id} status after copy failed: ${messageOf(e)}`);
      }

      // sizes (Go's checkCopyFiles)
      const gotIdx = await sizeOf(stagedIdx);
      if (gotIdx === undefined) {
        if (idxSize !== 0) throw plain(`stat idx file ${stagedIdx} failed: no such file or directory`);
      } else if (gotIdx !== idxSize) {
        throw plain(`idx file ${stagedIdx} size [${gotIdx}] is not same as origin file size [${idxSize}]`);
      }
      const gotDat = await sizeOf(stagedDat);
      if (gotDat === undefined) throw plain(`get dat file info failed, stat ${stagedDat}: no such file or directory`);
      if (gotDat !== datSize) throw plain(`the dat file size [${gotDat}] is not same as origin file size [${datSize}]`);

      let lastAppendAtNs = u64(status.dat_file_timestamp_seconds) * 1_000_000_000n;
      try {
        const ns = await lastAppendAtNsOf(stagedIdx, stagedDat, version, store.offsetWidth);
        if (ns > 0n) lastAppendAtNs = ns;
      } catch (e) {
        logger.debug({ vid: id, err: messageOf(e) }, 'failed to find last append timestamp');
      }

      // counts, only when the source did not take writes during the copy (Go's copyCountsStable)
      const stable = before !== undefined && String(before.file_count) === String(after.file_count);
      const originCount = Number(u64(after.file_count));
      if (stable) {
        const count = await copiedFileCount(stagedIdx, store.offsetWidth, version);
        if (count !== originCount) throw plain(`target file count [${count}] is not same as origin file count [${originCount}]`);
      }

      if (cancelled()) throw plain('context canceled');

      // swap: keep what is being replaced until the new files are mounted
      const existing = store.findVolume(id);
      if (existing) {
        const kept = await linkReplaced([
          existing.fileName('.dat'),
          existing.fileName('.idx'),
          existing.fileName('.vif'),
          volumeFileName(existing.dir, existing.collection, id) + '.idx',
        ]);
        links = kept.links;
        if (!kept.complete) throw plain(`preserve files of existing volume ${id} for rollback`);
        try {
          await store.deleteVolume(id, false);
        } catch (e) {
          throw plain(`failed to delete existing volume ${id}: ${messageOf(e)}`);
        }
        replacedRemoved = true;
      } else {
        const kept = await linkReplaced([datFile, idxFile, vifFile, `${dataBase}.idx`, `${dataBase}.note`]);
        links = kept.links;
        if (!kept.complete) throw plain(`preserve files of existing volume ${id} for rollback`);
        for (const p of [datFile, idxFile, `${dataBase}.idx`]) await rm(p, { force: true });
        if (!(await hasEcxOnDisk(loc, collection, id))) await rm(vifFile, { force: true });
      }

      await rm(`${dataBase}.note`, { force: true });
      if (!store.findVolume(id)) await removeStaleIndexFiles(indexBase, dataBase);

      // the .note marks the renames as in progress: a crash in between leaves a set the scan sweeps
      await writeFile(`${dataBase}.note`, `copying from ${source}`, { mode: 0o644 });
      for (const [from, to] of [
        [stagedVif, vifFile],
        [stagedDat, datFile],
        [stagedIdx, idxFile],
      ]) {
        try {
          await rename(from, to);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw plain(`move copied ${from} into place for volume ${id}: ${messageOf(e)}`);
        }
        moved.push(to);
      }
      await rm(`${dataBase}.note`, { force: true });

      try {
        await store.mountVolume(id);
      } catch (e) {
        throw plain(`failed to mount or validate volume ${id}: ${messageOf(e)}`);
      }
      mounted = true;
      const v = store.findVolume(id);
      if (stable && v && v.fileCount() !== originCount) {
        throw plain(
          `failed to mount or validate volume ${id}: target file count [${v.fileCount()}] is not same as origin file count [${originCount}]`,
        );
      }
      if (cancelled()) throw plain('context canceled');

      await send(call, { last_append_at_ns: lastAppendAtNs.toString() });
      for (const l of links) await rm(l, { force: true }).catch(() => undefined);
      links = [];
      moved = [];
      job.finish();
    } catch (e) {
      job.fail(e);
      // roll back: nothing of this copy stays mounted or on disk; a replaced replica comes back
      let keepFiles = false;
      if (mounted) {
        try {
          await store.deleteVolume(id, false);
        } catch (de) {
          logger.warn({ vid: id, err: messageOf(de) }, 'discard mounted copy of volume');
          keepFiles = store.findVolume(id) !== undefined;
        }
      }
      await removeStaged();
      if (!keepFiles) {
        const ecx = await hasEcxOnDisk(loc, collection, id);
        for (const p of moved) {
          if (p === vifFile && ecx) continue;
          await rm(p, { force: true }).catch(() => undefined);
        }
        if (moved.length > 0 && !store.findVolume(id)) await removeStaleIndexFiles(indexBase, dataBase).catch(() => undefined);
        await rm(`${dataBase}.note`, { force: true }).catch(() => undefined);
        if (links.length > 0) {
          await restoreReplaced(links);
          links = [];
          if (replacedRemoved) {
            await store.mountVolume(id).catch((me) => logger.warn({ vid: id, err: messageOf(me) }, 'remount replaced replica of volume'));
          }
        }
      }
      for (const l of links) await rm(l, { force: true }).catch(() => undefined);
      throw e;
    }
  };

  return {
    VolumeCopy: async (call: Msg) => {
      admin(call);
      notInMaintenance();
      const r = call.request;
      const source = String(r.source_data_node ?? '');
      if (!config.allowUntrustedRemoteEndpoints) {
        try {
          await validateReplicaTarget(source);
        } catch (e) {
          throw plain(`invalid source data node ${source}: ${messageOf(e)}`);
        }
      }
      const id = volumeIdOf(r.volume_id);
      if (!store.beginCopy(id)) throw vsError('VS_ERR_UNAVAILABLE', `volume ${id} is already being copied`);
      try {
        await copyVolume(call, id, source);
      } finally {
        store.endCopy(id);
      }
    },
  };
}
