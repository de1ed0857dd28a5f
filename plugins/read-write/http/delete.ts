// DELETE of a file id (Go's weed/server/volume_server_handlers_write.go DeleteHandler): fid, write
// JWT, needle lookup, cookie, chunk-manifest children first, local tombstone and replicas; answers
// `{"size":N}`. A fid of an EC volume here is deleted through it (Go's DeleteEcShardNeedle).
import type * as grpc from '@grpc/grpc-js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import { unary } from '../../../core/grpc/client-pool.js';
import { volumeServerClientConstructor } from '../../../core/grpc/proto-loader.js';
import { sendJson, sendJsonError } from '../../../core/http/json.js';
import { parseFid, parseNeedleIdCookie, parseVolumeId } from '../../../core/storage/file-id.js';
import { isChunkManifest, isCompressed, type Needle } from '../../../core/storage/needle.js';
import { tokenFromRequest } from '../../../core/security/jwt.js';
import { deleteEcNeedle } from '../ec-read.js';
import { checkJwt, isWriteAllowed } from './auth.js';
import { manifestJson } from './chunk-manifest.js';
import { remoteReplicas, replicateDelete, selfUrl } from './replicate.js';
import { decodedPathOf, parseQuery, rawQueryOf } from './upload-form.js';
import { drainRequest } from './upload-body.js';
import { parseUrlPath } from './url-path.js';

interface ChunkResult {
  fileId: string;
  status: number;
  error: string;
}

interface ManifestChunk {
  fid: string;
}

/** Go's operation.LoadChunkManifest (only what a delete needs), bounded as reads are (chunk-manifest.ts). */
async function loadManifest(n: Needle): Promise<{ size: number; chunks: ManifestChunk[] }> {
  const data = await manifestJson(n.data, isCompressed(n));
  const m = JSON.parse(data.toString('utf8')) as { size?: unknown; chunks?: unknown };
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error('json: cannot unmarshal into Go value of type operation.ChunkManifest');
  const chunks = Array.isArray(m.chunks) ? (m.chunks as { fid?: unknown }[]).map((c) => ({ fid: typeof c?.fid === 'string' ? c.fid : '' })) : [];
  return { size: typeof m.size === 'number' ? m.size : 0, chunks };
}

async function deleteLocalChunks(cradle: Cradle, vid: number, fids: string[]): Promise<ChunkResult[]> {
  const out: ChunkResult[] = [];
  for (const fid of fids) {
    let idCookie;
    try {
      idCookie = parseNeedleIdCookie(fid.slice(fid.indexOf(',') + 1));
    } catch (e) {
      out.push({ fileId: fid, status: 400, error: (e as Error).message });
      continue;
    }
    const v = cradle.store.findVolume(vid);
    if (!v) {
      out.push({ fileId: fid, status: 500, error: `volume ${vid} not found on ${cradle.config.ip}:${cradle.config.port}` });
      continue;
    }
    try {
      const size = await v.delete(idCookie.id, { cookie: idCookie.cookie });
      out.push({ fileId: fid, status: size === 0 ? 304 : 202, error: '' });
    } catch (e) {
      out.push({ fileId: fid, status: 500, error: (e as Error).message });
    }
  }
  return out;
}

async function deleteRemoteChunks(cradle: Cradle, url: string, grpcPort: number, fids: string[]): Promise<ChunkResult[]> {
  const colon = url.lastIndexOf(':');
  const host = colon > 0 ? url.slice(0, colon) : url;
  const port = grpcPort || Number(url.slice(colon + 1)) + 10000;
  const ctor = volumeServerClientConstructor();
  const client = cradle.grpcClients.get<grpc.Client>(ctor, `${host}:${port}`);
  try {
    const resp = await unary<object, { results?: { file_id: string; status: number; error: string }[] }>(
      client,
      'BatchDelete',
      { file_ids: fids, skip_cookie_check: true },
      30_000,
    );
    return (resp.results ?? []).map((r) => ({ fileId: r.file_id, status: r.status, error: r.error ?? '' }));
  } catch (e) {
    const msg = (e as grpc.ServiceError).details || (e as Error).message;
    return fids.map((fid) => ({ fileId: fid, status: 500, error: msg }));
  }
}

