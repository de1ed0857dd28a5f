// The EC volume `vid` of this server as core's EcVolumeAccess (core/storage/ec-volume-access.ts):
// the mounted shards of every disk merged (Go mounts a split volume once per disk, and its readers
// look across all of them: weed/storage/store_ec.go), the index of the first disk that has one.
// Reads of shards not mounted here go to the peers holding them, else are reconstructed from any D
// shards (Go's readEcShardIntervals, readOneEcShardInterval, recoverOneRemoteEcShardInterval);
// deletes are journalled here and on the holder of the needle's first shard (store_ec_delete.go).
import { readSync } from 'node:fs';
import type { Logger } from 'pino';
import type { EcNeedleLocation, EcReadOptions, EcVolumeAccess, LocalEcShard } from '../../core/storage/ec-volume-access.js';
import { NeedleDeletedError, NeedleNotFoundError } from '../../core/storage/storage-errors.js';
import { SYNC_READ_LIMIT } from '../../core/storage/volume.js';
import { ReedSolomon } from './codec/reed-solomon.js';
import type { ShardInterval } from './codec/layout.js';
import type { EcShard, EcVolume } from './ec-volume.js';
import type { EcPeers } from './remote/ec-peers.js';
import type { RecoverBudget } from './remote/recover-budget.js';
import type { ShardLocations } from './remote/shard-locations.js';

/** What a view needs beyond its disks to reach the rest of the cluster. */
export interface EcServeContext {
  /** Absent: local shards only (no master, tests of the family alone). */
  peers?: EcPeers;
  budget: RecoverBudget;
  log: Logger;
}

/** Go's ecIntervalReadConcurrency: intervals of one needle read at once. */
const INTERVAL_READ_CONCURRENCY = 8;

const codecs = new Map<string, ReedSolomon>();
function codecFor(d: number, p: number): ReedSolomon {
  const key = `${d}+${p}`;
  let rs = codecs.get(key);
  if (!rs) {
    rs = new ReedSolomon(d, p);
    codecs.set(key, rs);
  }
  return rs;
}

/** One read's state: the shard map looked up once, the deleted answer of any holder. */
interface ReadCtx {
  needleId: bigint;
  /** Shards not to read from: their intervals are rebuilt from the others. */
  exclude: ReadonlySet<number>;
  localOnly: boolean;
  /** Never rebuild an interval from other shards (EcReadOptions.noReconstruct). */
  noReconstruct?: boolean;
  signal?: AbortSignal;
  locations?: ShardLocations;
  deleted: boolean;
}

export class EcVolumeView implements EcVolumeAccess {
  /** `disks` in location order, each holding some shards of the one volume. */
  constructor(
    private readonly disks: EcVolume[],
    private readonly ctx?: EcServeContext,
  ) {
    if (disks.length === 0) throw new Error('an EC volume view needs at least one disk');
  }

  private get first(): EcVolume {
    return this.disks[0];
  }

  get id(): number {
    return this.first.id;
  }
  get collection(): string {
    return this.first.collection;
  }
  get version(): number {
    return this.first.meta.version;
  }
  get dataShards(): number {
    return this.first.meta.dataShards;
  }
  get parityShards(): number {
    return this.first.meta.parityShards;
  }
  get datFileSize(): number {
    return this.first.meta.datFileSize;
  }
  get blockSize(): number {
    return this.first.meta.blockSize;
  }
  get expireAtSec(): number {
    return this.first.meta.expireAtSec;
  }
  get indexBase(): string {
    return this.first.indexBase;
  }
  get encodeTsNs(): bigint {
    return this.first.meta.encodeTsNs;
  }

  /** The shard files of the volume across disks (the first disk's copy when two hold one id). */
  shardMap(): Map<number, { ev: EcVolume; shard: EcShard }> {
    const m = new Map<number, { ev: EcVolume; shard: EcShard }>();
    for (const ev of this.disks) for (const s of ev.sortedShards()) if (!m.has(s.shardId)) m.set(s.shardId, { ev, shard: s });
    return m;
  }

  localShards(): LocalEcShard[] {
    return [...this.shardMap().values()]
      .map(({ ev, shard }) => ({ shardId: shard.shardId, path: shard.path, size: shard.size, diskId: ev.loc.diskId }))
      .sort((a, b) => a.shardId - b.shardId);
  }

