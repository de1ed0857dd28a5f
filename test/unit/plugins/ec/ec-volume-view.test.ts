// EcVolumeView.readDat on real shard files: intervals of shards mounted here are read as they are,
// those of missing data shards are reconstructed from any D present shards (only the interval
// asked for), and with fewer than D shards the read rejects with a clear error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Contributions } from '../../../../core/storage/contributions.js';
import { DiskLocation } from '../../../../core/storage/disk-location.js';
import { idxEntryBytes } from '../../../../core/storage/idx.js';
import { emptyVolumeInfo, saveVolumeInfo } from '../../../../core/storage/volume-info.js';
import { encodeDatFile } from '../../../../plugins/ec/codec/encode-files.js';
import { blockLayout, uniformBlockSize } from '../../../../plugins/ec/codec/layout.js';
import { EcStore } from '../../../../plugins/ec/ec-store.js';
import { RecoverBudget } from '../../../../plugins/ec/remote/recover-budget.js';

const VID = 7;
const MiB = 1024 * 1024;

/** Encodes `dat` as volume VID in `dir` (10+4, uniform layout), keeping only the shards in `keep`. */
async function encodeVolume(dir: string, dat: Buffer, keep: number[], ecx: Buffer): Promise<void> {
  const datPath = join(dir, `${VID}.dat`);
  writeFileSync(datPath, dat);
  const blockSize = uniformBlockSize(dat.length, 10);
  const shardPaths = Array.from({ length: 14 }, (_, i) => join(dir, `${VID}.ec${String(i).padStart(2, '0')}`));
  encodeDatFile({ datPath, shardPaths, dataShards: 10, parityShards: 4, datSize: dat.length, layout: blockLayout(blockSize) });
  rmSync(datPath);
  for (let i = 0; i < 14; i++) if (!keep.includes(i)) rmSync(shardPaths[i]);
  writeFileSync(join(dir, `${VID}.ecx`), ecx);
  const vi = emptyVolumeInfo();
  vi.version = 3;
  vi.datFileSize = dat.length;
  vi.ecShardConfig = { dataShards: 10, parityShards: 4, encodeTsNs: 1n, unknown: { blockSize: String(blockSize) } };
  await saveVolumeInfo(join(dir, `${VID}.vif`), vi);
}

async function withVolume(keep: number[], dat: Buffer, fn: (store: EcStore) => Promise<void>, ecx = idxEntryBytes(1n, 1, 16, 5)): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ec-view-'));
  const store = new EcStore(
    [new DiskLocation({ directory: dir, idxDirectory: dir, maxVolumeCount: 8, diskType: '', minFreeSpace: { kind: 'percent', value: 0 }, tags: [], diskId: 0 })],
    new Contributions(),
    5,
    pino({ level: 'silent' }),
  );
  try {
    await encodeVolume(dir, dat, keep, ecx);
    await store.loadLocation(store.locations[0], { data: readdirSync(dir), index: [] });
    await fn(store);
  } finally {
    await store.closeAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

const all = Array.from({ length: 14 }, (_, i) => i);
// 3.5 MiB: the first four 1 MiB blocks of the stripe are the data, shard 3 half padding.
const dat = randomBytes(3.5 * MiB);

test('readDat reads every byte from local shards, across block boundaries', async () => {
  await withVolume(all, dat, async (store) => {
    const view = store.contributor().ecVolume!(VID)!;
    assert.deepEqual(view.localShards().map((s) => s.shardId), all);
    for (const [off, len] of [
      [0, 100],
      [MiB - 10, 20],
      [MiB / 2, 2 * MiB + 5],
      [dat.length - 7, 7],
      [123, 0],
    ]) {
      assert.ok((await view.readDat(off, len)).equals(dat.subarray(off, off + len)), `${off}+${len}`);
    }
  });
});

test('the .ecx search finds every id, sync and async alike, twice (the second time through its cached top levels)', async () => {
  // 20 000 rows, more than the cached levels hold: ids 2, 4, ..., offsets and sizes from the id.
  const rows = 20_000;
  const ecx = Buffer.concat(Array.from({ length: rows }, (_, i) => idxEntryBytes(BigInt(2 * (i + 1)), (i + 1) * 8, 100 + i, 5)));
  await withVolume(
    all,
    dat,
    async (store) => {
      const view = store.contributor().ecVolume!(VID)!;
      await view.deleteNeedle(2n * 777n);
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < rows; i++) {
          const id = BigInt(2 * (i + 1));
          const want = { offset: (i + 1) * 8, size: i === 776 ? -1 : 100 + i };
          assert.deepEqual(view.findNeedleSync!(id), want, `id ${id}`);
          if (i % 97 === 0) assert.deepEqual(await view.findNeedle(id), want, `id ${id}`);
          assert.equal(view.findNeedleSync!(id + 1n), undefined, `id ${id + 1n}`);
        }
        for (const id of [0n, 1n, BigInt(2 * rows + 2), 0xffff_ffff_ffff_ffffn]) {
          assert.equal(view.findNeedleSync!(id), undefined, `id ${id}`);
          assert.equal(await view.findNeedle(id), undefined, `id ${id}`);
        }
      }
    },
    ecx,
  );
});

