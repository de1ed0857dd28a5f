// CopyFile: streams one file of a volume (or of an EC volume) to a peer, up to stop_offset bytes,
// with the file's mtime on the first message (Go's CopyFile). The extension and collection of the
// request are untrusted: they are checked before they become part of a path.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { volumeBaseName } from '../../../core/storage/volume-files.js';
import {
  ANY_COMPACTION_REVISION,
  BUFFER_SIZE_LIMIT,
  collectionError,
  fileExtensionError,
  openErrorText,
  plain,
  send,
  u64,
  volumeIdOf,
} from './common.js';

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export function copyFileRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  return {
    CopyFile: async (call: Msg) => {
      const r = call.request;
      const ext = String(r.ext ?? '');
      const collection = String(r.collection ?? '');
      const bad = fileExtensionError(ext) ?? collectionError(collection);
      if (bad) throw plain(bad);
      const id = volumeIdOf(r.volume_id);
      const ignoreMissing = !!r.ignore_source_file_not_found;
      const stopOffset = u64(r.stop_offset);

      let fileName = '';
      if (!r.is_ec_volume) {
        const v = store.findVolume(id);
        if (!v) throw plain(`not found volume id ${id}`);
        const rev = Number(r.compaction_revision ?? 0) >>> 0;
        if (v.superBlock.compactionRevision !== rev && rev !== ANY_COMPACTION_REVISION) {
          throw plain(`volume ${id} is compacted`);
        }
        await v.sync();
        fileName = v.fileName(ext);
      } else {
        const base = volumeBaseName(collection, id) + ext;
        for (const loc of store.locations) {
          if (await isFile(join(loc.directory, base))) fileName = join(loc.directory, base);
          if (await isFile(join(loc.idxDirectory, base))) fileName = join(loc.idxDirectory, base);
        }
        if (!fileName) {
          if (ignoreMissing) return;
          throw plain(`CopyFile not found ec volume id ${id}`);
        }
      }

      let fh: FileHandle;
      try {
        fh = await open(fileName, 'r');
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ENOENT' && (ignoreMissing || stopOffset === 0n)) return;
        throw plain(openErrorText(fileName, err));
      }
      try {
        const st = await fh.stat({ bigint: true });
        let modifiedTsNs = st.mtimeNs;
        let remaining = stopOffset;
        let position = 0;
        const buf = Buffer.allocUnsafe(BUFFER_SIZE_LIMIT);
        while (remaining > 0n) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, position);
          if (bytesRead === 0) break;
          const n = BigInt(bytesRead) > remaining ? Number(remaining) : bytesRead;
          position += bytesRead;
          await send(call, { file_content: Buffer.from(buf.subarray(0, n)), modified_ts_ns: modifiedTsNs.toString() });
          modifiedTsNs = 0n; // only on the first message
          remaining -= BigInt(n);
        }
        // Nothing sent (empty file, stop_offset 0): the mtime alone says the file exists.
        if (modifiedTsNs !== 0n) await send(call, { modified_ts_ns: modifiedTsNs.toString() });
      } finally {
        await fh.close().catch(() => undefined);
      }
    },
  };
}