  findNeedle(id: bigint): Promise<EcNeedleLocation | undefined> {
    return this.first.findNeedle(id);
  }

  findNeedleSync(id: bigint): EcNeedleLocation | undefined {
    return this.first.findNeedleSync(id);
  }

  walkIndex(fn: (id: bigint, offset: number, size: number) => void): Promise<void> {
    return this.first.walkIndex(fn);
  }

  isDeleted(id: bigint): boolean {
    return this.first.isJournalled(id);
  }

  /** The shard intervals of `length` bytes of the logical .dat at `offset` (Go's LocateData). */
  locate(offset: number, length: number): ShardInterval[] {
    return this.first.locate(offset, length);
  }

  /**
   * A local shard usable for this volume: mounted here, of the same encode run as the index (Go's
   * readLocalEcShardInterval skips a sibling disk's shard of another generation).
   */
  private localShard(shardId: number): EcShard | undefined {
    const gen = this.first.meta.encodeTsNs;
    for (const ev of this.disks) {
      const s = ev.shards.get(shardId);
      if (!s) continue;
      if (gen !== 0n && ev.meta.encodeTsNs !== gen) continue;
      return s;
    }
    return undefined;
  }

  private async readLocal(shardId: number, buf: Buffer, offset: number): Promise<void> {
    const s = this.localShard(shardId);
    if (!s) throw new Error(`shard ${shardId} for volume ${this.id}: ec shard not local`);
    const { bytesRead } = await s.fh.read(buf, 0, buf.length, offset);
    if (bytesRead !== buf.length) throw new Error(`expected ${buf.length} bytes for local EC shard ${shardId} on volume ${this.id}, got ${bytesRead}`);
  }

