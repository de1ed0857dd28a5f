// ReceiveFile: a peer pushes one file (an EC shard, .ecx, .vif, or a file of a regular volume) as a
// client stream: an info message, then content chunks (Go's ReceiveFile). Protocol errors come back
// in the response's `error` field, as Go does; the extension and collection are untrusted and are
// checked before they become part of a path.
import { existsSync, statSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import type { DiskLocation } from '../../../core/storage/disk-location.js';
import { volumeBaseName, volumeFileName } from '../../../core/storage/volume-files.js';
import { checks, collectionError, fileExtensionError, messageOf, openErrorText, plain, toDiskType, volumeIdOf } from './common.js';

const EC_SHARD_SLOTS = 32;

/** Whether `dir` holds a non-empty `<base>.ecNN` shard file of the volume. */
function holdsEcShardFile(dir: string, collection: string, id: number): boolean {
  const base = volumeFileName(dir, collection, id);
  for (let i = 0; i < EC_SHARD_SLOTS; i++) {
    try {
      const st = statSync(`${base}.ec${String(i).padStart(2, '0')}`);
      if (st.isFile() && st.size > 0) return true;
    } catch {
      // absent
    }
  }
  return false;
}

/**
 * Where an EC file goes when the request leaves the disk to us (Go's FindEcShardTargetLocation,
 * without the mounted-shard tiers core does not expose): a disk that already has the volume's
 * .ecx, then a hard drive, then any disk; full or low disks are skipped.
 */
function ecTargetLocation(cradle: Cradle, collection: string, id: number): DiskLocation | undefined {
  let best: DiskLocation | undefined;
  let bestTier = 0;
  for (const loc of cradle.store.locations) {
    if (loc.isLowOnSpace) continue;
    let tier = loc.diskType === '' ? 2 : 1;
    if (existsSync(volumeFileName(loc.directory, collection, id) + '.ecx') || existsSync(volumeFileName(loc.idxDirectory, collection, id) + '.ecx')) {
      tier = 3;
    }
    if (tier > bestTier) {
      best = loc;
      bestTier = tier;
    }
  }
  return best;
}

/** Go's FindFreeLocation: the location passing `filter` with the most free volume slots. */
export function freeLocation(cradle: Cradle, filter: (loc: DiskLocation) => boolean, replaceId = 0): DiskLocation | undefined {
  const { store } = cradle;
  let best: DiskLocation | undefined;
  let max = 0;
  for (const loc of store.locations) {
    if (!filter(loc) || loc.isLowOnSpace) continue;
    const vols = store.volumesOn(loc);
    let free = loc.maxVolumeCount - vols.length;
    if (replaceId !== 0 && vols.some((v) => v.id === replaceId)) free++;
    if (free > max) {
      max = free;
      best = loc;
    }
  }
  return best;
}

export function receiveFileRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  const { notInMaintenance } = checks(cradle);

  /** The path an info message names, or the error text to answer with. */
  const targetPath = (info: Msg): { path?: string; error?: string } => {
    const ext = String(info.ext ?? '');
    const collection = String(info.collection ?? '');
    const bad = fileExtensionError(ext) ?? collectionError(collection);
    if (bad) return { error: bad };
    const id = volumeIdOf(info.volume_id);
    if (info.is_ec_volume) {
      const diskId = Number(info.disk_id ?? 0) >>> 0;
      let loc: DiskLocation | undefined;
      if (diskId > 0) {
        if (diskId >= store.locations.length) {
          return { error: `invalid disk_id ${diskId}: only have ${store.locations.length} disks` };
        }
        loc = store.locations[diskId];
      } else {
        loc = ecTargetLocation(cradle, collection, id);
      }
      if (!loc) return { error: 'no storage location available' };
      return { path: join(loc.directory, volumeBaseName(collection, id) + ext) };
    }
    const v = store.findVolume(id);
    if (!v) {
      const diskType = String(info.disk_type ?? '');
      if (diskType === '') return { error: `volume ${id} not found` };
      // Staged new volume (EC decode onto a clean peer): `<base><ext>.copying`, which the volume
      // scan never loads, renamed into place by whoever mounts it.
      const want = toDiskType(diskType);
      const loc = freeLocation(cradle, (l) => l.diskType === want && !holdsEcShardFile(l.directory, collection, id));
      if (!loc) return { error: `no ${diskType} disk location with a free slot for volume ${id}` };
      return { path: volumeFileName(loc.directory, collection, id) + ext + '.copying' };
    }
    // The live .dat/.idx of a mounted volume are open and indexed: truncating them under the
    // volume would corrupt it. Go allows it; we refuse.
    if (ext === '.dat' || ext === '.idx') {
      return { error: `volume ${id} is mounted; unmount it before receiving its ${ext} file` };
    }
    return { path: v.fileName(ext) };
  };

  return {
    ReceiveFile: async (call: Msg) => {
      notInMaintenance();
      let fh: FileHandle | undefined;
      let filePath = '';
      let bytesWritten = 0;
      let streamEnded = false;
      const onCancel = () => call.destroy(new Error('context canceled'));
      call.once('cancelled', onCancel);
      const discard = async () => {
        await fh?.close().catch(() => undefined);
        fh = undefined;
        if (filePath) await rm(filePath, { force: true }).catch(() => undefined);
      };
      try {
        for await (const req of call as AsyncIterable<Msg>) {
          if (req.data === 'info' && req.info) {
            const t = targetPath(req.info);
            if (t.error !== undefined) return { bytes_written: String(bytesWritten), error: t.error };
            await fh?.close().catch(() => undefined);
            filePath = t.path!;
            try {
              fh = await open(filePath, 'w', 0o644);
            } catch (e) {
              fh = undefined;
              const path = filePath;
              filePath = '';
              return { bytes_written: String(bytesWritten), error: `failed to create file: ${openErrorText(path, e as NodeJS.ErrnoException)}` };
            }
          } else if (req.data === 'file_content') {
            if (!fh) return { bytes_written: String(bytesWritten), error: 'file info must be sent first' };
            const chunk: Buffer = req.file_content ?? Buffer.alloc(0);
            try {
              let off = 0;
              while (off < chunk.length) {
                const { bytesWritten: n } = await fh.write(chunk, off, chunk.length - off);
                off += n;
              }
            } catch (e) {
              await discard();
              return { bytes_written: String(bytesWritten), error: `failed to write file: ${messageOf(e)}` };
            }
            bytesWritten += chunk.length;
          } else {
            return { bytes_written: String(bytesWritten), error: 'unknown message type' };
          }
        }
        streamEnded = true;
      } catch (e) {
        await discard();
        throw plain(`failed to receive stream: ${messageOf(e)}`);
      } finally {
        call.off('cancelled', onCancel);
        if (!streamEnded) {
          await fh?.close().catch(() => undefined);
          fh = undefined;
        }
      }
      if (fh) {
        await fh.sync().catch(() => undefined);
        await fh.close().catch(() => undefined);
        fh = undefined;
      }
      return { bytes_written: String(bytesWritten), error: '' };
    },
  };
}
