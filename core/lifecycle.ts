// Start and stop in the order operators rely on: plugins start, listeners bind (gRPC, public,
// admin), heartbeat starts; on a signal heartbeat stops (master told), pre-stop wait, listeners
// close, plugins stop, volumes close.
import type * as grpc from '@grpc/grpc-js';
import type { IncomingMessage } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import type { AwilixContainer } from 'awilix';
import type { FastifyInstance } from 'fastify';
import { loadSecurityConfig } from '../config/security.js';
import type { PluginFamily } from '../config/types.js';
import type { Cradle } from './container.js';
import { registerAdminRoutes, registerStaticRoutes } from './control/http-routes.js';
import { serverRpcs } from './control/server-rpcs.js';
import { volumeRpcs } from './control/volume-rpcs.js';
import type { GrpcHandler } from './grpc/handler.js';
import { bindGrpc, buildVolumeServerImplementation, createGrpcServer } from './grpc/server.js';
import { volumeServerService } from './grpc/proto-loader.js';
import { listenLoopbackCompanion, stopAccepting, wantsLoopbackCompanion } from './http/loopback.js';
import { serverHeaderOf } from './http/answer.js';
import { createCompanionServer, createHttpServer, type Listener } from './http/servers.js';
import { HttpWorkerPool } from './http/workers/pool.js';
import type { WorkerCallHandler } from './http/workers/protocol.js';
import { MetricsListener } from './metrics/metrics-listener.js';
import { refreshIntervalMs, TlsManager } from './tls/tls-manager.js';
import { checkPluginRpcs, loadEnabledPlugins, type LoadedPlugins } from './plugins/registry.js';
import { backendRegistry } from './storage/backend/registry.js';
import { unavailableRemoteBackend } from './storage/backend/unavailable-remote.js';

const LISTENER_CLOSE_TIMEOUT_MS = 5000;

function hostForListen(bind: string): string {
  return bind === '' ? '0.0.0.0' : bind;
}

