// The admin and public fastify instances with the headers every Go store-handler response
// carries (Server, request id, CORS reflection) and the error → status mapping for HTTP.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import { performance } from 'node:perf_hooks';
import Fastify, { LogController, type FastifyInstance, type onRequestHookHandler, type onResponseHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../config/types.js';
import { toHttpStatus } from '../errors.js';
import { NOT_STORE_ROUTES } from '../metrics/request-metrics.js';
import { answerClientError } from './client-error.js';
import { oneAtATimePerConnection } from './one-at-a-time.js';
import { baseHeaders, serverHeaderOf, writeCompleteAnswer } from './answer.js';
import type { FastPath, FastReply } from './fast-path.js';
import { sendJsonError } from './json.js';
import type { RequestCounters } from './request-counters.js';
import { applyConnectionTimeouts } from './timeouts.js';
import { newRequestId } from './request-id.js';

export type Listener = 'admin' | 'public';

type Dispatch = (req: IncomingMessage, res: ServerResponse) => void;
/** Each listener's request handler (fast paths, then fastify), for servers that serve the same requests. */
const dispatchers = new WeakMap<object, Dispatch>();

/**
 * A plain HTTP server answering exactly as `app` does, for connections that reach it another way
 * than its port (the HTTP worker threads' forwarded requests, core/http/workers/). `prepare` runs
 * first on every request. A connection has the listener's idle timeout, so a client that stalls
 * behind a worker stalls this connection and is cut as it would be here; an idle kept-alive one is
 * left for the worker to retire (forward.ts) so that none is closed under a request being sent.
 */
export function createCompanionServer(app: FastifyInstance, idleTimeoutSeconds: number, prepare: (req: IncomingMessage) => void): Server {
  const dispatch = dispatchers.get(app.server);
  if (!dispatch) throw new Error('not a listener made by createHttpServer');
  // No Host required: a forwarded HTTP/1.0 request without one reaches the handlers as it would here.
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    prepare(req);
    dispatch(req, res);
  });
  applyConnectionTimeouts(server, idleTimeoutSeconds);
  server.keepAliveTimeout = 0;
  return server;
}

export function createHttpServer(
  config: ServerConfig,
  logger: Logger,
  listener: Listener,
  counters: RequestCounters,
  fastPaths: FastPath[] = [],
  /** Set: the listener serves HTTPS with these options (security.toml [https.volume]). */
  tls?: HttpsServerOptions,
): FastifyInstance {
  const serverHeader = serverHeaderOf(config.offsetBytes);
  const metrics = counters.metrics;
  // Fast paths answer synchronously, so the start of the request being answered is the start of
  // the current server callback: one number, no per-request state.
  let fastStart = 0;
  const writeFast = (req: IncomingMessage, res: ServerResponse, id: string, status: number, headers: string[], body: Buffer | undefined) =>
    writeCompleteAnswer(req, res, serverHeader, id, status, headers, body);
  // In-flight requests are tracked on the admin listener only, as for routed store requests below.
  const onClaimedClose = function (this: ServerResponse) {
    metrics?.finished(this.req.method);
  };
  const fastReply: FastReply = {
    send(req, res, status, headers, body) {
      counters.count(req.method ?? '');
      if (metrics) metrics.done(req.method, status, (performance.now() - fastStart) / 1000);
      writeFast(req, res, newRequestId(), status, headers, body);
    },
    claim(req, res) {
      counters.count(req.method ?? '');
      const start = fastStart;
      if (metrics && listener === 'admin') {
        metrics.started(req.method);
        res.once('close', onClaimedClose);
      }
      const id = newRequestId();
      return {
        id,
        send(status, headers, body) {
          if (metrics) metrics.done(req.method, status, (performance.now() - start) / 1000);
          writeFast(req, res, id, status, headers, body);
        },
      };
    },
  };
  const app = Fastify({
    // Our own node server so fast paths see each request before fastify's routing; the settings
    // fastify would apply to a server it creates are applied here.
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
      const dispatch = (req: IncomingMessage, res: ServerResponse) => {
        if (metrics && fastPaths.length > 0) fastStart = performance.now();
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
      };
      const inTurn = oneAtATimePerConnection(dispatch);
      const server = tls ? createHttpsServer(tls, inTurn) : createServer(inTurn);
      applyConnectionTimeouts(server, config.idleTimeoutSeconds);
      dispatchers.set(server, inTurn);
      return server;
    },
    loggerInstance: logger.child({ listener }),
    // Only names the scheme in fastify's "listening at" line: the server itself comes from serverFactory.
    ...(tls ? { https: true } : {}),
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
    clientErrorHandler: answerClientError,
    // The server's logger itself, not a child per request: building one costs on every request and
    // request logging is off; error logs name the request id themselves.
    childLoggerFactory: (parent) => parent,
  }) as unknown as FastifyInstance;

  // A callback hook, not an async one: it runs on every request and a promise per call shows up
  // in small-request profiles.
  app.addHook('onRequest', (request, reply, done) => {
    counters.count(request.method);
    const base = baseHeaders(serverHeader, request.id, request.headers.origin);
    for (let i = 0; i < base.length; i += 2) reply.header(base[i], base[i + 1]);
    done();
  });

  // Store requests feed the Prometheus request metrics; control routes do not (in Go they are
  // separate handlers on the mux). Hooks are attached per route so control routes pay nothing.
  if (metrics) {
    const onStoreResponse: onResponseHookHandler = (request, reply, done) => {
      metrics.done(request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    // In-flight requests are tracked on the admin listener only, as Go's privateStoreHandler does;
    // 'close' fires whether the answer completed or the client went away.
    const onStoreClose = function (this: ServerResponse) {
      metrics.finished(this.req.method);
    };
    const onStoreRequest: onRequestHookHandler = (request, reply, done) => {
      metrics.started(request.method);
      reply.raw.on('close', onStoreClose);
      done();
    };
    app.addHook('onRoute', (route) => {
      if (NOT_STORE_ROUTES.has(route.url)) return;
      route.onResponse = [...[route.onResponse ?? []].flat(), onStoreResponse];
      if (listener === 'admin') route.onRequest = [...[route.onRequest ?? []].flat(), onStoreRequest];
    });
  }

  app.setErrorHandler((err, request, reply) => {
    const status = (err as { statusCode?: number }).statusCode ?? toHttpStatus(err);
    if (status >= 500) request.log.error({ err, reqId: request.id }, 'request failed');
    if (reply.sent) return;
    sendJsonError(request, reply, status, (err as Error).message);
  });

  return app;
}
