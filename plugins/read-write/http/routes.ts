// The store handler: every path that is not one of core's routes is a file id. This file only
// dispatches by method and listener; each concern lives in its own module.
import { METHODS } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import { sendJsonError } from '../../../core/http/json.js';
import type { HttpPluginOptions } from '../../../core/plugins/contract.js';
import { deleteHandler } from './delete.js';
import { drainRequest } from './upload-body.js';
import { readHandler } from './read.js';
import { writeHandler } from './write.js';

const ADMIN_METHODS = 'PUT, POST, GET, DELETE, OPTIONS';
const PUBLIC_METHODS = 'GET, OPTIONS';

// CONNECT never reaches a request handler in node (it is the 'connect' event).
const ALL_METHODS = METHODS.filter((m) => m !== 'CONNECT');
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function dataRoutes(cradle: Cradle): FastifyPluginAsync<HttpPluginOptions> {
  return async (app, opts) => {
    const isAdmin = opts.listener === 'admin';
    // Bodies are streamed by the handlers from request.raw: no parser may consume them first, and
    // fastify must not judge their Content-Type (Go accepts any, even an empty or malformed one).
    // Every method is declared bodyless so fastify hands the untouched request to the handler.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, _payload, done) => done(null));
    for (const m of ALL_METHODS) app.addHttpMethod(m, { hasBody: false, overrideExisting: true });

    const read = readHandler(cradle, opts.listener);
    app.route({ method: ['GET', 'HEAD'], url: '/*', handler: read, exposeHeadRoute: false });
    app.options('/*', async (_req, reply) =>
      reply
        .header('Access-Control-Allow-Methods', isAdmin ? ADMIN_METHODS : PUBLIC_METHODS)
        .header('Access-Control-Allow-Headers', '*')
        .code(200)
        .send(),
    );
    const others = ALL_METHODS.filter((m) => !READ_METHODS.has(m));
    if (isAdmin) {
      const write = writeHandler(cradle);
      app.post('/*', write);
      app.put('/*', write);
      app.delete('/*', deleteHandler(cradle));
      const unsupported = others.filter((m) => m !== 'POST' && m !== 'PUT' && m !== 'DELETE');
      app.route({
        method: unsupported,
        url: '/*',
        handler: async (req, reply) => {
          await drainRequest(req.raw);
          return sendJsonError(req, reply, 400, `unsupported method ${req.method}`);
        },
      });
    } else {
      // The public port is read-only: Go's handler simply does nothing for other methods.
      app.route({
        method: others,
        url: '/*',
        handler: async (req, reply) => {
          await drainRequest(req.raw);
          return reply.code(200).send();
        },
      });
    }
  };
}
