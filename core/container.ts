// The DI container, built once at start. Everything a plugin may use is registered here; plugins
// receive the cradle and nothing else from core.
import { asFunction, asValue, createContainer, InjectionMode, type AwilixContainer } from 'awilix';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/types.js';
import { GrpcClientPool } from './grpc/client-pool.js';
import { RequestCounters } from './http/request-counters.js';
import { MasterClient } from './master/master-client.js';
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
    requestCounters: asFunction(() => new RequestCounters()).singleton(),
  });
  return container;
}
