// The ec family's calls to other servers on behalf of a read or delete of a mounted EC volume:
// LookupEcVolume at the master (cached per volume, ./shard-locations.ts), VolumeEcShardRead of one
// shard interval from a peer and VolumeEcBlobDelete on a peer (Go's weed/storage/store_ec.go
// cachedLookupEcShardLocations, doReadRemoteEcShardInterval; store_ec_delete.go
// doDeleteNeedleFromRemoteEcShard). Every call carries a deadline: a dead peer is an error, never a hang.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../../config/types.js';
import { unary, type GrpcClientPool } from '../../../core/grpc/client-pool.js';
import { masterClientConstructor, volumeServerClientConstructor } from '../../../core/grpc/proto-loader.js';
import { grpcAddressOfLocation, toGrpcAddress, toHttpAddress } from '../../../core/master/server-address.js';
import { ShardLocations } from './shard-locations.js';

/** Deadline of a master lookup (Go's lookups answer in milliseconds; a stuck master must not hold a read). */
export const LOOKUP_TIMEOUT_MS = 5_000;
/** Deadline of one shard interval read from a peer (an interval is at most one needle's bytes). */
export const SHARD_READ_TIMEOUT_MS = 30_000;
/** Deadline of one VolumeEcBlobDelete. */
export const BLOB_DELETE_TIMEOUT_MS = 10_000;

export interface EcPeersDeps {
  config: Pick<ServerConfig, 'ip' | 'port' | 'publicUrl'>;
  grpcClients: GrpcClientPool;
  /** The master the heartbeat follows now, else the first seed. */
  masterAddress: () => string;
  log: Logger;
}

export interface RemoteRead {
  /** Bytes received (the whole interval unless `deleted`). */
  data: Buffer;
  /** The holder's journal has the needle deleted. */
  deleted: boolean;
}

function grpcMessage(e: unknown): string {
  const d = (e as { details?: unknown })?.details;
  if (typeof d === 'string' && d) return d;
  return e instanceof Error ? e.message : String(e);
}

export class EcPeers {
  private readonly locations = new Map<number, ShardLocations>();

  constructor(private readonly deps: EcPeersDeps) {}

  /** Whether `server` (a Location url) is this server. */
  isSelf(server: string): boolean {
    const a = toHttpAddress(server);
    if (!a) return false;
    const { ip, port, publicUrl } = this.deps.config;
    return a === toHttpAddress(`${ip}:${port}`) || (publicUrl !== '' && a === toHttpAddress(publicUrl));
  }

  locationsOf(vid: number): ShardLocations {
    let l = this.locations.get(vid);
    if (!l) {
      l = new ShardLocations();
      this.locations.set(vid, l);
    }
    return l;
  }

  /** Forgets a volume's map (unmounted here). */
  drop(vid: number): void {
    this.locations.delete(vid);
  }

  /**
   * Go's cachedLookupEcShardLocations: refreshes the map when out of its window. Rejects when the
   * master cannot be asked or knows fewer than `dataShards` shards; the old map stays usable.
   */
  async refresh(vid: number, dataShards: number, totalShards: number): Promise<ShardLocations> {
    const l = this.locationsOf(vid);
    if (l.fresh(dataShards, totalShards) || l.recentlyFailed()) return l;
    if (!l.inflight) {
      l.stale = false;
      l.inflight = this.lookup(vid, dataShards)
        .then((answer) => l.install(answer))
        .catch((e: unknown) => {
          // A map a read disproved must not be trusted for a full window after a failed lookup.
          l.markStale();
          l.failedAt = Date.now();
          throw e;
        })
        .finally(() => {
          l.inflight = undefined;
        });
    }
    await l.inflight;
    return l;
  }

  private async lookup(vid: number, dataShards: number): Promise<Map<number, string[]>> {
    const master = this.deps.masterAddress();
    if (!master) throw new Error(`lookup ec volume ${vid}: no master configured`);
    const address = toGrpcAddress(master);
    if (!address) throw new Error(`lookup ec volume ${vid}: invalid master address ${JSON.stringify(master)}`);
    type Loc = { url?: string; grpc_port?: number };
    type Resp = { shard_id_locations?: { shard_id?: number; locations?: Loc[] }[] };
    let resp: Resp;
    try {
      resp = await unary<object, Resp>(this.deps.grpcClients.get<grpc.Client>(masterClientConstructor(), address), 'LookupEcVolume', { volume_id: vid }, LOOKUP_TIMEOUT_MS);
    } catch (e) {
      throw new Error(`lookup ec volume ${vid}: ${grpcMessage(e)}`, { cause: e });
    }
    const rows = resp.shard_id_locations ?? [];
    if (rows.length < dataShards) throw new Error(`only ${rows.length} shards found but ${dataShards} required`);
    const answer = new Map<number, string[]>();
    for (const row of rows) {
      const servers: string[] = [];
      for (const loc of row.locations ?? []) {
        const url = String(loc.url ?? '');
        const grpcAddr = grpcAddressOfLocation(url, Number(loc.grpc_port ?? 0));
        if (!grpcAddr) continue;
        // Keep the url's host and the location's gRPC port together (`host:port.grpcPort`).
        const grpcPort = Number(grpcAddr.slice(grpcAddr.lastIndexOf(':') + 1));
        servers.push(`${url}.${grpcPort}`);
      }
      answer.set(Number(row.shard_id ?? 0), servers);
    }
    return answer;
  }