function grpcBindAddress(bind: string, port: number): string {
  const host = hostForListen(bind);
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class Lifecycle {
  private plugins: LoadedPlugins = { enabled: [], disabled: [] };
  private unsetBackendFallback: (() => void) | undefined;
  private admin: FastifyInstance | undefined;
  private publicApp: FastifyInstance | undefined;
  private grpcServer: grpc.Server | undefined;
  private metricsListener: MetricsListener | undefined;
  private shuttingDown: Promise<void> | undefined;
  private tls: TlsManager | undefined;
  /** Loopback companions of the HTTP listeners (-ip.bind unset, as Go). */
  private loopback: NetServer[] = [];
  /** The HTTP worker threads (-workers ≥ 2). */
  private workers: HttpWorkerPool | undefined;

  private resolved: Cradle | undefined;

  constructor(private readonly container: AwilixContainer<Cradle>) {}

  /**
   * Every registration is a singleton or a value, so the cradle is resolved once into a plain
   * object: handlers read it per request, and each access through awilix's proxy is a resolve().
   */
  private get cradle(): Cradle {
    if (!this.resolved) {
      const c = this.container.cradle;
      const plain = {} as Record<string, unknown>;
      for (const name of Object.keys(this.container.registrations)) plain[name] = (c as unknown as Record<string, unknown>)[name];
      this.resolved = plain as unknown as Cradle;
    }
    return this.resolved;
  }

  async start(): Promise<void> {
    const { config, logger } = this.cradle;
    // TLS first: a bad certificate file fails startup before anything is opened or dialed.
    const tls = new TlsManager(config.security, logger);
    this.tls = tls;
    this.cradle.grpcClients.setCredentials(tls.channelCredentials());
    tls.onChannelCredentials((creds) => this.cradle.grpcClients.setCredentials(creds));
    this.plugins = await loadEnabledPlugins(config);
    if (!config.plugins.tiering.enabled) {
      // Tiered volumes still load and are reported; their reads fail naming the switch.
      this.unsetBackendFallback = backendRegistry.setFallback(
        unavailableRemoteBackend('the tiering plugin family is disabled; enable it with plugins.tiering.enabled=true'),
      );
    }
    for (const p of this.plugins.enabled) await p.prepare?.(this.cradle);
    // Open the store first so bad dirs fail startup before anything listens.
    const loadStarted = Date.now();
    await this.cradle.store.loadExistingVolumes();
    logger.info({ volumes: this.cradle.store.allVolumes().length, ms: Date.now() - loadStarted }, 'volumes loaded');
    void this.cradle.serverState;
    for (const p of this.plugins.enabled) await p.start?.(this.cradle);

    // gRPC
    const pluginHandlers = new Map<PluginFamily, Partial<Record<string, GrpcHandler>>>();
    for (const p of this.plugins.enabled) {
      const handlers = p.grpc?.(this.cradle) ?? {};
      checkPluginRpcs(p.name, handlers);
      pluginHandlers.set(p.name, handlers);
    }
    const server = createGrpcServer(tls.grpcServerInterceptors());
    server.addService(
      volumeServerService(),
      buildVolumeServerImplementation({
        core: { ...serverRpcs(this.cradle), ...volumeRpcs(this.cradle) },
        plugins: pluginHandlers,
        disabled: this.plugins.disabled,
        logger,
      }),
    );
    this.grpcServer = server;
    await bindGrpc(server, grpcBindAddress(config.bindIp, config.grpcPort), tls.grpcServerCredentials());
    const companions = wantsLoopbackCompanion(config.listenOnLocalhost, config.bindIp);
    if (companions) {
      await bindGrpc(server, `127.0.0.1:${config.grpcPort}`, tls.grpcServerCredentials()).catch((e) =>
        logger.info({ port: config.grpcPort, err: (e as Error).message }, 'skip starting localhost listener'),
      );
    }

    // HTTP: on the main thread, or on worker threads that forward to it (core/http/workers/).
    const separatePublic = config.publicPort !== config.port;
    const useWorkers = config.workers > 1 && !tls.httpsEnabled;
    if (config.workers > 1 && !useWorkers) logger.info({ workers: config.workers }, 'HTTPS listeners: serving HTTP on the main thread only');
    const host = hostForListen(config.bindIp);
    if (separatePublic) {
      this.publicApp = await this.buildHttp('public');
      if (!useWorkers) await this.publicApp.listen({ host, port: config.publicPort });
      if (companions) await this.addLoopback(this.publicApp, config.publicPort);
    }
    this.admin = await this.buildHttp('admin');
    if (!useWorkers) await this.admin.listen({ host, port: config.port });
    if (companions) await this.addLoopback(this.admin, config.port);
    if (useWorkers) await this.startWorkers(host, separatePublic);

    tls.watch(refreshIntervalMs(process.env));

    // Prometheus scrape listener (weed/command/volume.go: -metricsPort, 0 = off).
    if (config.metricsPort > 0) {
      this.metricsListener = new MetricsListener(this.cradle.metrics, logger);
      await this.metricsListener.listen(hostForListen(config.metricsIp), config.metricsPort);
    }

    this.cradle.masterClient.start();
    const scheme = tls.httpsEnabled ? 'https' : 'http';
    logger.info(
      {
        scheme,
        ip: config.bindIp || '*',
        ...(this.loopback.length > 0 ? { alsoOn: '127.0.0.1' } : {}),
        port: config.port,
        ...(separatePublic ? { publicPort: config.publicPort } : {}),
        grpcPort: config.grpcPort,
        grpcTls: tls.grpcEnabled,
        ...(this.metricsListener ? { metricsPort: config.metricsPort } : {}),
        masters: config.masters,
        plugins: this.plugins.enabled.map((p) => p.name),
      },
      'volume server started',
    );
  }

  private async startWorkers(host: string, separatePublic: boolean): Promise<void> {
    const { config, logger, requestCounters } = this.cradle;
    const calls = new Map<string, WorkerCallHandler>();
    const modules: string[] = [];
    for (const p of this.plugins.enabled) {
      const w = p.workerFastPath?.(this.cradle);
      if (!w) continue;
      modules.push(w.module);
      for (const [kind, handler] of Object.entries(w.calls)) calls.set(kind, handler);
    }
    const listeners = [];
    const admin = this.admin;
    if (admin) listeners.push({ listener: 'admin' as const, host, port: config.port, server: (prepare: (req: IncomingMessage) => void) => createCompanionServer(admin, config.idleTimeoutSeconds, prepare) });
    const publicApp = this.publicApp;
    if (separatePublic && publicApp) {
      listeners.push({ listener: 'public' as const, host, port: config.publicPort, server: (prepare: (req: IncomingMessage) => void) => createCompanionServer(publicApp, config.idleTimeoutSeconds, prepare) });
    }
    this.workers = new HttpWorkerPool({
      count: config.workers,
      listeners,
      serverHeader: serverHeaderOf(config.offsetBytes),
      idleTimeoutSeconds: config.idleTimeoutSeconds,
      fastPathModules: config.fastPath ? modules : [],
      calls,
      counters: requestCounters,
      logger,
    });
    await this.workers.start();
  }

  private async addLoopback(app: FastifyInstance, port: number): Promise<void> {
    const companion = await listenLoopbackCompanion(app.server as unknown as NetServer, port, this.cradle.logger);
    if (companion) this.loopback.push(companion);
  }

  private async buildHttp(listener: Listener): Promise<FastifyInstance> {
    const fastPaths = this.plugins.enabled.flatMap((p) => (p.httpFastPath ? [p.httpFastPath(this.cradle, { listener })] : []));
    // Both listeners serve HTTPS when configured. Go serves only the admin one over TLS and leaves a
    // separate public port plaintext, while its clients with [https.client] dial every volume URL
    // over https; one scheme for both keeps such clients working and nothing in the clear.
    const tlsOptions = this.tls?.httpsServerOptions();
    const app = createHttpServer(this.cradle.config, this.cradle.logger, listener, this.cradle.requestCounters, fastPaths, tlsOptions);
    if (tlsOptions) this.tls?.attachHttps(app.server as unknown as TlsServer);
    registerStaticRoutes(app);
    if (listener === 'admin') registerAdminRoutes(app, this.cradle);
    for (const p of this.plugins.enabled) {
      if (p.http) await app.register(p.http(this.cradle), { listener });
    }
    await app.ready();
    return app;
  }

  /**
   * SIGHUP: re-read security.toml (JWT keys, whitelist, TLS certificate files) and pick up volumes
   * that appeared on disk, as Go does. Handlers read config.security per request, so updating it in
   * place is enough.
   */
  async reload(): Promise<void> {
    const { config, guard, logger, store } = this.cradle;
    try {
      const next = loadSecurityConfig({ securityFile: config.securityFile || undefined, configDir: config.configDir || undefined });
      // The whitelist first: if it is refused, nothing of the new file is applied.
      guard.update([...config.whiteList, ...next.guardWhiteList]);
      try {
        this.tls?.reload(next);
      } catch (e) {
        // A bad certificate file must not block rotating JWT keys or the whitelist.
        logger.error({ err: (e as Error).message }, 'TLS reload failed; keeping the previous certificates');
      }
      Object.assign(config.security, next);
      const before = store.allVolumes().length;
      await store.loadNewVolumes();
      logger.info({ securityFile: next.source || '(none)', newVolumes: store.allVolumes().length - before }, 'reloaded security config');
    } catch (e) {
      logger.error({ err: e }, 'reload failed, keeping the previous settings');
    }
  }

  /** Graceful shutdown; safe to call more than once. */
  shutdown(reason: string): Promise<void> {
    this.shuttingDown ??= this.doShutdown(reason);
    return this.shuttingDown;
  }

  private async doShutdown(reason: string): Promise<void> {
    const { config, logger, masterClient, store } = this.cradle;
    logger.info({ reason }, 'shutting down');
    // With heartbeating already stopped (VolumeServerLeave), Go skips the stopping mark and the wait.
    if (masterClient.heartbeating) {
      await masterClient.stop();
      store.stopping = true;
      if (config.preStopSeconds > 0) await new Promise((r) => setTimeout(r, config.preStopSeconds * 1000));
    }
    const closeHttp = async (app: FastifyInstance | undefined) => {
      if (!app) return;
      await Promise.race([app.close(), new Promise((r) => setTimeout(r, LISTENER_CLOSE_TIMEOUT_MS))]);
    };
    const t0 = Date.now();
    // The loopback companions stop accepting first; their sockets belong to the main servers.
    for (const l of this.loopback) stopAccepting(l);
    // Workers first: they stop accepting and finish their requests, forwarded ones included.
    await this.workers?.stop(LISTENER_CLOSE_TIMEOUT_MS);
    await closeHttp(this.publicApp);
    await closeHttp(this.admin);
    logger.debug({ ms: Date.now() - t0 }, 'http listeners closed');
    this.cradle.metricsPusher.stop();
    this.cradle.jobs.close();
    await this.metricsListener?.close();
    if (this.grpcServer) {
      const server = this.grpcServer;
      await Promise.race([
        new Promise<void>((r) => server.tryShutdown(() => r())),
        new Promise<void>((r) => setTimeout(r, LISTENER_CLOSE_TIMEOUT_MS)),
      ]);
      server.forceShutdown();
      logger.debug({ ms: Date.now() - t0 }, 'grpc closed');
    }
    for (const p of [...this.plugins.enabled].reverse()) {
      try {
        await p.stop?.(this.cradle);
      } catch (e) {
        logger.error({ err: e, plugin: p.name }, 'plugin failed to stop cleanly');
      }
    }
    await store.close();
    this.unsetBackendFallback?.();
    this.cradle.grpcClients.closeAll();
    this.tls?.close();
    logger.info('shut down');
  }
}
