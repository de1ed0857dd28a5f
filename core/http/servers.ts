// The admin and public fastify instances with the headers every Go store-handler response
// carries (Server, request id, CORS reflection) and the error → status mapping for HTTP.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../config/types.js';
import { toHttpStatus } from '../errors.js';
import { serverVersion } from '../version.js';
import type { FastPath, FastReply } from './fast-path.js';
import { sendJsonError } from './json.js';
import type { RequestCounters } from './request-counters.js';
import { applyConnectionTimeouts } from './timeouts.js';
import { newRequestId, REQUEST_ID_HEADER } from './request-id.js';

export type Listener = 'admin' | 'public';

export function createHttpServer(
  config: ServerConfig,
  logger: Logger,
  listener: Listener,
  counters: RequestCounters,
  fastPaths: FastPath[] = [],
): FastifyInstance {
  const serverHeader = `SeaweedFS Volume ${serverVersion(config.offsetBytes)}`;
  /** What every answer carries (flat name/value list): Server, request id, CORS reflection. */
  const baseHeaders = (requestId: string, origin: string | undefined): string[] => {
    // Any client-sent request id is ignored, as Go's middleware does.
    const h = ['Server', serverHeader, REQUEST_ID_HEADER, requestId];
    if (origin) h.push('Access-Control-Allow-Origin', '*', 'Access-Control-Allow-Credentials', 'true');
    return h;
  };
  const fastReply: FastReply = {
    send(req, res, status, headers, body) {
      counters.count(req.method ?? '');
      const all = baseHeaders(newRequestId(), req.headers.origin);
      for (let i = 0; i < headers.length; i++) all.push(headers[i]);
      res.writeHead(status, all);
      // A small body goes as a latin1 string: node then sends head and body in one write, instead
      // of a writev of two buffers with its extra bookkeeping.
      if (body !== undefined && body.length <= 16 * 1024) res.end(body.toString('latin1'), 'latin1');
      else res.end(body);
    },
  };
  const app = Fastify({
    // Our own node server so fast paths see each request before fastify's routing; the settings
    // fastify would apply to a server it creates are applied here.
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
      const server = createServer((req, res) => {
        for (let i = 0; i < fastPaths.length; i++) {
          try {
            if (fastPaths[i](req, res, fastReply)) return;
          } catch (err) {
            logger.error({ err }, 'fast path failed');
            if (res.headersSent) {
              res.destroy();
              return;
            }
          }
        }
        handler(req, res);
      });
      applyConnectionTimeouts(server, config.idleTimeoutSeconds);
      return server;
    },
    loggerInstance: logger.child({ listener }),
    // No per-request logging at the default level: it costs more than serving a small needle.
    logController: new LogController({ disableRequestLogging: true }),
    keepAliveTimeout: config.idleTimeoutSeconds * 1000,
    // Uploads are checked against fileSizeLimitMB by the data path while streaming; fastify's own
    // body limit must not cut in first.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 4096 },
    genReqId: () => newRequestId(),
    // The server's logger itself, not a child per request: building one costs on every request and
    // request logging is off; error logs name the request id themselves.
    childLoggerFactory: (parent) => parent,
  }) as unknown as FastifyInstance;

  // A callback hook, not an async one: it runs on every request and a promise per call shows up
  // in small-request profiles.
  app.addHook('onRequest', (request, reply, done) => {
    counters.count(request.method);
    const base = baseHeaders(request.id, request.headers.origin);
    for (let i = 0; i < base.length; i += 2) reply.header(base[i], base[i + 1]);
    done();
  });

  app.setErrorHandler((err, request, reply) => {
    const status = (err as { statusCode?: number }).statusCode ?? toHttpStatus(err);
    if (status >= 500) request.log.error({ err, reqId: request.id }, 'request failed');
    if (reply.sent) return;
    sendJsonError(request, reply, status, (err as Error).message);
  });

  return app;
}
