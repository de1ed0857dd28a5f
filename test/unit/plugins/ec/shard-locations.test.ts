// The cached map of where an EC volume's shards live: Go's refresh windows (complete 37 min,
// partial 7 min, short of D or disproved 11 s), entries replaced per shard, shards listed without
// servers left out, a failed holder forgotten.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShardLocations, shardLocationsTtlMs } from '../../../../plugins/ec/remote/shard-locations.js';

test('refresh windows follow Go ecShardLocationsTTL', () => {
  assert.equal(shardLocationsTtlMs(14, false, 10, 14), 37 * 60_000);
  assert.equal(shardLocationsTtlMs(12, false, 10, 14), 7 * 60_000);
  assert.equal(shardLocationsTtlMs(10, false, 10, 14), 7 * 60_000);
  assert.equal(shardLocationsTtlMs(9, false, 10, 14), 11_000);
  assert.equal(shardLocationsTtlMs(14, true, 10, 14), 11_000);
});

test('a map is fresh within its window; forgetting a shard makes it stale', () => {
  const l = new ShardLocations();
  assert.equal(l.fresh(10, 14, 1_000), false, 'never looked up');
  const answer = new Map<number, string[]>();
  for (let i = 0; i < 32; i++) answer.set(i, i < 14 ? [`127.0.0.1:${8000 + (i % 2)}`] : []);
  l.install(answer, 1_000);
  assert.equal(l.byShard.size, 14, 'shards listed without servers leave no entry');
  assert.deepEqual(l.holders(3), ['127.0.0.1:8001']);
  assert.deepEqual(l.holders(20), []);
  assert.equal(l.fresh(10, 14, 1_000 + 36 * 60_000), true);
  assert.equal(l.fresh(10, 14, 1_000 + 38 * 60_000), false);

  l.forget(3);
  assert.deepEqual(l.holders(3), []);
  assert.equal(l.stale, true);
  assert.equal(l.fresh(10, 14, 1_000 + 10_000), true);
  assert.equal(l.fresh(10, 14, 1_000 + 12_000), false);

  // A later answer replaces the shards it lists and keeps the others.
  l.install(new Map([[3, ['127.0.0.1:9000']], [4, []]]), 50_000);
  assert.deepEqual(l.holders(3), ['127.0.0.1:9000']);
  assert.deepEqual(l.holders(4), []);
  assert.deepEqual(l.holders(5), ['127.0.0.1:8001']);
});

test('a failed lookup is not repeated within the stale window', () => {
  const l = new ShardLocations();
  l.failedAt = 5_000;
  assert.equal(l.recentlyFailed(5_000 + 10_999), true);
  assert.equal(l.recentlyFailed(5_000 + 11_000), false);
  l.install(new Map(), 20_000);
  assert.equal(l.recentlyFailed(20_001), false);
});