/** Go's DeleteFileIds as ChunkManifest.DeleteChunks uses it; throws `chunk delete <fid>: <reason>`. */
async function deleteChunks(cradle: Cradle, fids: string[]): Promise<void> {
  const results: ChunkResult[] = [];
  const byVid = new Map<string, string[]>();
  for (const fid of fids) {
    const comma = fid.indexOf(',');
    if (comma <= 0) {
      results.push({ fileId: fid, status: 400, error: 'Wrong fid format.' });
      continue;
    }
    const vid = fid.slice(0, comma);
    const list = byVid.get(vid);
    if (list) list.push(fid);
    else byVid.set(vid, [fid]);
  }
  const self = selfUrl(cradle);
  const jobs: Promise<ChunkResult[]>[] = [];
  for (const [vidText, list] of byVid) {
    let vid: number;
    try {
      vid = parseVolumeId(vidText);
    } catch (e) {
      for (const fid of list) results.push({ fileId: fid, status: 400, error: (e as Error).message });
      continue;
    }
    let locations;
    try {
      locations = await cradle.masterClient.lookupVolume(vid);
    } catch (e) {
      for (const fid of list) results.push({ fileId: fid, status: 500, error: `lookup error: ${(e as Error).message}` });
      continue;
    }
    for (const l of locations) {
      jobs.push(l.url === self ? deleteLocalChunks(cradle, vid, list) : deleteRemoteChunks(cradle, l.url, l.grpc_port, list));
    }
  }
  for (const r of await Promise.all(jobs)) results.push(...r);
  const failed = results.find((r) => r.error !== '');
  if (failed) throw new Error(`chunk delete ${failed.fileId}: ${failed.error}`);
}

export function deleteHandler(cradle: Cradle) {
  const { store } = cradle;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    // A DELETE body means nothing; it is read and dropped first so the answer never strands a sender.
    await drainRequest(request.raw);
    if (!isWriteAllowed(cradle, request)) return reply.code(401).send();
    const form = parseQuery(rawQueryOf(request.url)).form;
    const path = decodedPathOf(request.url);
    const parts = parseUrlPath(path);
    let vid: number;
    try {
      vid = parseVolumeId(parts.vid);
    } catch {
      vid = 0;
    }
    let idCookie;
    try {
      idCookie = parseFid(parts.fid);
    } catch (e) {
      return sendJsonError(request, reply, 400, (e as Error).message);
    }
    if (!checkJwt(cradle, request, `${parts.vid},${parts.fid}`, true)) return sendJsonError(request, reply, 401, 'wrong jwt');

    // An EC volume here answers first, as Go's DeleteHandler checks it before the normal volume.
    const ec = store.contributions.ecVolume(vid);
    if (ec) {
      let size: number;
      try {
        size = await deleteEcNeedle(ec, idCookie.id, idCookie.cookie);
      } catch (e) {
        if ((e as { code?: string }).code === 'NEEDLE_DELETED') return sendJson(request, reply, 404, { size: 0 });
        return sendJsonError(request, reply, 500, `Deletion Failed: ${(e as Error).message}`);
      }
      return sendJson(request, reply, 202, { size });
    }

    const volume = store.findVolume(vid);
    let n: Needle;
    try {
      if (!volume) throw new Error('not found');
      n = await volume.readNeedleMeta(idCookie.id);
      if (isChunkManifest(n)) n = await volume.readNeedle(idCookie.id);
    } catch {
      return sendJson(request, reply, 404, { size: 0 });
    }
    if (n.cookie !== idCookie.cookie) return sendJsonError(request, reply, 400, 'File Random Cookie does not match.');

    let count = n.size;
    if (isChunkManifest(n)) {
      let manifest;
      try {
        manifest = await loadManifest(n);
      } catch (e) {
        return sendJsonError(request, reply, 500, `Load chunks manifest error: ${(e as Error).message}`);
      }
      try {
        await deleteChunks(
          cradle,
          manifest.chunks.map((c) => c.fid),
        );
      } catch (e) {
        return sendJsonError(request, reply, 500, `Delete chunks error: ${(e as Error).message}`);
      }
      count = manifest.size;
    }

    try {
      let remote: Awaited<ReturnType<typeof remoteReplicas>> = [];
      if (form.get('type') !== 'replicate') remote = await remoteReplicas(cradle, vid, false);
      const v = store.findVolume(vid);
      if (!v) throw new Error(`volume ${vid} not found on ${cradle.config.ip}:${cradle.config.port}`);
      await v.delete(idCookie.id, { cookie: n.cookie });
      if (remote.length > 0) {
        const jwt = tokenFromRequest((request.query ?? {}) as Record<string, unknown>, request.headers);
        await replicateDelete(remote, path, jwt);
      }
    } catch (e) {
      return sendJsonError(request, reply, 500, `Deletion Failed: ${(e as Error).message}`);
    }
    return sendJson(request, reply, 202, { size: count });
  };
}
