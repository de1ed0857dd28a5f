// GET/HEAD of a file id. (Being built out: today it answers 400 for bad ids and 404 otherwise.)
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import { parseFid, parseVolumeId } from '../../../core/storage/file-id.js';
import { parseUrlPath } from './url-path.js';

export function readHandler(cradle: Cradle, _listener: 'admin' | 'public') {
  const { store } = cradle;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    let vid: number;
    try {
      const parts = parseUrlPath(decodeURIComponent(request.url.split('?', 1)[0]));
      vid = parseVolumeId(parts.vid);
      parseFid(parts.fid);
    } catch {
      return reply.code(400).send();
    }
    if (!store.findVolume(vid)) return reply.code(404).send();
    return reply.code(404).send();
  };
}
