// The store handler: every path that is not one of core's routes is a file id.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import type { HttpPluginOptions } from '../../../core/plugins/contract.js';
import { parseFid, parseVolumeId } from '../../../core/storage/file-id.js';
import { parseUrlPath } from './url-path.js';

const ADMIN_METHODS = 'PUT, POST, GET, DELETE, OPTIONS';
const PUBLIC_METHODS = 'GET, OPTIONS';

export function dataRoutes(cradle: Cradle): FastifyPluginAsync<HttpPluginOptions> {
  const { store, config } = cradle;

  const read = async (request: FastifyRequest, reply: FastifyReply) => {
    let vid: number;
    try {
      const parts = parseUrlPath(decodeURIComponent(request.url.split('?', 1)[0]));
      vid = parseVolumeId(parts.vid);
      parseFid(parts.fid);
    } catch {
      return reply.code(400).send();
    }
    const volume = store.findVolume(vid);
    if (!volume) {
      // Reading from other holders (proxy/redirect) comes with the full read path; an empty
      // server has nothing to serve either way.
      return reply.code(404).send();
    }
    return reply.code(404).send();
  };

  return async (app, opts) => {
    const allow = opts.listener === 'admin' ? ADMIN_METHODS : PUBLIC_METHODS;
    app.options('/*', async (_req, reply) =>
      reply.header('Access-Control-Allow-Methods', allow).header('Access-Control-Allow-Headers', '*').code(200).send(),
    );
    app.get('/*', read);
    void config;
  };
}
