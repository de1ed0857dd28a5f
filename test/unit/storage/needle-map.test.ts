import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NeedleMap } from '../../../core/storage/needle-map.js';
import { idxEntryBytes } from '../../../core/storage/idx.js';
import { actualSize, type OffsetWidth } from '../../../core/storage/types.js';
import { rng } from '../../helpers/rng.js';

test('needle map counters follow Go doLoading (weed/storage/needle_map_memory.go)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nm-test-'));
  try {
    const rows = [
      idxEntryBytes(1n, 8, 100, 4), // put
      idxEntryBytes(2n, 136, 50, 4), // put
      idxEntryBytes(1n, 200, 120, 4), // overwrite a live entry: deleted += 1/100
      idxEntryBytes(2n, 400, -1, 4), // delete a live entry: deleted += 1/50
      idxEntryBytes(9n, 440, -1, 4), // delete of an unknown key
      idxEntryBytes(3n, 480, 0, 4), // empty needle: live, size 0
      idxEntryBytes(3n, 520, -1, 4), // delete of a size-0 entry
      idxEntryBytes(4n, 0, 0, 4), // offset 0 = deletion
      idxEntryBytes(5n, 560, 10, 4),
      idxEntryBytes(2n, 600, 30, 4), // re-put after delete: old was deleted, not counted
    ];
    const path = join(dir, '1.idx');
    await writeFile(path, Buffer.concat(rows));
    const fh = await open(path, 'r');
    const { map, rows: n } = await NeedleMap.load(fh, 4, 3);
    await fh.close();
    assert.equal(n, 10);
    assert.equal(map.fileCount, 6); // puts with offset != 0 and size >= 0
    assert.equal(map.fileBytes, 100 + 50 + 120 + 0 + 10 + 30);
    assert.equal(map.deletedCount, 2);
    assert.equal(map.deletedBytes, 150);
    assert.equal(map.maxFileKey(), 9n);
    assert.equal(map.maxNeedleEnd, 600 + actualSize(30, 3));
    assert.deepEqual(map.get(1n), { offset: 200, size: 120 });
    assert.deepEqual(map.get(2n), { offset: 600, size: 30 });
    assert.deepEqual(map.get(3n), { offset: 480, size: -1 });
    assert.equal(map.get(4n), undefined);
    assert.equal(map.get(9n), undefined);
    // runtime operations
    map.put(5n, 640, 11); // overwrite live 10
    assert.equal(map.deletedCount, 3);
    assert.equal(map.deletedBytes, 160);
    assert.equal(map.fileCount, 7);
    assert.equal(map.remove(5n), 11);
    assert.equal(map.deletedCount, 4);
    assert.deepEqual(map.get(5n), { offset: 640, size: -11 }, 'delete keeps the offset and negates the size');
    assert.equal(map.remove(5n), 0, 'deleting a deleted entry does nothing');
    assert.equal(map.deletedCount, 4);
    map.put(0xffff_ffff_ffff_fff0n, 680, 1);
    assert.equal(map.maxFileKey(), 0xffff_ffff_ffff_fff0n);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});


for (const width of [4, 5] as OffsetWidth[]) {
  test(`needle map randomized model check against a Map (${width}-byte offsets)`, () => {
    const r = rng(12345 + width);
    const m = new NeedleMap(width, 3);
    const model = new Map<bigint, { offset: number; size: number }>();
    const keyspaces = [
      () => BigInt(1 + Math.floor(r() * 300_000)), // dense sequential-ish
      () => (BigInt(Math.floor(r() * 2 ** 21)) << 22n) | BigInt(Math.floor(r() * 4096)), // snowflake-like
      () => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)), // full 64-bit
    ];
    let nextOffset = 8;
    for (let i = 0; i < 200_000; i++) {
      const key = keyspaces[i % 3]();
      const op = r();
      if (op < 0.75) {
        const size = Math.floor(r() * 5000);
        const offset = width === 5 && r() < 0.2 ? 2 ** 37 + nextOffset : nextOffset;
        nextOffset += 8 * (1 + Math.floor(r() * 100));
        const old = m.set(key, offset, size);
        assert.deepEqual(old, model.get(key));
        model.set(key, { offset, size });
      } else {
        const got = m.delete(key);
        const cur = model.get(key);
        if (cur && cur.size >= 0) {
          assert.equal(got, cur.size);
          model.set(key, { offset: cur.offset, size: cur.size === 0 ? -1 : -cur.size });
        } else {
          assert.equal(got, 0);
        }
      }
      if (i % 1000 === 0) {
        const probe = keyspaces[(i >> 3) % 3]();
        assert.deepEqual(m.get(probe), model.get(probe));
      }
    }
    assert.equal(m.size, model.size);
    for (const [k, v] of model) assert.deepEqual(m.get(k), v);
    // sorted iteration visits everything in ascending id order
    const keys: bigint[] = [];
    m.forEachSorted((hi, lo, offset, size) => {
      const k = (BigInt(hi) << 32n) | BigInt(lo);
      keys.push(k);
      assert.deepEqual(model.get(k), { offset, size });
    });
    const expected = [...model.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(keys, expected);
    let lastOffset = -1;
    let count = 0;
    m.forEachByOffset((_hi, _lo, offset) => {
      assert.ok(offset >= lastOffset);
      lastOffset = offset;
      count++;
    });
    assert.equal(count, model.size);
    const stats = m.stats();
    assert.ok(stats.segments > 0, 'dense keys were promoted to segments');
    assert.ok(stats.sparseEntries > 0, 'scattered keys stay in the sparse tier');
  });
}

for (const width of [4, 5] as OffsetWidth[]) {
  test(`needle map: sequential ids cost about 10 bytes per entry (${width}-byte offsets, all below 32 GiB)`, () => {
    const m = new NeedleMap(width, 3);
    const n = 300_000;
    for (let i = 1; i <= n; i++) m.putHL(0, i, i * 8, 100);
    m.trim();
    const perEntry = m.memoryBytes() / n;
    assert.ok(perEntry < 10.6, `bytes per entry ${perEntry}`);
    assert.equal(m.fileCount, n);
    assert.deepEqual(m.get(12345n), { offset: 12345 * 8, size: 100 });
    if (width === 5) {
      // An offset past 32 GiB in the middle of a segment: its high bytes appear, the rest keep theirs.
      m.set(12345n, 2 ** 36 + 8, 7);
      m.putHL(0, n + 1, 2 ** 37 + 16, 9);
      assert.deepEqual(m.get(12345n), { offset: 2 ** 36 + 8, size: 7 });
      assert.deepEqual(m.get(BigInt(n + 1)), { offset: 2 ** 37 + 16, size: 9 });
      assert.deepEqual(m.get(12346n), { offset: 12346 * 8, size: 100 });
      assert.deepEqual(m.get(1n), { offset: 8, size: 100 });
    }
  });
}
