// The store handler: every path that is not one of core's routes is a file id. This file only
// dispatches by method and listener; each concern lives in its own module.
import type { FastifyPluginAsync } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import { sendJsonError } from '../../../core/http/json.js';
import type { HttpPluginOptions } from '../../../core/plugins/contract.js';
import { deleteHandler } from './delete.js';
import { readHandler } from './read.js';
import { writeHandler } from './write.js';

const ADMIN_METHODS = 'PUT, POST, GET, DELETE, OPTIONS';
const PUBLIC_METHODS = 'GET, OPTIONS';

export function dataRoutes(cradle: Cradle): FastifyPluginAsync<HttpPluginOptions> {
  return async (app, opts) => {
    const isAdmin = opts.listener === 'admin';
    // Bodies are streamed by the handlers from request.raw: no parser may consume them first.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, _payload, done) => done(null));

    const read = readHandler(cradle, opts.listener);
    app.route({ method: ['GET', 'HEAD'], url: '/*', handler: read, exposeHeadRoute: false });
    app.options('/*', async (_req, reply) =>
      reply
        .header('Access-Control-Allow-Methods', isAdmin ? ADMIN_METHODS : PUBLIC_METHODS)
        .header('Access-Control-Allow-Headers', '*')
        .code(200)
        .send(),
    );
    if (isAdmin) {
      const write = writeHandler(cradle);
      app.post('/*', write);
      app.put('/*', write);
      app.delete('/*', deleteHandler(cradle));
      app.patch('/*', async (req, reply) => sendJsonError(req, reply, 400, `unsupported method ${req.method}`));
    } else {
      // The public port is read-only: Go's handler simply does nothing for other methods.
      for (const m of ['POST', 'PUT', 'DELETE', 'PATCH'] as const) app.route({ method: m, url: '/*', handler: async (_r, reply) => reply.code(200).send() });
    }
  };
}
