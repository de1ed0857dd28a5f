// BatchDelete: deletes a list of file ids, one status per fid with Go's texts
// (Go: weed/server/volume_grpc_batch_delete.go): 400 bad fid / cookie mismatch, 404 not found, 406 chunk manifest,
// 500 delete error, 304 nothing deleted, 202 deleted with the needle's Size. A fid of an EC volume here
// is deleted through it (Go's DeleteEcShardNeedle; 202 with the record's length, 304 when already deleted).
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { parseFid, parseNeedleIdCookie, parseVolumeId } from '../../../core/storage/file-id.js';
import { isChunkManifest, type NeedleMeta } from '../../../core/storage/needle.js';
import type { Cookie, NeedleId } from '../../../core/storage/types.js';
import type { EcVolumeAccess } from '../../../core/storage/ec-volume-access.js';
import { deleteEcNeedle, readEcNeedleMeta } from '../ec-read.js';
import { checks, messageOf } from './common.js';

interface DeleteResult {
  file_id: string;
  status: number;
  error?: string;
  size?: number;
}

export function batchDeleteRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, config } = cradle;
  const { admin, notInMaintenance } = checks(cradle);

  /** Go's EC branch: the needle read for the cookie check, then DeleteEcShardNeedle. */
  async function deleteOneEc(fid: string, ec: EcVolumeAccess, id: NeedleId, cookie: Cookie, skipCookieCheck: boolean): Promise<DeleteResult> {
    if (!skipCookieCheck) {
      let meta: NeedleMeta;
      try {
        meta = (await readEcNeedleMeta(ec, id)).needle;
      } catch (e) {
        return { file_id: fid, status: 404, error: messageOf(e) };
      }
      if (meta.cookie >>> 0 !== cookie >>> 0) return { file_id: fid, status: 400, error: 'File Random Cookie does not match.' };
      if (isChunkManifest(meta)) return { file_id: fid, status: 406, error: 'ChunkManifest: not allowed in batch delete mode.' };
    }
    let size: number;
    try {
      size = await deleteEcNeedle(ec, id, cookie);
    } catch (e) {
      // Already gone is what the caller asked for (Go answers it as not modified).
      if ((e as { code?: string }).code === 'NEEDLE_DELETED') return { file_id: fid, status: 304 };
      return { file_id: fid, status: 500, error: messageOf(e) };
    }
    return { file_id: fid, status: 202, size: size >>> 0 };
  }

  async function deleteOne(fid: string, skipCookieCheck: boolean): Promise<DeleteResult> {
    const comma = fid.indexOf(',');
    if (comma <= 0) return { file_id: fid, status: 400, error: 'Wrong fid format.' };
    const idCookie = fid.slice(comma + 1);
    let id: NeedleId;
    let cookie: Cookie;
    try {
      // Go: with the cookie check off the fid is parsed without a `_delta` suffix
      ({ id, cookie } = skipCookieCheck ? parseNeedleIdCookie(idCookie) : parseFid(idCookie));
    } catch (e) {
      return { file_id: fid, status: 400, error: messageOf(e) };
    }
    let volumeId: number;
    try {
      volumeId = parseVolumeId(fid.slice(0, comma));
    } catch {
      volumeId = 0; // Go ignores this error and looks up volume 0
    }

    const ec = store.contributions.ecVolume(volumeId);
    if (ec) return deleteOneEc(fid, ec, id, cookie, skipCookieCheck);

    let tombstone: { cookie: Cookie; checksum: number };
    if (!skipCookieCheck) {
      // Only this path reads the needle, so only this path can see a chunk manifest.
      const v = store.findVolume(volumeId);
      if (!v) return { file_id: fid, status: 404, error: `volume ${volumeId} not found` };
      let meta: NeedleMeta;
      try {
        meta = await v.readNeedleMeta(id, { cookie });
      } catch (e) {
        if ((e as { code?: string }).code === 'COOKIE_MISMATCH') {
          return { file_id: fid, status: 400, error: 'File Random Cookie does not match.' };
        }
        return { file_id: fid, status: 404, error: messageOf(e) };
      }
      if (isChunkManifest(meta)) {
        return { file_id: fid, status: 406, error: 'ChunkManifest: not allowed in batch delete mode.' };
      }
      tombstone = { cookie: meta.cookie, checksum: meta.storedChecksum >>> 0 };
    } else {
      tombstone = { cookie, checksum: 0 };
    }

    const v = store.findVolume(volumeId);
    if (!v) return { file_id: fid, status: 500, error: `volume ${volumeId} not found on ${config.ip}:${config.port}` };
    if (v.isNoWriteOrDelete()) return { file_id: fid, status: 500, error: `volume ${volumeId} is read only` };
    let size: number;
    try {
      size = await v.delete(id, tombstone);
    } catch (e) {
      return { file_id: fid, status: 500, error: messageOf(e) };
    }
    if (size === 0) return { file_id: fid, status: 304 };
    return { file_id: fid, status: 202, size: size >>> 0 };
  }

  return {
    BatchDelete: async (call: Msg) => {
      admin(call);
      notInMaintenance();
      const r = call.request;
      const results: DeleteResult[] = [];
      for (const fid of (r.file_ids ?? []) as string[]) {
        results.push(await deleteOne(fid, !!r.skip_cookie_check));
      }
      return { results };
    },
  };
}
