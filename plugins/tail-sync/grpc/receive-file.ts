// ReceiveFile: a peer pushes one file (an EC shard, .ecx, .ecj, .vif, or a file of a regular volume)
// as a client stream: an info message, then content chunks (Go's ReceiveFile). Protocol errors come
// back in the response's `error` field, as Go does. The extension and collection are untrusted:
// they are checked before they become part of a path, and the store decides where the file may go
// (core/storage/receive-target.ts: placement, and the names a mounted volume refuses). The content
// goes to a fresh temporary file renamed over the target once the stream ends, so a failed stream
// never leaves a truncated file and a link at the target is replaced, never followed.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { UNCHANGED_ONLY_MAX_BYTES, type ReceiveRequest } from '../../../core/storage/receive-target.js';
import { checks, collectionError, fileExtensionError, messageOf, openErrorText, plain, volumeIdOf } from './common.js';

/** The untrusted info message as a store request, or Go's error text for a bad name. */
function receiveRequest(info: Msg): { req?: ReceiveRequest; error?: string } {
  const ext = String(info.ext ?? '');
  const collection = String(info.collection ?? '');
  const bad = fileExtensionError(ext) ?? collectionError(collection);
  if (bad) return { error: bad };
  return {
    req: {
      volumeId: volumeIdOf(info.volume_id),
      ext,
      collection,
      isEcVolume: Boolean(info.is_ec_volume),
      diskId: Number(info.disk_id ?? 0) >>> 0,
      diskType: String(info.disk_type ?? ''),
    },
  };
}

/** Whether `path` is a directory itself (a link to one is replaced like any other link). */
async function isDirectory(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  return st?.isDirectory() ?? false;
}

interface Pending {
  req: ReceiveRequest;
  target: string;
  temp: string;
  fh: FileHandle;
  /** Set when only the target's current bytes may be received (receive-target.ts). */
  unchangedOnly?: string;
  written: number;
}

/** Whether the received temp file holds exactly the target's current bytes. */
async function sameContent(temp: string, target: string): Promise<boolean> {
  const [a, b] = await Promise.all([readFile(temp), readFile(target).catch(() => undefined)]);
  return b !== undefined && a.equals(b);
}

export function receiveFileRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  const { notInMaintenance } = checks(cradle);

  /** Opens a new temporary file beside `target`; O_EXCL and O_NOFOLLOW: never an existing name. */
  const openTemp = async (target: string): Promise<{ temp: string; fh: FileHandle }> => {
    const temp = `${target}.${randomBytes(6).toString('hex')}.receiving`;
    const fh = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    return { temp, fh };
  };

  /** Moves a complete file into place, after checking the target is still acceptable. */
  const commit = async (p: Pending): Promise<string | undefined> => {
    await p.fh.sync().catch(() => undefined);
    await p.fh.close();
    // The volume may have been mounted (or an EC volume mounted) while the stream ran.
    const again = store.receiveTarget(p.req);
    if ('error' in again) return again.error;
    if (again.path !== p.target) return `target of volume ${p.req.volumeId} ${p.req.ext} changed while receiving; retry`;
    if (again.unchangedOnly !== undefined) {
      if (!(await sameContent(p.temp, p.target))) return again.unchangedOnly;
      await rm(p.temp, { force: true });
      return undefined;
    }
    if (await isDirectory(p.target)) return `failed to create file: open ${p.target}: is a directory`;
    // rename replaces a link at the target itself: what it pointed to is never written.
    await rename(p.temp, p.target);
    return undefined;
  };

  return {
    ReceiveFile: async (call: Msg) => {
      notInMaintenance();
      let pending: Pending | undefined;
      let bytesWritten = 0;
      const onCancel = () => call.destroy(new Error('context canceled'));
      call.once('cancelled', onCancel);
      const discard = async () => {
        const p = pending;
        pending = undefined;
        if (!p) return;
        await p.fh.close().catch(() => undefined);
        await rm(p.temp, { force: true }).catch(() => undefined);
      };
      const answer = async (error: string) => {
        await discard();
        return { bytes_written: String(bytesWritten), error };
      };
      try {
        for await (const req of call as AsyncIterable<Msg>) {
          if (req.data === 'info' && req.info) {
            const r = receiveRequest(req.info);
            if (r.error !== undefined) return await answer(r.error);
            const t = store.receiveTarget(r.req!);
            if ('error' in t) return await answer(t.error);
            // A second info message starts the next file; the previous one is complete.
            if (pending) {
              const p = pending;
              pending = undefined;
              const err = await commit(p).catch((e) => `failed to write file: ${messageOf(e)}`);
              if (err !== undefined) {
                await rm(p.temp, { force: true }).catch(() => undefined);
                return await answer(err);
              }
            }
            if (await isDirectory(t.path)) return await answer(`failed to create file: open ${t.path}: is a directory`);
            try {
              const { temp, fh } = await openTemp(t.path);
              pending = { req: r.req!, target: t.path, temp, fh, unchangedOnly: t.unchangedOnly, written: 0 };
            } catch (e) {
              return await answer(`failed to create file: ${openErrorText(t.path, e as NodeJS.ErrnoException)}`);
            }
          } else if (req.data === 'file_content') {
            if (!pending) return await answer('file info must be sent first');
            const chunk: Buffer = req.file_content ?? Buffer.alloc(0);
            pending.written += chunk.length;
            if (pending.unchangedOnly !== undefined && pending.written > UNCHANGED_ONLY_MAX_BYTES) return await answer(pending.unchangedOnly);
            try {
              let off = 0;
              while (off < chunk.length) {
                const { bytesWritten: n } = await pending.fh.write(chunk, off, chunk.length - off);
                off += n;
              }
            } catch (e) {
              return await answer(`failed to write file: ${messageOf(e)}`);
            }
            bytesWritten += chunk.length;
          } else {
            return await answer('unknown message type');
          }
        }
      } catch (e) {
        await discard();
        throw plain(`failed to receive stream: ${messageOf(e)}`);
      } finally {
        call.off('cancelled', onCancel);
      }
      if (pending) {
        const p = pending;
        pending = undefined;
        let err: string | undefined;
        try {
          err = await commit(p);
        } catch (e) {
          err = `failed to write file: ${messageOf(e)}`;
        }
        if (err !== undefined) {
          await rm(p.temp, { force: true }).catch(() => undefined);
          return { bytes_written: String(bytesWritten), error: err };
        }
      }
      return { bytes_written: String(bytesWritten), error: '' };
    },
  };
}
