// The DI container, built once at start. Everything a plugin may use is registered here; plugins
// receive the cradle and nothing else from core.
import { asFunction, asValue, createContainer, InjectionMode, type AwilixContainer } from 'awilix';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/types.js';
import { GrpcClientPool } from './grpc/client-pool.js';
import { JobRegistry } from './jobs/job-registry.js';
import { RequestCounters } from './http/request-counters.js';
import { MasterClient } from './master/master-client.js';
import { MetricsPusher } from './metrics/pusher.js';
import { VolumeServerMetrics } from './metrics/volume-server-metrics.js';
import { Guard } from './security/guard.js';
import { ServerState } from './server-state.js';
import type { Contributions } from './storage/contributions.js';
import { Store } from './storage/store.js';

export interface Cradle {
  config: ServerConfig;
  logger: Logger;
  store: Store;
  /** What families add to core's reports (heartbeat, /status) and to the load scan. */
  contributions: Contributions;
  serverState: ServerState;
  guard: Guard;
  grpcClients: GrpcClientPool;
  masterClient: MasterClient;
  requestCounters: RequestCounters;
  metrics: VolumeServerMetrics;
  metricsPusher: MetricsPusher;
  /** Long jobs (vacuum, copy, EC, tiering, scrub): progress for the admin page, GET /jobs and logs. */
  jobs: JobRegistry;
}

/** Go's util.JoinHostPort: an IPv6 host goes in brackets. */
function joinHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function buildContainer(config: ServerConfig, logger: Logger): AwilixContainer<Cradle> {
  const container = createContainer<Cradle>({ injectionMode: InjectionMode.PROXY, strict: true });
  container.register({
    config: asValue(config),
    logger: asValue(logger),
    store: asFunction(({ config, logger }: Cradle) => new Store(config, logger)).singleton(),
    contributions: asFunction(({ store }: Cradle) => store.contributions).singleton(),
    serverState: asFunction(({ config }: Cradle) => new ServerState(config.dirs[0])).singleton(),
    guard: asFunction(({ config }: Cradle) => new Guard([...config.whiteList, ...config.security.guardWhiteList])).singleton(),
    grpcClients: asFunction(() => new GrpcClientPool()).singleton(),
    masterClient: asFunction((c: Cradle) => new MasterClient(c)).singleton(),
    requestCounters: asFunction(({ metrics }: Cradle) => new RequestCounters(metrics.requests)).singleton(),
    metrics: asFunction((c: Cradle) => new VolumeServerMetrics(c)).singleton(),
    jobs: asFunction(({ logger }: Cradle) => new JobRegistry(logger.child({ component: 'jobs' }))).singleton(),
    metricsPusher: asFunction(({ metrics, logger, config }: Cradle) => new MetricsPusher(metrics, logger, joinHostPort(config.ip, config.port))).singleton(),
  });
  return container;
}
