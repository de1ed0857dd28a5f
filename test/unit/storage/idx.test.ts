import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkIndexFile, idxEntryBytes, readIdxEntry, readIndexEntries, walkIndexFile } from '../../../core/storage/idx.js';
import { OffsetWidthMismatchError, IndexCorruptedError } from '../../../core/storage/storage-errors.js';
import type { OffsetWidth } from '../../../core/storage/types.js';

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'idx-test-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('idx entry: spec byte layout (4-byte) and 5-byte high byte last', () => {
  assert.deepEqual([...idxEntryBytes(1n, 8, 42, 4)], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x2a]);
  assert.deepEqual([...idxEntryBytes(1n, 80, -1, 4)], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x0a, 0xff, 0xff, 0xff, 0xff]);
  const e5 = idxEntryBytes(0xfedcba9876543210n, 0x12_3456_7890, 1234, 5);
  assert.equal(e5.length, 17);
  assert.deepEqual([...e5.subarray(8, 13)], [0x46, 0x8a, 0xcf, 0x12, 0x02]);
  assert.deepEqual(readIdxEntry(e5, 0, 5), { id: 0xfedcba9876543210n, offset: 0x12_3456_7890, size: 1234 });
  assert.deepEqual(readIdxEntry(idxEntryBytes(7n, 80, -1, 4), 0, 4), { id: 7n, offset: 80, size: -1 });
});

for (const width of [4, 5] as OffsetWidth[]) {
  test(`idx streaming reader walks every row across chunk boundaries (${width}-byte)`, async () => {
    await withDir(async (dir) => {
      const rows = 10_007;
      const parts: Buffer[] = [];
      for (let i = 0; i < rows; i++) parts.push(idxEntryBytes(BigInt(i + 1) * 0x100000001n, 8 * (i + 1), i % 5 === 0 ? -1 : i, width));
      parts.push(Buffer.from([1, 2, 3])); // trailing partial row is ignored
      const path = join(dir, '1.idx');
      await writeFile(path, Buffer.concat(parts));
      const fh = await open(path, 'r');
      let n = 0;
      const visited = await walkIndexFile(
        fh,
        width,
        (hi, lo, u, size, row) => {
          const id = BigInt(row + 1) * 0x100000001n;
          assert.equal(hi, Number(id >> 32n));
          assert.equal(lo, Number(id & 0xffffffffn));
          assert.equal(u, row + 1);
          assert.equal(size, row % 5 === 0 ? -1 : row);
          n++;
        },
        { readRows: 1000 },
      );
      await fh.close();
      assert.equal(visited, rows);
      assert.equal(n, rows);
      const all = await readIndexEntries(path, width);
      assert.equal(all.length, rows);
      assert.deepEqual(all[3], { id: 4n * 0x100000001n, offset: 32, size: 3 });
    });
  });
}

async function writeIdx(path: string, width: OffsetWidth, n: number) {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) parts.push(idxEntryBytes(BigInt(i + 1), 8 + i * 32, 0, width));
  await writeFile(path, Buffer.concat(parts));
}

test('idx validation refuses an index written with the other width', async () => {
  await withDir(async (dir) => {
    const datSize = 8 + 100 * 32;
    for (const [written, configured] of [
      [4, 5],
      [5, 4],
    ] as [OffsetWidth, OffsetWidth][]) {
      for (const rows of [1, 3, 100]) {
        const path = join(dir, `w${written}-${rows}.idx`);
        await writeIdx(path, written, rows);
        const fh = await open(path, 'r');
        const ok = await checkIndexFile(fh, path, datSize, written, 3);
        assert.equal(ok.widthMismatch, undefined);
        assert.equal(ok.corruption, undefined);
        assert.equal(ok.rows, rows);
        const r = await checkIndexFile(fh, path, datSize, configured, 3);
        await fh.close();
        assert.ok(r.widthMismatch instanceof OffsetWidthMismatchError, `${written}->${configured} rows=${rows}`);
        assert.equal(r.widthMismatch.code, 'OFFSET_WIDTH_MISMATCH');
        assert.match(r.widthMismatch.message, /storage\.offsetBytes/);
        assert.match(r.widthMismatch.message, /WEED_OFFSET_BYTES/);
        assert.match(r.widthMismatch.message, new RegExp(`${written}-byte offsets`));
      }
    }
  });
});

test('idx validation: torn row and rows past the .dat end are corruption (read-only), not misread', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'torn.idx');
    const rows = [idxEntryBytes(1n, 8, 0, 4), idxEntryBytes(2n, 40, 0, 4), idxEntryBytes(3n, 72, 0, 4)];
    await writeFile(path, Buffer.concat([...rows, Buffer.from([0, 0, 0])]));
    let fh = await open(path, 'r');
    let r = await checkIndexFile(fh, path, 104, 4, 3);
    await fh.close();
    assert.equal(r.widthMismatch, undefined);
    assert.ok(r.corruption instanceof IndexCorruptedError);
    assert.match(r.corruption.message, /index file's size is 51 bytes, maybe corrupted/);
    assert.match(r.corruption.message, /storage\.offsetBytes/);
    await writeFile(path, Buffer.concat(rows));
    fh = await open(path, 'r');
    r = await checkIndexFile(fh, path, 80, 4, 3); // the last record is cut off the .dat
    await fh.close();
    assert.equal(r.widthMismatch, undefined);
    assert.ok(r.corruption instanceof IndexCorruptedError);
    assert.match(r.corruption.message, /past the end/);
  });
});
