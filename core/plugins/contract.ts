// The contract between core and a feature-family plugin. A plugin module's default export is a
// VolumePlugin; core checks its shape when loading (see registry.ts) and never imports it by name.
import type { FastifyPluginAsync } from 'fastify';
import type { PluginFamily } from '../../config/types.js';
import type { Cradle } from '../container.js';
import type { GrpcHandler } from '../grpc/handler.js';
import type { FastPath } from '../http/fast-path.js';
import type { WorkerCallHandler } from '../http/workers/protocol.js';

/** Which HTTP listener a route plugin is being registered on. */
export interface HttpPluginOptions {
  listener: 'admin' | 'public';
}

export interface VolumePlugin {
  /** Must equal the family folder name. */
  name: PluginFamily;
  /** HTTP routes, registered on the admin listener and (read-only variants) the public listener. */
  http?: (cradle: Cradle) => FastifyPluginAsync<HttpPluginOptions>;
  /** Synchronous answers for the hottest requests, tried before fastify routes (http/fast-path.ts). */
  httpFastPath?: (cradle: Cradle, opts: HttpPluginOptions) => FastPath;
  /**
   * The same for the HTTP worker threads (-workers ≥ 2, core/http/workers/): `module` (a file URL)
   * exports createWorkerFastPath, run in each worker; `calls` are the main thread's answers to
   * what it asks (the store lives on the main thread only).
   */
  workerFastPath?: (cradle: Cradle) => { module: string; calls: Record<string, WorkerCallHandler> };
  /** gRPC method implementations keyed by RPC name; every key must belong to this family. */
  grpc?: (cradle: Cradle) => Partial<Record<string, GrpcHandler>>;
  /**
   * Called before the store scans its disk locations: what loading a volume needs from the family
   * is set up here (e.g. the backend of a remote-tiered .dat, as Go asks the master for its
   * storage backends before it loads volumes).
   */
  prepare?: (cradle: Cradle) => Promise<void>;
  /**
   * Called after the store is open and before listeners bind. A family that adds to core's reports
   * or owns files of the disk locations registers here: `await cradle.contributions.register(c)`
   * with a FamilyContributor (core/storage/contributions.ts): its EC shards (full and EC
   * heartbeats, /status EcVolumes, placement; deltas via announceEcShardsAdded/Removed), fields of
   * a volume's report (remote storage name and key) and the files it loads from each location
   * (`ownsFile` + `loadFiles`, run at once for the locations already scanned and on every rescan).
   */
  start?: (cradle: Cradle) => Promise<void>;
  /** Called during shutdown after listeners close and before volumes close (unregister here). */
  stop?: (cradle: Cradle) => Promise<void>;
}
