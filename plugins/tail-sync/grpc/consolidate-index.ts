// VolumeConsolidateIndex: with a separate -dir.idx, moves a volume's .idx that still sits beside its
// .dat into the index directory (Go's Store.ConsolidateVolumeIndex / Volume.RelocateIndexTo).
// Without a core hook to swap a live volume's index file, the volume is unmounted, its .idx moved
// (rename, or copy + remove across filesystems) and mounted again.
import { copyFile, rename, rm } from 'node:fs/promises';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { pathExists } from '../../../core/storage/file-io.js';
import { volumeFileName } from '../../../core/storage/volume-files.js';
import { checks, messageOf, plain, volumeIdOf } from './common.js';

/** Go's RenameOrCopyFile: rename, or copy then remove the source when they are on two filesystems. */
async function renameOrCopy(src: string, dst: string): Promise<void> {
  try {
    await rename(src, dst);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await copyFile(src, dst);
    try {
      await rm(src);
    } catch (re) {
      await rm(dst, { force: true });
      throw re;
    }
  }
}

export function consolidateIndexRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  const { admin, notInMaintenance } = checks(cradle);
  return {
    VolumeConsolidateIndex: async (call: Msg) => {
      admin(call);
      notInMaintenance();
      const id = volumeIdOf(call.request.volume_id);
      for (const loc of store.locations) {
        const v = store.volumesOn(loc).find((x) => x.id === id);
        if (!v) continue;
        if (loc.idxDirectory === loc.directory) return {};
        if (v.idxDir === loc.idxDirectory) return {};
        const oldBase = volumeFileName(v.idxDir, v.collection, v.id);
        if (!(await pathExists(oldBase + '.idx'))) return {};
        const newBase = volumeFileName(loc.idxDirectory, v.collection, v.id);
        await store.unmountVolume(id);
        let moveError: unknown;
        try {
          await renameOrCopy(oldBase + '.idx', newBase + '.idx');
          if (await pathExists(oldBase + '.sdx')) {
            await renameOrCopy(oldBase + '.sdx', newBase + '.sdx').catch(() => rm(oldBase + '.sdx', { force: true }));
          }
        } catch (e) {
          moveError = e;
        }
        await store.mountVolume(id);
        if (moveError) throw plain(`relocate index for volume ${id}: move .idx: ${messageOf(moveError)}`);
        return {};
      }
      throw plain(`volume ${id} not found on disk`);
    },
  };
}
