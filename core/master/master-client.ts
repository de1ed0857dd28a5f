// The volume server's side of the master protocol: the SendHeartbeat stream with leader following
// and reconnects, plus the unary calls other parts of the server make (lookup, ping).
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../config/types.js';
import { masterClientConstructor } from '../grpc/proto-loader.js';
import { GrpcClientPool, unary } from '../grpc/client-pool.js';
import type { ServerState } from '../server-state.js';
import type { Store, VolumeShortInformation } from '../storage/store.js';
import type { EcShardInformation } from '../storage/contributions.js';
import {
  ecShardsDelta,
  fullEcHeartbeat,
  fullHeartbeat,
  goodbyeHeartbeat,
  stateMessage,
  volumeDelta,
  type HeartbeatMessage,
} from './heartbeat-messages.js';
import { toGrpcAddress, toHttpAddress } from './server-address.js';

export const PULSE_MS = 5000;
/** Go re-sends the full EC heartbeat every 17 pulses (volume_grpc_client_to_master.go). */
const EC_PULSES = 17;
const LEADER_SWITCH_DELAY_MS = 3000;
const LOOKUP_CACHE_MS = 10 * 60 * 1000;
const MAX_DUPLICATE_UUID_RETRIES = 3;

export interface VolumeLocation {
  url: string;
  public_url: string;
  grpc_port: number;
  data_center: string;
  data_in_remote?: boolean;
  read_only?: boolean;
  read_only_can_delete?: boolean;
}

/** master_pb.StorageBackend: a tier backend the master's configuration declares. */
export interface StorageBackendMessage {
  type?: string;
  id?: string;
  properties?: Record<string, string>;
}

type SessionOutcome = { kind: 'leader'; leader: string } | { kind: 'error'; error: string } | { kind: 'stopped' };

export interface MasterClientDeps {
  config: ServerConfig;
  store: Store;
  serverState: ServerState;
  logger: Logger;
  grpcClients: GrpcClientPool;
  /** Where the push gateway address and interval the master announces go. */
  metricsPusher?: { configure(address: string, intervalSeconds: number): void };
}

export class MasterClient {
  private readonly config: ServerConfig;
  private readonly store: Store;
  private readonly serverState: ServerState;
  private readonly log: Logger;
  private readonly pool: GrpcClientPool;
  private readonly ctor = masterClientConstructor();
  private readonly lookupCache = new Map<number, { at: number; locations: VolumeLocation[] }>();

  /** Seed masters as given by -master, in order. */
  readonly seeds: string[];
  /** The master of the most recently opened stream ('' before the first); Go never clears it. */
  currentMaster = '';
  /** True while a stream is registered with a master (it answered us). */
  connected = false;
  /** False once heartbeating has been stopped (VolumeServerLeave or shutdown). */
  heartbeating = true;

  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private endSession: ((o: SessionOutcome) => void) | undefined;
  private duplicateUuidFailures = 0;
  private lastLoggedFailure = '';
  private readonly metricsPusher: MasterClientDeps['metricsPusher'];
  private readonly backendListeners = new Set<(backends: StorageBackendMessage[]) => void>();

  constructor(deps: MasterClientDeps) {
    this.config = deps.config;
    this.store = deps.store;
    this.serverState = deps.serverState;
    this.log = deps.logger.child({ component: 'master-client' });
    this.pool = deps.grpcClients;
    this.seeds = deps.config.masters;
    this.metricsPusher = deps.metricsPusher;
  }

  /** Whether `target` (any address form) is one of our masters (seed or current), as Go's ping admission. */
  isKnownMaster(target: string): boolean {
    const key = toHttpAddress(target);
    if (!key) return false;
    if (this.currentMaster && toHttpAddress(this.currentMaster) === key) return true;
    return this.seeds.some((s) => toHttpAddress(s) === key);
  }

