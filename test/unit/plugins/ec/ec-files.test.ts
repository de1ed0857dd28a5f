// The EC index files: the .ecx written from an .idx replay (later rows win, deletions dropped,
// ascending ids), the .ecj folded into it as tombstones, and the stale-artifact sweep that keeps
// the .vif a regular volume still owns.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { idxEntryBytes, readIdxEntry } from '../../../../core/storage/idx.js';
import type { OffsetWidth } from '../../../../core/storage/types.js';
import { rebuildEcxFile, removeStaleEcArtifacts, writeSortedEcx } from '../../../../plugins/ec/ec-files.js';

for (const width of [4, 5] as OffsetWidth[]) {
  test(`.ecx from .idx, then .ecj folded in (${width}-byte offsets)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ec-files-'));
    try {
      const rows = [
        idxEntryBytes(30n, 8, 100, width),
        idxEntryBytes(10n, 136, 50, width),
        idxEntryBytes(20n, 200, 70, width),
        idxEntryBytes(30n, 300, 120, width), // overwrite: later row wins
        idxEntryBytes(20n, 0, -1, width), // deletion
        idxEntryBytes(2n ** 63n + 5n, 400, 9, width), // above 2^63 sorts last
        idxEntryBytes(5n, 504, 0, width), // an empty needle is live
      ];
      writeFileSync(join(dir, '1.idx'), Buffer.concat(rows));
      await writeSortedEcx(join(dir, '1.idx'), join(dir, '1.ecx'), width);
      const es = width === 5 ? 17 : 16;
      const read = () => {
        const b = readFileSync(join(dir, '1.ecx'));
        return Array.from({ length: b.length / es }, (_, i) => readIdxEntry(b, i * es, width));
      };
      assert.deepEqual(read(), [
        { id: 5n, offset: 504, size: 0 },
        { id: 10n, offset: 136, size: 50 },
        { id: 30n, offset: 296, size: 120 },
        { id: 2n ** 63n + 5n, offset: 400, size: 9 },
      ]);

      const ecj = Buffer.alloc(24);
      ecj.writeBigUInt64BE(30n, 0);
      ecj.writeBigUInt64BE(77n, 8); // not in the index: ignored
      ecj.writeBigUInt64BE(5n, 16);
      writeFileSync(join(dir, '1.ecj'), ecj);
      await rebuildEcxFile(join(dir, '1'), width);
      assert.equal(existsSync(join(dir, '1.ecj')), false);
      assert.deepEqual(
        read().map((e) => [e.id, e.size]),
        [
          [5n, -1],
          [10n, 50],
          [30n, -1],
          [2n ** 63n + 5n, 9],
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('stale EC artifacts go; the .vif stays while a regular volume owns it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ec-stale-'));
  try {
    const names = ['3.ec00', '3.ec13', '3.ec13.rebuilding', '3.ec31', '3.ecx', '3.ecj', '3.ecsum', '3.ecsum.v2', '3.vif', '3.idx', '3.dat', '4.ec00', '4.ec01.rebuilding'];
    for (const n of names) writeFileSync(join(dir, n), 'x');
    await removeStaleEcArtifacts(join(dir, '3'), join(dir, '3'));
    for (const n of ['3.ec00', '3.ec13', '3.ec13.rebuilding', '3.ec31', '3.ecx', '3.ecj', '3.ecsum', '3.ecsum.v2']) assert.equal(existsSync(join(dir, n)), false, n);
    for (const n of ['3.vif', '3.idx', '3.dat', '4.ec00', '4.ec01.rebuilding']) assert.equal(existsSync(join(dir, n)), true, n);
    rmSync(join(dir, '3.idx'));
    await removeStaleEcArtifacts(join(dir, '3'), join(dir, '3'));
    assert.equal(existsSync(join(dir, '3.vif')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
