// The scrub checks (core/storage/volume-scan.ts) against real volume files, in both offset widths:
// a corruption matrix where each damage is found with the right volume and needle named and
// nothing else reported, healthy volumes (deletions, overwrites, TTLs, big needles) that report
// nothing, and the pacing hook stopping a scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idxEntryBytes, readIndexEntries } from '../../../../core/storage/idx.js';
import { FLAG_HAS_LAST_MODIFIED_DATE, FLAG_HAS_NAME, FLAG_HAS_TTL, newNeedle } from '../../../../core/storage/needle.js';
import { ReplicaPlacement, Ttl, indexEntrySize, type OffsetWidth } from '../../../../core/storage/types.js';
import { SCAN_DAT_WINDOW, scrubVolumeData, scrubVolumeIndex } from '../../../../core/storage/volume-scan.js';
import { Volume } from '../../../../core/storage/volume.js';

const VID = 7;

async function withVolume(width: OffsetWidth, fn: (v: Volume, dir: string) => Promise<void>, ttl = ''): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'scrub-test-'));
  const v = await Volume.create({
    dir,
    collection: '',
    id: VID,
    offsetWidth: width,
    create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.parse(ttl), version: 3 },
  });
  try {
    await fn(v, dir);
  } finally {
    await v.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Five needles (ids 1..5) with bodies of the same length, so records are the same size. */
async function fill(v: Volume, extra: { ttl?: string } = {}): Promise<void> {
  for (let i = 1n; i <= 5n; i++) {
    const flags = FLAG_HAS_NAME | FLAG_HAS_LAST_MODIFIED_DATE | (extra.ttl ? FLAG_HAS_TTL : 0);
    await v.write(
      newNeedle({
        id: i,
        cookie: 0x1000 + Number(i),
        data: Buffer.from(`needle-body-${i}-`.padEnd(64, 'x')),
        flags,
        name: `f${i}.txt`,
        lastModified: Math.floor(Date.now() / 1000),
        ttl: extra.ttl ? Ttl.parse(extra.ttl) : undefined,
      }),
    );
  }
}

async function rows(v: Volume, width: OffsetWidth) {
  return readIndexEntries(v.fileName('.idx'), width);
}

async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

const offsetOf = async (v: Volume, width: OffsetWidth, id: bigint) => (await rows(v, width)).find((r) => r.id === id)!.offset;

for (const width of [4, 5] as OffsetWidth[]) {
  test(`healthy volume: nothing reported, every row counted (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v) => {
      await fill(v);
      const idx = await scrubVolumeIndex(v);
      const full = await scrubVolumeData(v);
      assert.deepEqual(idx, { files: 5, errors: [] });
      assert.deepEqual(full, { files: 5, errors: [] });
    });
  });

  test(`healthy volume with deletions and overwrites reports nothing (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v) => {
      await fill(v);
      await v.delete(3n);
      await v.write(newNeedle({ id: 2n, cookie: 0x1002, data: Buffer.from('overwritten with a different length') }));
      await v.write(newNeedle({ id: 6n, cookie: 0x1006, data: Buffer.alloc(0) })); // an empty write
      await v.delete(6n);
      const n = (await rows(v, width)).length;
      assert.equal(n, 9);
      assert.deepEqual(await scrubVolumeIndex(v), { files: n, errors: [] });
      assert.deepEqual(await scrubVolumeData(v), { files: n, errors: [] });
    });
  });

  test(`healthy TTL volume reports nothing (${width}-byte offsets)`, async () => {
    await withVolume(
      width,
      async (v) => {
        await fill(v, { ttl: '5m' });
        await v.delete(1n);
        assert.deepEqual(await scrubVolumeData(v), { files: 6, errors: [] });
      },
      '5m',
    );
  });

  test(`a needle bigger than the read window is verified piecewise (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      const big = Buffer.alloc(SCAN_DAT_WINDOW * 2 + 12345, 7);
      await v.write(newNeedle({ id: 9n, cookie: 9, data: big, flags: FLAG_HAS_NAME, name: 'big.bin' }));
      await v.write(newNeedle({ id: 10n, cookie: 10, data: Buffer.from('after the big one') }));
      assert.deepEqual(await scrubVolumeData(v), { files: 7, errors: [] });
      // damage the middle of its data: only needle 9 is reported
      await flipByte(join(dir, `${VID}.dat`), (await offsetOf(v, width, 9n)) + 20 + SCAN_DAT_WINDOW + 99);
      const out = await scrubVolumeData(v);
      assert.equal(out.errors.length, 1, out.errors.join('\n'));
      assert.match(out.errors[0], new RegExp(`^failed to read needle 9 on volume ${VID}: invalid CRC for needle 9 \\(got [0-9a-f]{8}, want [0-9a-f]{8}\\), data on disk corrupted: needle data corrupted$`));
    });
  });

  test(`flipped byte in a needle body: that needle's CRC, nothing else (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      await flipByte(join(dir, `${VID}.dat`), (await offsetOf(v, width, 3n)) + 16 + 4 + 10);
      assert.deepEqual(await scrubVolumeIndex(v), { files: 5, errors: [] });
      const out = await scrubVolumeData(v);
      assert.equal(out.files, 5);
      assert.equal(out.errors.length, 1, out.errors.join('\n'));
      assert.match(out.errors[0], new RegExp(`^failed to read needle 3 on volume ${VID}: invalid CRC for needle 3 `));
    });
  });

  test(`flipped byte in a needle's stored CRC: that needle, nothing else (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      const r = (await rows(v, width)).find((x) => x.id === 4n)!;
      await flipByte(join(dir, `${VID}.dat`), r.offset + 16 + r.size + 1);
      const out = await scrubVolumeData(v);
      assert.equal(out.errors.length, 1, out.errors.join('\n'));
      assert.match(out.errors[0], new RegExp(`^failed to read needle 4 on volume ${VID}: invalid CRC for needle 4 `));
    });
  });

  test(`flipped byte in a header's needle id: the index key mismatch (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      await flipByte(join(dir, `${VID}.dat`), (await offsetOf(v, width, 2n)) + 4 + 7); // last byte of the id
      const out = await scrubVolumeData(v);
      assert.deepEqual(out.errors, [`index key 2 does not match needle's Id fd on volume ${VID}`]);
    });
  });

  test(`flipped byte in a header's size: that needle unreadable (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      const off = await offsetOf(v, width, 5n);
      await flipByte(join(dir, `${VID}.dat`), off + 12);
      const out = await scrubVolumeData(v);
      assert.equal(out.errors.length, 1, out.errors.join('\n'));
      if (width === 4) {
        // Go retries one 32 GiB wrap further in, which is past the end of this .dat
        assert.equal(out.errors[0], `failed to read needle 5 on volume ${VID}: EOF`);
      } else {
        assert.match(out.errors[0], new RegExp(`^failed to read needle 5 on volume ${VID}: size mismatch: entry not found: offset ${off} found id 5 size -`));
      }
    });
  });

  test(`truncated .dat: the cut needle and the volume's size (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      const dat = join(dir, `${VID}.dat`);
      const size = (await stat(dat)).size;
      await truncate(dat, size - 20);
      const out = await scrubVolumeData(v);
      assert.deepEqual(out.errors, [
        `failed to read needle 5 on volume ${VID}: EOF`,
        `data file for volume ${VID} is smaller (${size - 20}) than the 5 needles it contains (${size})`,
      ]);
    });
  });

  test(`.dat cut to its super block (the upstream CorruptDatFile) (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      const size = (await stat(join(dir, `${VID}.dat`))).size;
      await truncate(join(dir, `${VID}.dat`), 8);
      const out = await scrubVolumeData(v);
      assert.equal(out.errors.length, 6);
      for (let i = 1; i <= 5; i++) assert.equal(out.errors[i - 1], `failed to read needle ${i} on volume ${VID}: EOF`);
      assert.equal(out.errors[5], `data file for volume ${VID} is smaller (8) than the 5 needles it contains (${size})`);
    });
  });

  test(`an .idx row pointing past the end of the .dat (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      const size = (await stat(join(dir, `${VID}.dat`))).size;
      const r = (await rows(v, width)).find((x) => x.id === 1n)!;
      await appendFile(join(dir, `${VID}.idx`), idxEntryBytes(99n, size + 8 * 1024, r.size, width));
      assert.deepEqual(await scrubVolumeIndex(v), { files: 6, errors: [] });
      const out = await scrubVolumeData(v);
      assert.equal(out.files, 6);
      assert.equal(out.errors.length, 2, out.errors.join('\n'));
      assert.equal(out.errors[0], `failed to read needle 99 on volume ${VID}: EOF`);
      assert.match(out.errors[1], new RegExp(`^data file for volume ${VID} is smaller \\(${size}\\) than the 6 needles it contains`));
    });
  });

  test(`a duplicate id at a bad offset: the overlap and the mismatch (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      const all = await rows(v, width);
      const four = all.find((x) => x.id === 4n)!;
      const two = all.find((x) => x.id === 2n)!;
      await appendFile(join(dir, `${VID}.idx`), idxEntryBytes(2n, four.offset, two.size, width));
      const len = 16 + two.size + 12 + (8 - ((16 + two.size + 12) % 8));
      const span = (at: number) => `[${at}-${at + len - 1}]`;
      const overlap = `needle 2 (#6) at ${span(four.offset)} overlaps needle 4 at ${span(four.offset)}`;
      const idx = await scrubVolumeIndex(v);
      assert.equal(idx.files, 6);
      assert.equal(idx.errors.length, 1, idx.errors.join('\n'));
      // Go sorts by (offset, size): which of the two equal rows comes first is not fixed
      assert.ok(
        idx.errors[0] === overlap || idx.errors[0] === `needle 4 (#4) at ${span(four.offset)} overlaps needle 2 at ${span(four.offset)}`,
        idx.errors[0],
      );
      const out = await scrubVolumeData(v);
      assert.equal(out.errors.length, 3, out.errors.join('\n'));
      assert.equal(out.errors[0], idx.errors[0]);
      assert.equal(out.errors[1], `index key 2 does not match needle's Id 4 on volume ${VID}`);
      assert.match(out.errors[2], new RegExp(`^data file size for volume ${VID} \\(\\d+\\) doesn't match|^data file for volume ${VID} is smaller`));
    });
  });

  test(`garbage appended to the .idx (the upstream CorruptIndexFile) (${width}-byte offsets)`, async () => {
    await withVolume(width, async (v, dir) => {
      await fill(v);
      await appendFile(join(dir, `${VID}.idx`), Buffer.from([0xde, 0xad]));
      const es = indexEntrySize(width);
      const want = `expected an index file of size ${5 * es + 2}, got ${5 * es}`;
      assert.deepEqual(await scrubVolumeIndex(v), { files: 5, errors: [want] });
      assert.deepEqual(await scrubVolumeData(v), { files: 5, errors: [want] });
    });
  });
}