  /**
   * Calls `fn` with the tier storage backends every master announces (GetMasterConfiguration when a
   * master takes us on, and heartbeat replies that carry them: Go's LoadFromPbStorageBackends).
   * Returns the unsubscribe function.
   */
  onStorageBackends(fn: (backends: StorageBackendMessage[]) => void): () => void {
    this.backendListeners.add(fn);
    return () => this.backendListeners.delete(fn);
  }

  private announceBackends(list: StorageBackendMessage[] | undefined): void {
    if (!list || list.length === 0) return;
    for (const fn of this.backendListeners) {
      try {
        fn(list);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'storage backends listener failed');
      }
    }
  }

  start(): void {
    if (this.running || this.seeds.length === 0) return;
    this.running = this.loop().catch((e) => this.log.error({ err: e }, 'heartbeat loop crashed'));
  }

  /** Stops heartbeating: sends the goodbye message and closes the stream. Idempotent. */
  async stop(): Promise<void> {
    if (!this.heartbeating) return;
    this.heartbeating = false;
    this.endSession?.({ kind: 'stopped' });
    this.abort.abort();
    await this.running;
    this.connected = false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.abort.signal.aborted) return resolve();
      const t = setTimeout(resolve, ms);
      this.abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async loop(): Promise<void> {
    let newLeader = '';
    while (this.heartbeating) {
      for (const seed of this.seeds) {
        if (!this.heartbeating) return;
        let target = seed;
        if (newLeader) {
          await this.sleep(LEADER_SWITCH_DELAY_MS);
          target = newLeader;
        }
        const outcome = await this.session(target);
        this.connected = false;
        if (outcome.kind === 'stopped') return;
        if (outcome.kind === 'leader') {
          this.duplicateUuidFailures = 0;
          this.log.info({ master: target, leader: outcome.leader }, 'master redirected us to the leader');
          newLeader = outcome.leader;
          continue;
        }
        newLeader = '';
        // A refused or unresolvable master is a newcomer's first sight: say what to start.
        const absent = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|No connection established/.test(outcome.error);
        this.logFailureOnce(
          { master: target, err: outcome.error },
          absent ? `no master answers at ${target}: start one (weed master), or run npm run cluster for a local cluster` : 'heartbeat to master failed',
        );
        await this.sleep(PULSE_MS);
      }
    }
  }

  private logFailureOnce(fields: { master: string; err: string }, msg: string): void {
    // One clear line per distinct failure, not a stack per retry.
    const key = `${fields.master}\n${fields.err}`;
    if (key === this.lastLoggedFailure) return;
    this.lastLoggedFailure = key;
    this.log.warn(fields, msg);
  }

  private session(target: string): Promise<SessionOutcome> {
    return new Promise<SessionOutcome>((resolve) => {
      const address = toGrpcAddress(target);
      if (!address) {
        resolve({ kind: 'error', error: `bad master address ${JSON.stringify(target)}` });
        return;
      }
      const client = this.pool.get<grpc.Client>(this.ctor, address);
      const stream = (client as unknown as { SendHeartbeat(): grpc.ClientDuplexStream<HeartbeatMessage, HeartbeatMessage> })
        .SendHeartbeat();
      this.currentMaster = target;
      let done = false;
      const cleanups: (() => void)[] = [];

      const finish = (outcome: SessionOutcome) => {
        if (done) return;
        done = true;
        for (const c of cleanups) c();
        this.endSession = undefined;
        if (outcome.kind === 'stopped') {
          // Tell the master we are leaving so it drops our volumes from its writable lists.
          try {
            stream.write(goodbyeHeartbeat(this.config));
          } catch {
            /* stream already broken */
          }
          stream.end();
          // Give the goodbye a moment to leave before the stream is torn down.
          const t = setTimeout(() => stream.cancel(), 500);
          stream.on('close', () => clearTimeout(t));
        } else {
          stream.cancel();
        }
        resolve(outcome);
      };
      this.endSession = finish;

      const send = (msg: HeartbeatMessage) => {
        if (!done) stream.write(msg);
      };

      stream.on('data', (resp: HeartbeatMessage) => this.onResponse(target, resp, finish));
      stream.on('error', (err: grpc.ServiceError) => finish({ kind: 'error', error: err.details || err.message }));
      stream.on('end', () => finish({ kind: 'error', error: 'master closed the stream' }));

      send(fullHeartbeat(this.config, this.store));
      send(fullEcHeartbeat(this.store));

      let pulses = 0;
      const pulse = setInterval(() => {
        this.store.checkDiskSpace();
        send(fullHeartbeat(this.config, this.store));
        // Only a server whose families report EC shards repeats the EC list.
        if (++pulses % EC_PULSES === 0 && this.store.contributions.reportsEcShards) send(fullEcHeartbeat(this.store));
      }, PULSE_MS);
      cleanups.push(() => clearInterval(pulse));

      const contributions = this.store.contributions;
      const onEcAdded = (s: EcShardInformation[]) => send(ecShardsDelta(this.config, s, []));
      const onEcRemoved = (s: EcShardInformation[]) => send(ecShardsDelta(this.config, [], s));
      contributions.on('ec-shards-added', onEcAdded);
      contributions.on('ec-shards-removed', onEcRemoved);
      cleanups.push(() => {
        contributions.off('ec-shards-added', onEcAdded);
        contributions.off('ec-shards-removed', onEcRemoved);
      });

      const onAdded = (v: VolumeShortInformation) => send(volumeDelta(this.config, [v], []));
      const onRemoved = (v: VolumeShortInformation) => send(volumeDelta(this.config, [], [v]));
      const onState = (s: { maintenance: boolean; version: number }) => send(stateMessage(this.config, s));
      this.store.on('volume-added', onAdded);
      this.store.on('volume-removed', onRemoved);
      this.serverState.on('changed', onState);
      cleanups.push(() => {
        this.store.off('volume-added', onAdded);
        this.store.off('volume-removed', onRemoved);
        this.serverState.off('changed', onState);
      });
    });
  }

  private onResponse(target: string, resp: HeartbeatMessage, finish: (o: SessionOutcome) => void): void {
    if (!this.connected) {
      this.connected = true;
      this.lastLoggedFailure = '';
      this.log.info({ master: target }, 'heartbeating to master');
      void this.fetchMetricsSettings(target);
    }
    this.announceBackends(resp.storage_backends as StorageBackendMessage[] | undefined);
    if (resp.metrics_address) this.metricsPusher?.configure(String(resp.metrics_address), Number(resp.metrics_interval_seconds ?? 0));
    const limit = Number(resp.volume_size_limit ?? 0);
    if (limit > 0 && limit !== this.store.volumeSizeLimit) this.store.volumeSizeLimit = limit;
    const dups = (resp.duplicated_uuids as string[] | undefined) ?? [];
    if (dups.length > 0) {
      this.duplicateUuidFailures++;
      if (this.duplicateUuidFailures > MAX_DUPLICATE_UUID_RETRIES) {
        this.log.fatal({ master: target, duplicated: dups }, 'master reports duplicated volume directories; exiting');
        process.exit(1);
      }
      finish({ kind: 'error', error: `volume: Duplicated volume directories were loaded: ${dups.join(', ')}` });
      return;
    }
    const leader = String(resp.leader ?? '');
    if (leader && toHttpAddress(leader) !== toHttpAddress(target)) {
      finish({ kind: 'leader', leader });
    }
  }

  /**
   * The push gateway settings. A Go master leaves them out of heartbeat answers and gives them in
   * GetMasterConfiguration (weed/server/volume_grpc_client_to_master.go checkWithMaster), so they
   * are asked for each time a master takes us on.
   */
  private async fetchMetricsSettings(target: string): Promise<void> {
    if (!this.metricsPusher && this.backendListeners.size === 0) return;
    try {
      const resp = await unary<object, { metrics_address?: string; metrics_interval_seconds?: number; storage_backends?: StorageBackendMessage[] }>(
        this.pool.get<grpc.Client>(this.ctor, toGrpcAddress(target)),
        'GetMasterConfiguration',
        {},
        5000,
      );
      this.announceBackends(resp.storage_backends);
      this.metricsPusher?.configure(String(resp.metrics_address ?? ''), Number(resp.metrics_interval_seconds ?? 0));
    } catch (e) {
      this.log.debug({ master: target, err: (e as Error).message }, 'master configuration not available');
    }
  }

  private currentMasterClient(): grpc.Client {
    if (!this.currentMaster) throw new Error('no master connected');
    return this.pool.get<grpc.Client>(this.ctor, toGrpcAddress(this.currentMaster));
  }

  /** Pings a master; returns its start_time_ns (decimal string). */
  async pingMaster(target: string, timeoutMs = 5000): Promise<string> {
    const client = this.pool.get<grpc.Client>(this.ctor, toGrpcAddress(target));
    const resp = await unary<object, { start_time_ns: string }>(client, 'Ping', {}, timeoutMs);
    return String(resp.start_time_ns ?? '0');
  }

  /**
   * Locations of a volume from the current master, cached for 10 minutes as Go does. `useCache`
   * false asks the master anyway (and refreshes the cache), as Go's LookupVolumeIds(..., false)
   * for replication, which must not forward to a replica the master no longer lists.
   */
  async lookupVolume(vid: number, useCache = true): Promise<VolumeLocation[]> {
    const hit = useCache ? this.lookupCache.get(vid) : undefined;
    if (hit && Date.now() - hit.at < LOOKUP_CACHE_MS) return hit.locations;
    const resp = await unary<object, { volume_id_locations: { error: string; locations: VolumeLocation[] }[] }>(
      this.currentMasterClient(),
      'LookupVolume',
      { volume_or_file_ids: [String(vid)] },
      5000,
    );
    const entry = resp.volume_id_locations?.[0];
    if (!entry) throw new Error(`volume ${vid} not found`);
    if (entry.error) throw new Error(entry.error);
    this.lookupCache.set(vid, { at: Date.now(), locations: entry.locations });
    return entry.locations;
  }

  /**
   * Tells the master a volume turned read-only or writable (master VolumeMarkReadonly). A master
   * that is not the leader answers `Not current leader`: then the leader is looked up from the
   * seeds and the call repeated there once, as Go does.
   */
  async notifyVolumeReadonly(v: { id: number; collection: string; replicaPlacement: number; ttl: number; diskType: string }, isReadonly: boolean): Promise<void> {
    const req = {
      ip: this.config.ip,
      port: this.config.port,
      volume_id: v.id,
      collection: v.collection,
      replica_placement: v.replicaPlacement,
      ttl: v.ttl,
      disk_type: v.diskType,
      is_readonly: isReadonly,
    };
    const call = async (master: string) => {
      try {
        await unary(this.pool.get<grpc.Client>(this.ctor, toGrpcAddress(master)), 'VolumeMarkReadonly', req, 10_000);
      } catch (e) {
        const reason = (e as grpc.ServiceError).details || (e as Error).message;
        throw new Error(`grpc VolumeMarkReadonly with master ${master}: set volume ${v.id} to read only on master: ${reason}`, { cause: e });
      }
    };
    const master = this.currentMaster || this.seeds[0];
    if (!master) throw new Error('no master configured');
    try {
      await call(master);
    } catch (e) {
      if (!(e as Error).message.includes('Not current leader')) throw e;
      const leader = await this.findLeader();
      await call(leader);
    }
  }

  private async findLeader(): Promise<string> {
    for (const seed of this.seeds) {
      try {
        const resp = await unary<object, { leader: string }>(
          this.pool.get<grpc.Client>(this.ctor, toGrpcAddress(seed)),
          'GetMasterConfiguration',
          {},
          5000,
        );
        if (resp.leader) return resp.leader;
      } catch {
        /* try the next seed */
      }
    }
    throw new Error('heartbeat master rejected mark-readonly and leader lookup failed');
  }

  invalidateLookup(vid: number): void {
    this.lookupCache.delete(vid);
  }
}