  /**
   * Go's doReadRemoteEcShardInterval: `size` bytes of shard `shardId` at `offset` from `server`,
   * fenced by the volume's encode generation; a holder that has the needle journalled answers
   * deleted. A short stream is an error (the caller recovers from parity).
   */
  async readInterval(
    server: string,
    req: { vid: number; shardId: number; fileKey: bigint; offset: number; size: number; encodeTsNs: bigint },
    signal?: AbortSignal,
  ): Promise<RemoteRead> {
    const { vid, shardId, size } = req;
    const where = `ec shard ${vid}.${shardId} from ${server}`;
    const address = toGrpcAddress(server);
    if (!address) throw new Error(`read ${where}: invalid address`);
    signal?.throwIfAborted();
    const client = this.deps.grpcClients.get<grpc.Client>(volumeServerClientConstructor(), address);
    const fn = (client as unknown as Record<string, (r: object, o: grpc.CallOptions) => grpc.ClientReadableStream<Record<string, unknown>>>).VolumeEcShardRead;
    const stream = fn.call(
      client,
      {
        volume_id: vid,
        shard_id: shardId,
        offset: String(req.offset),
        size: String(size),
        file_key: req.fileKey.toString(),
        encode_ts_ns: req.encodeTsNs.toString(),
      },
      { deadline: Date.now() + SHARD_READ_TIMEOUT_MS },
    );
    // A cancel after the reader stopped still emits an error: without a listener it would be uncaught.
    stream.on('error', () => undefined);
    const onAbort = () => stream.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const data = Buffer.alloc(size);
    let n = 0;
    let deleted = false;
    try {
      for await (const msg of stream as AsyncIterable<Record<string, unknown>>) {
        const ts = BigInt(String(msg.encode_ts_ns ?? '0'));
        if (req.encodeTsNs !== 0n && ts !== req.encodeTsNs) {
          throw new Error(`${where} belongs to a different encode run (want ${req.encodeTsNs}, got ${ts})`);
        }
        if (msg.is_deleted === true) deleted = true;
        const chunk = msg.data as Buffer | undefined;
        if (chunk && chunk.length > 0) {
          if (n + chunk.length > size) throw new Error(`read ${where}: peer sent more than the ${size} bytes asked`);
          chunk.copy(data, n);
          n += chunk.length;
        }
      }
    } catch (e) {
      signal?.throwIfAborted();
      // A deleted answer stands even if the stream fails after it (Go).
      if (!deleted) throw new Error(`read ${where}: ${grpcMessage(e)}`, { cause: e });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stream.cancel();
    }
    if (!deleted && n !== size) throw new Error(`short read ${where}: got ${n} want ${size}`);
    return { data, deleted };
  }

  /** Go's readRemoteEcShardInterval: the holders in order, the first that answers. */
  async readIntervalFromAny(
    servers: string[],
    req: { vid: number; shardId: number; fileKey: bigint; offset: number; size: number; encodeTsNs: bigint },
    signal?: AbortSignal,
  ): Promise<RemoteRead> {
    if (servers.length === 0) throw new Error(`failed to find ec shard ${req.vid}.${req.shardId}`);
    let last: unknown;
    for (const server of servers) {
      try {
        return await this.readInterval(server, req, signal);
      } catch (e) {
        signal?.throwIfAborted();
        last = e;
        this.deps.log.debug({ vid: req.vid, shardId: req.shardId, server, err: (e as Error).message }, 'remote ec shard read failed');
      }
    }
    throw last;
  }

  /** Go's doDeleteNeedleFromRemoteEcShard. */
  async blobDelete(server: string, req: { vid: number; collection: string; version: number; fileKey: bigint }): Promise<void> {
    const address = toGrpcAddress(server);
    if (!address) throw new Error(`failed to delete from ec shard ${req.vid} on ${server}: invalid address`);
    try {
      await unary(
        this.deps.grpcClients.get<grpc.Client>(volumeServerClientConstructor(), address),
        'VolumeEcBlobDelete',
        { volume_id: req.vid, collection: req.collection, file_key: req.fileKey.toString(), version: req.version },
        BLOB_DELETE_TIMEOUT_MS,
      );
    } catch (e) {
      throw new Error(`failed to delete from ec shard ${req.vid} on ${server}: ${grpcMessage(e)}`, { cause: e });
    }
  }
}