test('an empty .idx next to a .dat holding records is reported; a fresh volume is not', async () => {
  await withVolume(4, async (v, dir) => {
    assert.deepEqual(await scrubVolumeData(v), { files: 0, errors: [] });
    assert.deepEqual(await scrubVolumeIndex(v), { files: 0, errors: [] });
    await fill(v);
    const size = (await stat(join(dir, `${VID}.dat`))).size;
    await writeFile(join(dir, `${VID}.idx`), Buffer.alloc(0));
    const want = `zero-size IDX file for volume ${VID} with store size ${size}`;
    assert.deepEqual(await scrubVolumeIndex(v), { files: 0, errors: [want] });
    assert.deepEqual(await scrubVolumeData(v), { files: 0, errors: [want] });
  });
});

test('a missing .idx is reported with Go wording', async () => {
  await withVolume(4, async (v, dir) => {
    await fill(v);
    await rm(join(dir, `${VID}.idx`));
    const idxPath = join(dir, `${VID}.idx`);
    assert.deepEqual(await scrubVolumeIndex(v), {
      files: 0,
      errors: [`failed to open IDX file ${idxPath} for volume ${VID}: open ${idxPath}: no such file or directory`],
    });
  });
});

test('the pacing hook sees every chunk and can stop the scan', async () => {
  await withVolume(4, async (v) => {
    await fill(v);
    let bytes = 0;
    await scrubVolumeData(v, { onChunk: async (n) => void (bytes += n) });
    assert.ok(bytes > 0);
    await assert.rejects(
      scrubVolumeData(v, {
        onChunk: async () => {
          throw new Error('context canceled');
        },
      }),
      /context canceled/,
    );
  });
});
