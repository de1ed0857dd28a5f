// Where the shards of an EC volume live in the cluster, as the master's LookupEcVolume tells, cached
// per volume with Go's refresh windows (weed/storage/store_ec.go cachedLookupEcShardLocations,
// ecShardLocationsTTL): a complete map is trusted 37 minutes, a partial one 7, one short of the data
// shard count or disproved by a failed read 11 seconds. A failed lookup keeps the old map.

/** Go's ecShardLocationsTTL. */
export function shardLocationsTtlMs(shardCount: number, stale: boolean, dataShards: number, totalShards: number): number {
  if (stale || shardCount < dataShards) return 11_000;
  if (shardCount === totalShards) return 37 * 60_000;
  return 7 * 60_000;
}

/** A volume's shard map: shard id → server addresses (`host:port` or `host:port.grpcPort`). */
export class ShardLocations {
  readonly byShard = new Map<number, string[]>();
  refreshedAt = 0;
  stale = false;
  /** The lookup running now, shared by concurrent readers. */
  inflight: Promise<void> | undefined;
  /** When the last lookup failed (0: it did not). */
  failedAt = 0;

  /** Whether the map is still within its window (Go consumes the stale mark when it is not). */
  fresh(dataShards: number, totalShards: number, now = Date.now()): boolean {
    const ttl = shardLocationsTtlMs(this.byShard.size, this.stale, dataShards, totalShards);
    return this.refreshedAt > 0 && this.refreshedAt + ttl > now;
  }

  /**
   * Whether a lookup failed within the stale window: reads then go on with the cached map instead
   * of each waiting out the deadline of a master that does not answer (Go asks it on every read).
   */
  recentlyFailed(now = Date.now()): boolean {
    return this.failedAt > 0 && now - this.failedAt < 11_000;
  }

  /** Go's markShardLocationsStale: re-check promptly, keep the entries. */
  markStale(): void {
    this.stale = true;
  }

  /** Go's forgetShardId: the holders of `shardId` failed; drop them and re-check promptly. */
  forget(shardId: number): void {
    this.byShard.delete(shardId);
    this.stale = true;
  }

  /**
   * Installs a lookup answer: every shard it lists replaces that shard's entry; one listed without
   * servers (the master lists every possible id) leaves none, as in Go's map.
   */
  install(answer: Map<number, string[]>, now = Date.now()): void {
    for (const [shardId, servers] of answer) {
      if (servers.length > 0) this.byShard.set(shardId, servers);
      else this.byShard.delete(shardId);
    }
    this.refreshedAt = now;
    this.failedAt = 0;
  }

  holders(shardId: number): string[] {
    return this.byShard.get(shardId) ?? [];
  }
}
