// The needle map's sparse side (sorted tier, run-time hash, batched .idx replay) checked against
// plain Map models: scattered (snowflake-like) ids, mixes with sequential ids, ids near 2^64 and
// offsets past 32 GiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NeedleMap } from '../../../core/storage/needle-map.js';
import { idxEntryBytes } from '../../../core/storage/idx.js';
import { actualSize, needleIdHi, needleIdLo, type OffsetWidth } from '../../../core/storage/types.js';
import { rng } from '../../helpers/rng.js';


const cmpBig = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

interface Entry {
  offset: number;
  size: number;
}

/** Go's doLoading (weed/storage/needle_map_memory.go) over a Map: the model for .idx replay. */
class ReplayModel {
  map = new Map<bigint, Entry>();
  fileCount = 0;
  fileBytes = 0;
  deletedCount = 0;
  deletedBytes = 0;
  maxFileKey = 0n;
  maxNeedleEnd = 0;

  apply(id: bigint, offset: number, size: number): void {
    if (id > this.maxFileKey) this.maxFileKey = id;
    if (offset !== 0 && size > 0) this.maxNeedleEnd = Math.max(this.maxNeedleEnd, offset + actualSize(size, 3));
    const old = this.map.get(id);
    if (offset !== 0 && size >= 0) {
      this.fileCount++;
      this.fileBytes += size;
      if (old && old.offset !== 0 && old.size > 0) {
        this.deletedCount++;
        this.deletedBytes += old.size;
      }
      this.map.set(id, { offset, size });
    } else if (old && old.size >= 0) {
      if (old.size > 0) {
        this.deletedCount++;
        this.deletedBytes += old.size;
      }
      this.map.set(id, { offset: old.offset, size: old.size === 0 ? -1 : -old.size });
    }
  }
}

function assertSameAsModel(m: NeedleMap, model: ReplayModel): void {
  assert.equal(m.size, model.map.size);
  const c = m.counters();
  assert.deepEqual(c, {
    fileCount: model.fileCount,
    fileBytes: model.fileBytes,
    deletedCount: model.deletedCount,
    deletedBytes: model.deletedBytes,
    maxFileKey: model.maxFileKey,
    maxNeedleEnd: model.maxNeedleEnd,
  });
  for (const [k, v] of model.map) assert.deepEqual(m.get(k), v, `id ${k}`);
  const keys: bigint[] = [];
  m.forEachSorted((hi, lo, offset, size) => {
    const k = (BigInt(hi) << 32n) | BigInt(lo);
    keys.push(k);
    assert.deepEqual({ offset, size }, model.map.get(k), `visited id ${k}`);
  });
  assert.deepEqual(keys, [...model.map.keys()].sort(cmpBig));
}

/** Snowflake-like: ms timestamp << 22 | 12-bit sequence (the ids grow with time). */
function snowflake(ms: number, seq: number): bigint {
  return (BigInt(1_700_000_000_000 + ms) << 22n) | BigInt(seq & 0xfff);
}

