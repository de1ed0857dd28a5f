// The admin and public fastify instances with the headers every Go store-handler response
// carries (Server, request id, CORS reflection) and the error → status mapping for HTTP.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../config/types.js';
import { toHttpStatus } from '../errors.js';
import { serverVersion } from '../version.js';
import { sendJsonError } from './json.js';
import type { RequestCounters } from './request-counters.js';
import { newRequestId, REQUEST_ID_HEADER } from './request-id.js';

export type Listener = 'admin' | 'public';

export function createHttpServer(
  config: ServerConfig,
  logger: Logger,
  listener: Listener,
  counters: RequestCounters,
): FastifyInstance {
  const app = Fastify({
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
  }) as unknown as FastifyInstance;

  const serverHeader = `SeaweedFS Volume ${serverVersion(config.offsetBytes)}`;
  // A callback hook, not an async one: it runs on every request and a promise per call shows up
  // in small-request profiles.
  app.addHook('onRequest', (request, reply, done) => {
    counters.count(request.method);
    reply.header('Server', serverHeader);
    // Any client-sent id is ignored, as Go's middleware does.
    reply.header(REQUEST_ID_HEADER, request.id);
    if (request.headers.origin) {
      reply.header('Access-Control-Allow-Origin', '*');
      reply.header('Access-Control-Allow-Credentials', 'true');
    }
    done();
  });

  app.setErrorHandler((err, request, reply) => {
    const status = (err as { statusCode?: number }).statusCode ?? toHttpStatus(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    if (reply.sent) return;
    sendJsonError(request, reply, status, (err as Error).message);
  });

  return app;
}