test('readDatLocalSync reads small ranges of local shards, and declines what needs a rebuild', async () => {
  await withVolume(all.filter((i) => i !== 2), dat, async (store) => {
    const view = store.contributor().ecVolume!(VID)!;
    for (const [off, len] of [
      [0, 100],
      [MiB - 10, 20],
      [MiB + 5, 128 * 1024],
      [123, 0],
    ]) {
      assert.ok(view.readDatLocalSync!(off, len)!.equals(dat.subarray(off, off + len)), `${off}+${len}`);
    }
    // In shard 2 (rebuilt by readDat), past the synchronous limit, out of range: declined.
    assert.equal(view.readDatLocalSync!(2 * MiB + 5, 100), undefined);
    assert.ok((await view.readDat(2 * MiB + 5, 100, { localOnly: true })).equals(dat.subarray(2 * MiB + 5, 2 * MiB + 105)));
    assert.equal(view.readDatLocalSync!(0, 128 * 1024 + 1), undefined);
    assert.equal(view.readDatLocalSync!(-1, 10), undefined);
    assert.equal(view.readDatLocalSync!(10 * MiB, 10), undefined);
  });
});

test('readDat reconstructs intervals of missing data shards from any 10 others', async () => {
  // Shards 0 and 2 gone: the reads below cross both and the present shard 1.
  await withVolume(all.filter((i) => i !== 0 && i !== 2), dat, async (store) => {
    const view = store.contributor().ecVolume!(VID)!;
    for (const [off, len] of [
      [5, 1000],
      [MiB - 300, 600],
      [2 * MiB + 17, 1.5 * MiB - 17],
      [0, dat.length],
    ]) {
      assert.ok((await view.readDat(off, len, { localOnly: true })).equals(dat.subarray(off, off + len)), `${off}+${len}`);
    }
  });
});

test('readDat with fewer than 10 shards rejects with a clear error, and reads what is local', async () => {
  await withVolume([1, 4, 5, 6, 7, 8, 9, 10, 11], dat, async (store) => {
    const view = store.contributor().ecVolume!(VID)!;
    assert.ok((await view.readDat(MiB + 3, 10)).equals(dat.subarray(MiB + 3, MiB + 13)));
    await assert.rejects(view.readDat(10, 10), /cannot recover shard 7\.0: only 9 shards available \[1 4 5 6 7 8 9 10 11\], need at least 10/);
    await assert.rejects(view.readDat(-1, 10), /invalid read/);
  });
});

test('an aborted read rejects with the abort reason', async () => {
  await withVolume(all, dat, async (store) => {
    const view = store.contributor().ecVolume!(VID)!;
    const ac = new AbortController();
    ac.abort(new Error('client gone'));
    await assert.rejects(view.readDat(0, 10, { signal: ac.signal }), /client gone/);
  });
});

test('the recover budget runs a request larger than itself alone, and queues others', async () => {
  const budget = new RecoverBudget(100);
  const order: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const big = budget.with(1000, async () => {
    order.push('big start');
    await held;
    order.push('big end');
  });
  const small = budget.with(10, async () => {
    order.push('small');
  });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['big start']);
  release();
  await Promise.all([big, small]);
  assert.deepEqual(order, ['big start', 'big end', 'small']);
});