for (const width of [4, 5] as OffsetWidth[]) {
  test(`needle map replays shuffled .idx rows like Go doLoading: scattered, sequential and near-2^64 ids, repeats and deletions (${width}-byte offsets)`, () => {
    const r = rng(7 + width);
    const m = new NeedleMap(width, 3);
    const model = new ReplayModel();
    // A pool of ids from several distributions; rows pick from it so ids repeat (overwrites,
    // deletions of live and of deleted entries, re-puts after a deletion).
    const pool: bigint[] = [];
    for (let i = 0; i < 20_000; i++) pool.push(snowflake(Math.floor(r() * 5_000_000), Math.floor(r() * 4096)));
    for (let i = 1; i <= 20_000; i++) pool.push(BigInt(i)); // sequential: chunks get segments
    for (let i = 0; i < 2_000; i++) pool.push(0xffff_ffff_ffff_ffffn - BigInt(Math.floor(r() * 100_000)));
    for (let i = 0; i < 2_000; i++) pool.push((BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
    let offset = 8;
    for (let i = 0; i < 150_000; i++) {
      const id = pool[Math.floor(r() * pool.length)];
      const op = r();
      let rowOffset = offset;
      let size = Math.floor(r() * 5000);
      if (op < 0.15) size = -1; // deletion row
      else if (op < 0.18) rowOffset = 0; // offset 0 = deletion too
      else if (op < 0.2) size = 0; // empty needle
      if (width === 5 && r() < 0.3) rowOffset += 2 ** 36; // records past 32 GiB
      offset += 8 * (1 + Math.floor(r() * 64));
      m.applyIndexRow(needleIdHi(id), needleIdLo(id), rowOffset / 8, size);
      model.apply(id, rowOffset, size);
      // A read in the middle settles the pending rows: later rows then meet stored ids.
      if (i % 20_011 === 0) {
        const probe = pool[Math.floor(r() * pool.length)];
        assert.deepEqual(m.get(probe), model.map.get(probe));
      }
    }
    assertSameAsModel(m, model);
    const stats = m.stats();
    assert.ok(stats.segments > 0, 'sequential chunks were promoted to segments');
    assert.ok(stats.sortedEntries > 0, 'scattered ids live in the sorted tier');
  });
}

for (const width of [4, 5] as OffsetWidth[]) {
  test(`needle map loads an .idx of growing snowflake ids (with some out of order) at 12 bytes per entry (${width}-byte offsets)`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nm-sparse-'));
    try {
      const r = rng(99 + width);
      const model = new ReplayModel();
      const rows: Buffer[] = [];
      let offset = 8;
      const ids: bigint[] = [];
      const row = (id: bigint, at: number, size: number) => {
        rows.push(idxEntryBytes(id, at, size, width));
        model.apply(id, at, size);
      };
      for (let i = 0; i < 60_000; i++) {
        // The first half only grows (the append path), the second has late ids and deletions
        // of earlier ids (the merge path).
        const growing = i < 30_000;
        const at = width === 5 && i % 3 === 0 ? 2 ** 35 + offset : offset;
        const size = 1 + Math.floor(r() * 3000);
        offset += 8 * Math.ceil((size + 40) / 8);
        if (i % 5000 === 17) {
          // a dense run of 100 consecutive ids in one chunk: it gets a segment
          const base = snowflake(i, 0);
          for (let k = 0n; k < 100n; k++) row(base + k, at + Number(k) * 8, size);
          continue;
        }
        const ms = !growing && r() < 0.01 ? Math.floor(r() * i) : i;
        const id = snowflake(ms, Math.floor(r() * 4096));
        row(id, at, size);
        ids.push(id);
        if (i % 1000 === 999) {
          if (growing) {
            // deletions of ids never stored, still in growing order
            row(id + 1n, at, -1);
            row(id + 2n, 0, 0);
          } else {
            const victim = ids[Math.floor(r() * ids.length)];
            row(victim, at, -1);
            row(victim + 1n, 0, 0);
          }
        }
      }
      const path = join(dir, '1.idx');
      await writeFile(path, Buffer.concat(rows));
      const fh = await open(path, 'r');
      const { map, rows: n } = await NeedleMap.load(fh, width, 3);
      await fh.close();
      assert.equal(n, rows.length);
      const perEntry = map.memoryBytes() / map.size;
      // 12 bytes per entry, 13 where offsets pass 32 GiB (10-11 in the dense runs' segments),
      // plus the small run-time hash
      const limit = width === 5 ? 13.6 : 12.6;
      assert.ok(perEntry <= limit, `bytes per entry ${perEntry}`);
      assertSameAsModel(map, model);
      assert.ok(map.stats().segments >= 12, 'each dense run got a segment');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

for (const width of [4, 5] as OffsetWidth[]) {
  test(`needle map run-time puts of scattered ids match a Map: overwrite, delete, re-put, missing ids, id order, counters (${width}-byte offsets)`, () => {
    const r = rng(2024 + width);
    const m = new NeedleMap(width, 3);
    const model = new Map<bigint, Entry>();
    let fileCount = 0;
    let fileBytes = 0;
    let deletedCount = 0;
    let deletedBytes = 0;
    let maxKey = 0n;
    const ids: bigint[] = [];
    let offset = 8;
    for (let i = 0; i < 120_000; i++) {
      const op = r();
      if (op < 0.6 || ids.length === 0) {
        // a new id, mostly scattered, sometimes a run of sequential ones, sometimes near 2^64
        const kind = r();
        const id =
          kind < 0.8
            ? snowflake(Math.floor(r() * 10_000_000), Math.floor(r() * 4096))
            : kind < 0.95
              ? BigInt(1 + i)
              : 0xffff_ffff_ffff_ff00n + BigInt(Math.floor(r() * 256));
        ids.push(id);
        const size = Math.floor(r() * 4000);
        const at = width === 5 && r() < 0.25 ? 2 ** 37 + offset : offset;
        offset += 8 * (1 + Math.floor(r() * 300));
        const old = model.get(id);
        m.put(id, at, size);
        fileCount++;
        fileBytes += size;
        if (old && old.size > 0) {
          deletedCount++;
          deletedBytes += old.size;
        }
        model.set(id, { offset: at, size });
        if (id > maxKey) maxKey = id;
      } else if (op < 0.75) {
        // overwrite or re-put after a delete
        const id = ids[Math.floor(r() * ids.length)];
        const old = model.get(id)!;
        const size = 1 + Math.floor(r() * 4000);
        m.put(id, offset, size);
        fileCount++;
        fileBytes += size;
        if (old.size > 0) {
          deletedCount++;
          deletedBytes += old.size;
        }
        model.set(id, { offset, size });
        offset += 8 * (1 + Math.floor(r() * 300));
      } else if (op < 0.9) {
        const id = ids[Math.floor(r() * ids.length)];
        const old = model.get(id)!;
        const got = m.remove(id);
        if (old.size >= 0) {
          assert.equal(got, old.size);
          if (old.size > 0) {
            deletedCount++;
            deletedBytes += old.size;
          }
          model.set(id, { offset: old.offset, size: old.size === 0 ? -1 : -old.size });
        } else assert.equal(got, 0, 'deleting a deleted entry does nothing');
      } else {
        // lookups: a known id and an id never stored
        const id = ids[Math.floor(r() * ids.length)];
        assert.deepEqual(m.get(id), model.get(id));
        const missing = snowflake(20_000_000 + Math.floor(r() * 1e6), Math.floor(r() * 4096));
        assert.equal(m.get(missing), undefined);
        assert.equal(m.delete(missing), 0);
      }
    }
    assert.equal(m.size, model.size);
    assert.equal(m.fileCount, fileCount);
    assert.equal(m.fileBytes, fileBytes);
    assert.equal(m.deletedCount, deletedCount);
    assert.equal(m.deletedBytes, deletedBytes);
    assert.equal(m.maxFileKey(), maxKey);
    for (const [k, v] of model) assert.deepEqual(m.get(k), v);
    const keys: bigint[] = [];
    m.forEachSorted((hi, lo, off, size) => {
      const k = (BigInt(hi) << 32n) | BigInt(lo);
      keys.push(k);
      assert.deepEqual({ offset: off, size }, model.get(k));
    });
    assert.deepEqual(keys, [...model.keys()].sort(cmpBig));
    // writes after iterating (which folded the hash into the sorted tier) still land
    const late = snowflake(30_000_000, 1);
    m.put(late, 8, 5);
    assert.deepEqual(m.get(late), { offset: 8, size: 5 });
    const stats = m.stats();
    assert.ok(stats.segments > 0 && stats.sortedEntries > 0, JSON.stringify(stats));
  });
}

test('needle map: sequential ids stay in segments at ~10 bytes per entry after a scattered load, and a load mixing both keeps each near its own cost', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nm-sparse-'));
  try {
    const rows: Buffer[] = [];
    let offset = 8;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      // interleaved: one sequential id, one snowflake id
      rows.push(idxEntryBytes(BigInt(i + 1), offset, 100, 4));
      offset += 144;
      rows.push(idxEntryBytes(snowflake(i, i & 0xfff), offset, 100, 4));
      offset += 144;
    }
    const path = join(dir, '1.idx');
    await writeFile(path, Buffer.concat(rows));
    const fh = await open(path, 'r');
    const { map } = await NeedleMap.load(fh, 4, 3);
    await fh.close();
    assert.equal(map.size, 2 * n);
    const stats = map.stats();
    assert.equal(stats.sortedEntries, n, 'the snowflake ids are in the sorted tier');
    assert.equal(stats.sparseEntries, n, 'no id waits in the hash');
    // 10 B for each sequential id, 12 for each snowflake id, plus the 17 KiB minimum hash
    const perEntry = map.memoryBytes() / map.size;
    assert.ok(perEntry <= 11.3, `bytes per entry ${perEntry}`);
    assert.deepEqual(map.get(77n), { offset: 8 + 76 * 288, size: 100 });
    assert.deepEqual(map.get(snowflake(77, 77)), { offset: 8 + 77 * 288 + 144, size: 100 });
    assert.equal(map.get(snowflake(77, 78)), undefined);
    assert.equal(map.fileCount, 2 * n);
    assert.equal(map.maxFileKey(), snowflake(n - 1, (n - 1) & 0xfff));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('needle map: ids at the very top of the 64-bit range and offsets past 32 GiB in every sparse path (5-byte offsets)', () => {
  const m = new NeedleMap(5, 3);
  const top = 0xffff_ffff_ffff_ffffn;
  const big = 2 ** 39 + 8; // 512 GiB + 8
  // replayed rows (batched), then a run-time put (hash) that a later merge folds in
  m.applyIndexRow(0xffffffff, 0xffffffff, big / 8, 10);
  m.applyIndexRow(0xffffffff, 0xfffffff0, 8 / 8, 11);
  m.applyIndexRow(0, 5, 16 / 8, 12);
  assert.deepEqual(m.get(top), { offset: big, size: 10 });
  assert.deepEqual(m.get(top - 15n), { offset: 8, size: 11 });
  m.put(top - 1n, big + 8, 13);
  assert.deepEqual(m.get(top - 1n), { offset: big + 8, size: 13 });
  assert.equal(m.remove(top), 10);
  assert.deepEqual(m.get(top), { offset: big, size: -10 });
  assert.equal(m.maxFileKey(), top);
  assert.equal(m.maxNeedleEnd, big + 8 + actualSize(13, 3));
  const seen: [bigint, number, number][] = [];
  m.forEachSorted((hi, lo, offset, size) => seen.push([(BigInt(hi) << 32n) | BigInt(lo), offset, size]));
  assert.deepEqual(seen, [
    [5n, 16, 12],
    [top - 15n, 8, 11],
    [top - 1n, big + 8, 13],
    [top, big, -10],
  ]);
  const byOffset: number[] = [];
  m.forEachByOffset((_hi, _lo, offset) => byOffset.push(offset));
  assert.deepEqual(byOffset, [8, 16, big, big + 8]);
});

test('needle map: a scattered entry loaded below 32 GiB can be rewritten past it and deleted, the rest keep their offsets (5-byte offsets)', () => {
  const m = new NeedleMap(5, 3);
  const ids = Array.from({ length: 1000 }, (_, i) => snowflake(i * 7, i));
  ids.forEach((id, i) => m.applyIndexRow(needleIdHi(id), needleIdLo(id), 1 + i, 100));
  assert.equal(m.stats().sortedEntries, 1000);
  const far = 2 ** 38 + 4096;
  m.put(ids[500], far, 200);
  assert.deepEqual(m.get(ids[500]), { offset: far, size: 200 });
  assert.deepEqual(m.get(ids[499]), { offset: 8 * 500, size: 100 });
  assert.deepEqual(m.get(ids[501]), { offset: 8 * 502, size: 100 });
  assert.equal(m.remove(ids[500]), 200);
  assert.deepEqual(m.get(ids[500]), { offset: far, size: -200 });
  assert.equal(m.deletedCount, 2, 'the overwrite and the delete');
  assert.equal(m.deletedBytes, 300);
  assert.equal(m.stats().sortedEntries, 1000, 'rewrites happen in place');
});

test('needle map: a chunk that turns dense across two loads moves to its segment whole', () => {
  const m = new NeedleMap(4, 3);
  for (let i = 1; i <= 40; i++) m.applyIndexRow(0, i, i, 100);
  assert.deepEqual(m.get(5n), { offset: 40, size: 100 }); // merges the first 40: too few for a segment
  for (let i = 41; i <= 200; i++) m.applyIndexRow(0, i, i, 100);
  for (let i = 1; i <= 200; i++) assert.deepEqual(m.get(BigInt(i)), { offset: 8 * i, size: 100 }, `id ${i}`);
  const stats = m.stats();
  assert.equal(stats.segments, 1);
  assert.equal(stats.sortedEntries, 0, 'no id of the chunk is left behind in the sorted tier');
  // the same with a scattered id below it in the same run of high halves, and one above in another
  const s = new NeedleMap(4, 3);
  s.applyIndexRow(7, 0x0001_0000, 1, 10);
  for (let i = 0; i < 30; i++) s.applyIndexRow(7, 0x0005_0000 + i, 2 + i, 10);
  assert.equal(s.size, 31);
  for (let i = 30; i < 200; i++) s.applyIndexRow(7, 0x0005_0000 + i, 2 + i, 10);
  s.applyIndexRow(8, 1, 300, 10);
  assert.equal(s.size, 202);
  assert.deepEqual(s.get((7n << 32n) | 0x0001_0000n), { offset: 8, size: 10 });
  for (let i = 0; i < 200; i++) assert.deepEqual(s.get((7n << 32n) | BigInt(0x0005_0000 + i)), { offset: 8 * (2 + i), size: 10 });
  assert.deepEqual(s.get((8n << 32n) | 1n), { offset: 2400, size: 10 });
  assert.deepEqual(s.stats().sortedEntries, 2);
  const seen: bigint[] = [];
  s.forEachSorted((hi, lo) => seen.push((BigInt(hi) << 32n) | BigInt(lo)));
  assert.equal(seen.length, 202);
  assert.deepEqual(seen, [...seen].sort(cmpBig));
});