  /**
   * readDat of at most SYNC_READ_LIMIT bytes whose every interval lies in a shard mounted here, with
   * synchronous preads (page-cache hits take microseconds; an async read costs a thread-pool
   * round trip per interval). Undefined when any interval needs a peer or a rebuild, or a read
   * fails or comes up short: readDat then does the whole read and reports what went wrong.
   */
  readDatLocalSync(offset: number, length: number): Buffer | undefined {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || length > SYNC_READ_LIMIT) return undefined;
    const intervals = this.locate(offset, length);
    const out = Buffer.allocUnsafe(length);
    let at = 0;
    for (const iv of intervals) {
      const s = this.localShard(iv.shardId);
      if (!s) return undefined;
      try {
        if (readSync(s.fh.fd, out, at, iv.size, iv.offset) !== iv.size) return undefined;
      } catch {
        return undefined;
      }
      at += iv.size;
    }
    return out;
  }

  async readDat(offset: number, length: number, opts: EcReadOptions = {}): Promise<Buffer> {
    opts.signal?.throwIfAborted();
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new Error(`ec volume ${this.id}: invalid read of ${length} bytes at ${offset}`);
    }
    if (!opts.exclude || opts.exclude.length === 0) {
      const local = this.readDatLocalSync(offset, length);
      if (local) return local;
    }
    const intervals = this.locate(offset, length);
    const rc: ReadCtx = {
      needleId: opts.needleId ?? 0n,
      exclude: new Set(opts.exclude ?? []),
      localOnly: opts.localOnly === true || !this.ctx?.peers,
      noReconstruct: opts.noReconstruct === true,
      signal: opts.signal,
      deleted: false,
    };
    if (!rc.localOnly && intervals.some((iv) => rc.exclude.has(iv.shardId) || !this.localShard(iv.shardId))) rc.locations = await this.shardLocations();

    const out = Buffer.allocUnsafe(length);
    const jobs: { iv: ShardInterval; at: number }[] = [];
    let at = 0;
    for (const iv of intervals) {
      jobs.push({ iv, at });
      at += iv.size;
    }
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (next < jobs.length && failure === undefined) {
        const { iv, at: pos } = jobs[next++];
        try {
          await this.readInterval(rc, iv, out.subarray(pos, pos + iv.size));
        } catch (e) {
          failure ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(INTERVAL_READ_CONCURRENCY, jobs.length) }, worker));
    // A holder's deleted answer is authoritative (deletes are never invented): it wins over errors.
    if (rc.deleted) throw new NeedleDeletedError();
    if (failure !== undefined) throw failure;
    return out;
  }

  /** Go's cachedLookupEcShardLocations; on a failed lookup the cached map (maybe empty) serves. */
  private async shardLocations(): Promise<ShardLocations> {
    const peers = this.ctx!.peers!;
    const total = this.dataShards + this.parityShards;
    try {
      return await peers.refresh(this.id, this.dataShards, total);
    } catch (e) {
      this.ctx!.log.info({ vid: this.id, err: (e as Error).message }, 'locate ec volume via master failed, using cached locations');
      return peers.locationsOf(this.id);
    }
  }

  /** Go's readOneEcShardInterval: local, else a peer holding the shard, else reconstruction. */
  private async readInterval(rc: ReadCtx, iv: ShardInterval, buf: Buffer): Promise<void> {
    let localErr: unknown;
    const distrusted = rc.exclude.has(iv.shardId);
    if (!distrusted) {
      try {
        await this.readLocal(iv.shardId, buf, iv.offset);
        return;
      } catch (e) {
        localErr = e;
      }
    }
    const peers = this.ctx?.peers;
    if (!distrusted && !rc.localOnly && peers && rc.locations) {
      const servers = rc.locations.holders(iv.shardId).filter((s) => !peers.isSelf(s));
      if (servers.length > 0) {
        try {
          const got = await peers.readIntervalFromAny(
            servers,
            { vid: this.id, shardId: iv.shardId, fileKey: rc.needleId, offset: iv.offset, size: iv.size, encodeTsNs: this.encodeTsNs },
            rc.signal,
          );
          if (got.deleted) rc.deleted = true;
          else got.data.copy(buf);
          return;
        } catch (e) {
          rc.signal?.throwIfAborted();
          this.ctx!.log.info({ vid: this.id, shardId: iv.shardId, err: (e as Error).message }, 'read remote ec shard failed');
          // Recovery skips this shard, so nothing else would disprove the location that just failed.
          rc.locations.markStale();
        }
      }
    }
    if (rc.noReconstruct) {
      const local = (localErr as Error | undefined)?.message ?? '';
      throw new Error(`ec volume ${this.id} shard ${iv.shardId} offset ${iv.offset} size ${iv.size}: no readable copy of the shard${local ? ` (local: ${local})` : ''}`);
    }
    try {
      await this.recoverInterval(rc, iv.shardId, buf, iv.offset);
    } catch (e) {
      rc.signal?.throwIfAborted();
      const why = (e as Error).message;
      const local = (localErr as Error | undefined)?.message ?? '';
      throw new Error(`ec volume ${this.id} shard ${iv.shardId} offset ${iv.offset} size ${iv.size}: ${why}${local ? ` (local: ${local})` : ''}`, { cause: e });
    }
  }

  /**
   * Go's recoverOneRemoteEcShardInterval: rebuilds `buf.length` bytes of data shard `target` at
   * `offset` from any D other shards (local ones first, then peers in waves), only that interval.
   */
  private async recoverInterval(rc: ReadCtx, target: number, buf: Buffer, offset: number): Promise<void> {
    const D = this.dataShards;
    const total = D + this.parityShards;
    // ReconstructData rebuilds data shards only: a parity target would come back as zeros.
    if (target >= D) {
      throw new Error(`cannot reconstruct shard ${this.id}.${target}: only data shards can be rebuilt, ${this.parityShards} of ${total} are parity`);
    }
    const budget = this.ctx?.budget;
    const run = () => this.gatherAndReconstruct(rc, target, buf, offset, D, total);
    // The D gathered intervals plus the one rebuilt (Go's ecRecoverSem weight).
    if (budget) await budget.with(buf.length * (D + 1), run, rc.signal);
    else await run();
  }

  private async gatherAndReconstruct(rc: ReadCtx, target: number, buf: Buffer, offset: number, D: number, total: number): Promise<void> {
    const size = buf.length;
    const pieces: (Buffer | undefined)[] = new Array(total).fill(undefined);
    let available = 0;
    for (let id = 0; id < total && available < D; id++) {
      if (id === target || rc.exclude.has(id) || !this.localShard(id)) continue;
      const data = Buffer.allocUnsafe(size);
      try {
        await this.readLocal(id, data, offset);
      } catch (e) {
        this.ctx?.log.debug({ vid: this.id, shardId: id, err: (e as Error).message }, 'recover: local ec shard read failed');
        continue;
      }
      pieces[id] = data;
      available++;
    }

    const peers = this.ctx?.peers;
    if (!rc.localOnly && peers && rc.locations && available < D) {
      const locations = rc.locations;
      const candidates: { id: number; servers: string[] }[] = [];
      for (const [id, list] of [...locations.byShard].sort((a, b) => a[0] - b[0])) {
        if (id === target || rc.exclude.has(id) || id >= total || pieces[id]) continue;
        const servers = list.filter((s) => !peers.isSelf(s));
        if (servers.length > 0) candidates.push({ id, servers });
      }
      // Widen only when a wave falls short: reconstruction consumes exactly D shards.
      while (candidates.length > 0 && available < D && !rc.deleted) {
        const wave = candidates.splice(0, D - available);
        await Promise.all(
          wave.map(async ({ id, servers }) => {
            try {
              const got = await peers.readIntervalFromAny(
                servers,
                { vid: this.id, shardId: id, fileKey: rc.needleId, offset, size, encodeTsNs: this.encodeTsNs },
                rc.signal,
              );
              if (got.deleted) rc.deleted = true;
              else {
                pieces[id] = got.data;
                available++;
              }
            } catch (e) {
              rc.signal?.throwIfAborted();
              this.ctx?.log.debug({ vid: this.id, shardId: id, err: (e as Error).message }, 'recover: remote ec shard read failed');
              locations.forget(id);
            }
          }),
        );
      }
    }
    if (rc.deleted) return;

    const have: number[] = [];
    const missing: number[] = [];
    for (let id = 0; id < total; id++) (pieces[id] ? have : missing).push(id);
    if (have.length < D) {
      throw new Error(
        `cannot recover shard ${this.id}.${target}: only ${have.length} shards available [${have.join(' ')}], need at least ${D} (missing: [${missing.join(' ')}])`,
      );
    }
    const present = pieces.map((p) => p !== undefined);
    const shards = pieces.map((p) => p ?? Buffer.alloc(size));
    codecFor(D, this.parityShards).reconstruct(shards, present, 0, size, true);
    shards[target].copy(buf);
  }

  /**
   * Go's DeleteEcShardNeedle after its read: journals `id` on one holder of the shard with the
   * needle's first bytes (any other shard's holder when that one has none), the one peers reading
   * the needle ask, then here. The peer goes first so a failed delete can be retried: once the
   * local journal has it, this server answers "already deleted". A needle not in the index is
   * Go's not-found error.
   */
  async deleteNeedle(id: bigint): Promise<void> {
    const loc = await this.first.findNeedle(id);
    if (!loc) throw new NeedleNotFoundError('locate in local ec volume: needle not found');
    if (loc.size >= 0) await this.propagateDelete(id, loc.offset);
    await this.first.journalDelete(id);
  }

  /** Go's doDeleteNeedleFromAtLeastOneRemoteEcShards, skipping it when the primary shard is here. */
  private async propagateDelete(id: bigint, offset: number): Promise<void> {
    const peers = this.ctx?.peers;
    if (!peers) return;
    const primary = this.locate(offset, 1)[0]?.shardId ?? 0;
    const total = this.dataShards + this.parityShards;
    // The primary shard held here: this journal is the one its readers consult.
    if (this.localShard(primary)) return;
    const locations = await this.shardLocations();
    const order = [primary, ...Array.from({ length: total }, (_, i) => i).filter((i) => i !== primary)];
    let lastErr: unknown;
    for (const shardId of order) {
      const holders = locations.holders(shardId);
      if (holders.some((s) => peers.isSelf(s))) return;
      for (const server of holders) {
        try {
          await peers.blobDelete(server, { vid: this.id, collection: this.collection, version: this.version, fileKey: id });
          return;
        } catch (e) {
          lastErr = e;
        }
      }
      // Go falls back to other shards only when the primary has no holder at all.
      if (shardId === primary && holders.length > 0) break;
    }
    if (lastErr) throw lastErr;
  }
}
