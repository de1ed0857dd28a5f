// Vacuum (compaction) of one volume: compact by index, commit with replay of the writes made while
// compacting, crash safety of the commit (.cpc marker), cleanup, and the drop rules.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Volume } from '../../../core/storage/volume.js';
import {
  FLAG_HAS_LAST_MODIFIED_DATE,
  FLAG_HAS_MIME,
  FLAG_HAS_NAME,
  FLAG_HAS_TTL,
  newNeedle,
  type Needle,
} from '../../../core/storage/needle.js';
import { readIndexEntries } from '../../../core/storage/idx.js';
import {
  cleanupCompaction,
  commitCompaction,
  compactVolume,
  ensureCompactionSpace,
  garbageLevel,
  isCompacting,
  type CommitCrashPoint,
  WriteThrottler,
} from '../../../core/storage/vacuum.js';
import { NeedleDeletedError, NeedleNotFoundError } from '../../../core/storage/storage-errors.js';
import { ReplicaPlacement, Ttl, type OffsetWidth, type Version } from '../../../core/storage/types.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vacuum-test-'));
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

function mkNeedle(id: bigint, cookie: number, text: string, extra: { flags?: number; ttl?: Ttl; lastModified?: number } = {}): Needle {
  return newNeedle({
    id,
    cookie,
    data: Buffer.from(text),
    flags: FLAG_HAS_NAME | FLAG_HAS_MIME | FLAG_HAS_LAST_MODIFIED_DATE | (extra.flags ?? 0),
    name: `f${id}.txt`,
    mime: 'text/plain',
    lastModified: extra.lastModified ?? 1_700_000_000,
    ttl: extra.ttl,
  });
}

function createVolume(dir: string, opts: { width?: OffsetWidth; version?: Version; ttl?: string; idxDir?: string } = {}) {
  return Volume.create({
    dir,
    idxDir: opts.idxDir,
    collection: 'col',
    id: 9,
    offsetWidth: opts.width ?? 4,
    create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.parse(opts.ttl ?? ''), version: opts.version ?? 3 },
  });
}

function openVolume(dir: string, opts: { width?: OffsetWidth; idxDir?: string } = {}) {
  return Volume.open({ dir, idxDir: opts.idxDir, collection: 'col', id: 9, offsetWidth: opts.width ?? 4 });
}

const body = (id: bigint, gen: number) => `needle-${id}-gen-${gen}-` + 'x'.repeat(Number(id % 97n) * 13);

async function readText(v: Volume, id: bigint): Promise<string> {
  return Buffer.from((await v.readNeedle(id)).data).toString();
}

/** Expected contents: id → text, or null for deleted. */
type Model = Map<bigint, string | null>;

async function assertModel(v: Volume, model: Model, what: string): Promise<void> {
  for (const [id, text] of model) {
    if (text === null) {
      await assert.rejects(v.readNeedle(id), (e: unknown) => e instanceof NeedleDeletedError || e instanceof NeedleNotFoundError, `${what}: ${id} should be gone`);
    } else {
      assert.equal(await readText(v, id), text, `${what}: content of ${id}`);
    }
  }
}

/** A volume with 200 needles, half of them deleted and a quarter overwritten. */
async function populated(dir: string, opts: { width?: OffsetWidth; version?: Version } = {}) {
  const v = await createVolume(dir, opts);
  const model: Model = new Map();
  for (let i = 1n; i <= 200n; i++) {
    await v.write(mkNeedle(i, 0x1000 + Number(i), body(i, 0)));
    model.set(i, body(i, 0));
  }
  for (let i = 1n; i <= 200n; i += 2n) {
    await v.delete(i, { cookie: 0x1000 + Number(i) });
    model.set(i, null);
  }
  for (let i = 2n; i <= 200n; i += 4n) {
    await v.write(mkNeedle(i, 0x1000 + Number(i), body(i, 1)));
    model.set(i, body(i, 1));
  }
  return { v, model };
}

for (const width of [4, 5] as const) {
  for (const version of [2, 3] as const) {
    test(`compact + commit (offsets ${width}, v${version}): live needles kept sorted by id, garbage reclaimed, revision + 1`, async () => {
      const dir = await tempDir();
      try {
        const { v, model } = await populated(dir, { width, version });
        const before = v.datFileSize();
        assert.ok(garbageLevel(v) > 0.5, `garbage ${garbageLevel(v)}`);
        const r = await compactVolume(v);
        assert.equal(r.started, true);
        assert.equal(r.copied, 100);
        assert.ok(await exists(v.fileName('.cpd')));
        assert.ok(await exists(v.fileName('.cpx')));
        // the volume is untouched until the commit
        assert.equal(v.datFileSize(), before);
        await assertModel(v, model, 'before commit');
        const c = await commitCompaction(v);
        assert.deepEqual(c, { committed: true, replayed: 0 });
        assert.ok(v.datFileSize() < before / 2, `${v.datFileSize()} vs ${before}`);
        assert.equal(v.superBlock.compactionRevision, 1);
        assert.equal(garbageLevel(v), 0);
        assert.equal(v.fileCount(), 100);
        assert.equal(v.deletedCount(), 0);
        for (const ext of ['.cpd', '.cpx', '.cpc']) assert.equal(await exists(v.fileName(ext)), false, ext);
        await assertModel(v, model, 'after commit');
        // .idx: live entries only, ascending ids, ascending offsets
        const rows = await readIndexEntries(v.fileName('.idx'), width);
        assert.equal(rows.length, 100);
        for (let i = 1; i < rows.length; i++) {
          assert.ok(rows[i].id > rows[i - 1].id);
          assert.ok(rows[i].offset > rows[i - 1].offset);
        }
        // writes still work after the swap, and everything survives a reload
        await v.write(mkNeedle(999n, 7, 'after'));
        model.set(999n, 'after');
        await v.close();
        const again = await openVolume(dir, { width });
        assert.equal(again.superBlock.compactionRevision, 1);
        assert.equal(again.readOnlyReason, '');
        await assertModel(again, model, 'after reload');
        await again.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}

/**
 * Writers that keep writing new needles, overwriting and deleting while `during` runs; every
 * acknowledged operation is recorded in the model.
 */
function startWriters(v: Volume, model: Model, firstNewId: bigint) {
  let stop = false;
  let ops = 0;
  let next = firstNewId;
  const gens = new Map<bigint, number>();
  const loop = (async () => {
    while (!stop) {
      const kind = ops % 4;
      if (kind === 0 || kind === 1) {
        const id = next++;
        const text = body(id, 0);
        await v.write(mkNeedle(id, 0x2000, text), { fsync: kind === 1 });
        model.set(id, text);
      } else if (kind === 2) {
        // overwrite a live old needle (even ids stay live in `populated`)
        const id = 2n * BigInt(1 + (ops % 100));
        const g = (gens.get(id) ?? 1) + 1;
        gens.set(id, g);
        const text = body(id, g);
        await v.write(mkNeedle(id, 0x1000 + Number(id), text));
        model.set(id, text);
      } else {
        // delete one of the needles written during the compaction, or an old live one
        const id = ops % 8 === 3 && next > firstNewId + 2n ? next - 2n : 4n * BigInt(1 + (ops % 50));
        const size = await v.delete(id, {});
        if (size > 0 || model.get(id) !== undefined) model.set(id, null);
      }
      ops++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    get ops() {
      return ops;
    },
    async stop() {
      stop = true;
      await loop;
    },
  };
}

test('compaction runs while writers write, overwrite and delete; commit replays them; garbage is reclaimed', async () => {
  const dir = await tempDir();
  try {
    const { v, model } = await populated(dir);
    const writers = startWriters(v, model, 10_000n);
    try {
    let steps = 0;
    const r = await compactVolume(v, {
      // let the writers in between needles of the copy
      progress: async () => {
        steps++;
        await new Promise((res) => setTimeout(res, 1));
        return true;
      },
    });
    assert.equal(r.started, true);
    assert.ok(steps >= 100 && steps <= 102, `steps ${steps}`);
    const opsDuringCompaction = writers.ops;
    assert.ok(opsDuringCompaction > 20, `only ${opsDuringCompaction} concurrent ops`);
    // reads are served throughout
    await assertModel(v, model, 'between compact and commit');
    const c = await commitCompaction(v);
    assert.equal(c.committed, true);
    assert.ok(c.replayed > 10, `replayed ${c.replayed}`);
    await writers.stop();
    } finally {
      await writers.stop();
    }
    await assertModel(v, model, 'after commit');
    assert.equal(v.superBlock.compactionRevision, 1);
    // all the pre-compaction garbage is gone: what is left is at most what the writers produced
    const live = [...model.values()].filter((t) => t !== null).length;
    assert.equal(v.fileCount() - v.deletedCount(), live);
    await v.close();
    const again = await openVolume(dir);
    assert.equal(again.readOnlyReason, '');
    await assertModel(again, model, 'after reload');
    // a second vacuum leaves no garbage at all
    await compactVolume(again);
    await commitCompaction(again);
    assert.equal(garbageLevel(again), 0);
    assert.equal(again.superBlock.compactionRevision, 2);
    await assertModel(again, model, 'after second vacuum');
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writers keep going during the commit itself: writes queued behind it land in the new files', async () => {
  const dir = await tempDir();
  try {
    const { v, model } = await populated(dir);
    await compactVolume(v);
    const writers = startWriters(v, model, 20_000n);
    try {
      await new Promise((r) => setTimeout(r, 20));
      const commit = commitCompaction(v);
      // queued while the commit holds the write lock
      const late = v.write(mkNeedle(30_000n, 1, 'queued-during-commit'), { fsync: true });
      assert.equal((await commit).committed, true);
      await late;
      model.set(30_000n, 'queued-during-commit');
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      await writers.stop();
    }
    await assertModel(v, model, 'after commit');
    await v.close();
    const again = await openVolume(dir);
    await assertModel(again, model, 'after reload');
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const crashAt of ['after-marker', 'after-dat-rename', 'after-idx-rename'] as CommitCrashPoint[]) {
  test(`crash during commit ${crashAt}: the .cpc marker rolls the swap forward on reload`, async () => {
    const dir = await tempDir();
    const idxDir = await tempDir();
    try {
      const v0 = await createVolume(dir, { idxDir });
      const model: Model = new Map();
      for (let i = 1n; i <= 50n; i++) {
        await v0.write(mkNeedle(i, 0x1000 + Number(i), body(i, 0)));
        model.set(i, body(i, 0));
      }
      for (let i = 1n; i <= 50n; i += 3n) {
        await v0.delete(i, {});
        model.set(i, null);
      }
      const sizeBefore = v0.datFileSize();
      const v = v0;
      const writers = startWriters(v, model, 5_000n);
      try {
        await compactVolume(v, { progress: () => new Promise((r) => setTimeout(() => r(true), 1)) });
      } finally {
        await writers.stop();
      }
      await assert.rejects(commitCompaction(v, { crashAt }), /simulated crash/);
      assert.equal(await exists(v.fileName('.cpc')), true, 'marker left behind');
      // cleanup must not destroy a decided swap
      await assert.rejects(cleanupCompaction(v), /refusing cleanup while commit marker present/);
      // "crash": drop the process state, reload from disk
      await v.close();
      const again = await openVolume(dir, { idxDir });
      for (const ext of ['.cpd', '.cpx', '.cpc']) assert.equal(await exists(again.fileName(ext)), false, ext);
      assert.equal(again.superBlock.compactionRevision, 1);
      assert.equal(again.readOnlyReason, '');
      assert.ok(again.datFileSize() < sizeBefore + 200_000);
      await assertModel(again, model, 'after roll-forward');
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(idxDir, { recursive: true, force: true });
    }
  });
}

test('crash before the marker (compacted files left, no .cpc): reload rolls back to the old files', async () => {
  const dir = await tempDir();
  try {
    const { v, model } = await populated(dir);
    const size = v.datFileSize();
    await compactVolume(v);
    await v.write(mkNeedle(777n, 1, 'after-compact'));
    model.set(777n, 'after-compact');
    await v.close(); // crash before commit
    const again = await openVolume(dir);
    assert.equal(await exists(again.fileName('.cpd')), false);
    assert.equal(await exists(again.fileName('.cpx')), false);
    assert.equal(again.superBlock.compactionRevision, 0);
    assert.ok(again.datFileSize() > size);
    await assertModel(again, model, 'after roll-back');
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a marker whose temp files are already renamed is just cleared on reload', async () => {
  const dir = await tempDir();
  try {
    const { v, model } = await populated(dir);
    await compactVolume(v);
    await commitCompaction(v);
    await v.close();
    await writeFile(join(dir, 'col_9.cpc'), '');
    const again = await openVolume(dir);
    assert.equal(await exists(join(dir, 'col_9.cpc')), false);
    await assertModel(again, model, 'after clearing the marker');
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('cleanup removes the compacted files; commit without them is refused and changes nothing', async () => {
  const dir = await tempDir();
  try {
    const { v, model } = await populated(dir);
    await compactVolume(v);
    await cleanupCompaction(v);
    assert.equal(await exists(v.fileName('.cpd')), false);
    assert.equal(await exists(v.fileName('.cpx')), false);
    await cleanupCompaction(v); // nothing left: still fine
    await assert.rejects(commitCompaction(v), /volume 9 compact swap aborted: missing \.cpd\/\.cpx/);
    assert.equal(await exists(v.fileName('.cpc')), false);
    assert.equal(v.readOnlyReason, '');
    await assertModel(v, model, 'after refused commit');
    await v.write(mkNeedle(5000n, 1, 'still writable'));
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('one compaction at a time: a commit or a second compaction during a compaction does nothing', async () => {
  const dir = await tempDir();
  try {
    const { v, model } = await populated(dir);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    const running = compactVolume(v, {
      progress: async () => {
        if (first) {
          first = false;
          await gate;
        }
        return true;
      },
    });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(isCompacting(v), true);
    assert.deepEqual(await commitCompaction(v), { committed: false, replayed: 0 });
    assert.equal((await compactVolume(v)).started, false);
    release();
    await running;
    assert.equal(isCompacting(v), false);
    assert.equal((await commitCompaction(v)).committed, true);
    await assertModel(v, model, 'after commit');
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('progress returning false interrupts the compaction; progress sees source offsets', async () => {
  const dir = await tempDir();
  try {
    const { v } = await populated(dir);
    const seen: number[] = [];
    await assert.rejects(
      compactVolume(v, {
        progress: (off) => {
          seen.push(off);
          return seen.length < 5;
        },
      }),
      /interrupted/,
    );
    assert.equal(seen.length, 5);
    assert.ok(seen.every((o) => o > 0 && o % 8 === 0));
    assert.equal(isCompacting(v), false);
    await cleanupCompaction(v);
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('drop rules: unreadable (CRC-corrupted) needles and needles past the volume TTL are dropped', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    for (let i = 1n; i <= 5n; i++) await v.write(mkNeedle(i, 1, `payload-${i}`));
    // a needle with its own TTL in a volume without TTL: Go compares against the volume TTL (0)
    await v.write(mkNeedle(6n, 1, 'ttl-needle', { flags: FLAG_HAS_TTL, ttl: Ttl.parse('1d') }));
    // corrupt one data byte of needle 3
    const at = v.lookup(3n)!.offset + 16 + 4;
    await v.close();
    const fh = await open(join(dir, 'col_9.dat'), 'r+');
    await fh.write(Buffer.from('Z'), 0, 1, at);
    await fh.close();
    const w = await openVolume(dir);
    const r = await compactVolume(w, { nowSeconds: () => 1_800_000_000 });
    assert.equal(r.copied, 4);
    assert.equal(r.unreadable, 1);
    assert.equal(r.expired, 1);
    await commitCompaction(w);
    await assert.rejects(w.readNeedle(3n), NeedleNotFoundError);
    await assert.rejects(w.readNeedle(6n), NeedleNotFoundError);
    assert.equal(await readText(w, 5n), 'payload-5');
    await w.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('legacy checksums are rewritten raw; append timestamps are preserved', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    await v.write(mkNeedle(1n, 1, 'hello world'));
    const ts = (await v.readNeedle(1n)).appendAtNs;
    const crcAt = v.lookup(1n)!.offset + 16 + (await v.readNeedle(1n)).size;
    await v.close();
    // store the legacy form of crc32c("hello world") = 0xc99465aa
    const fh = await open(join(dir, 'col_9.dat'), 'r+');
    await fh.write(Buffer.from([0x6d, 0xd8, 0x7e, 0x00]), 0, 4, crcAt);
    await fh.close();
    const w = await openVolume(dir);
    assert.equal(await readText(w, 1n), 'hello world');
    await compactVolume(w);
    await commitCompaction(w);
    const n = await w.readNeedle(1n);
    assert.equal(n.appendAtNs, ts);
    const raw = await readFile(join(dir, 'col_9.dat'));
    const off = w.lookup(1n)!.offset;
    assert.equal(raw.readUInt32BE(off + 16 + n.size), 0xc99465aa);
    await w.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('garbage level and the free-space check', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    assert.equal(garbageLevel(v), 0);
    await v.write(mkNeedle(1n, 1, 'a'.repeat(100)));
    await v.write(mkNeedle(2n, 1, 'b'.repeat(100)));
    await v.delete(1n, {});
    assert.equal(garbageLevel(v), 0.5);
    await ensureCompactionSpace(v, 0, () => 1e12);
    await assert.rejects(
      ensureCompactionSpace(v, 0, () => 10),
      /insufficient free space for compaction in .*: need \d+ bytes \(data: \d+, index: \d+, current volume: \d+, current index: \d+\), but only 10 bytes available/,
    );
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('throttler: a burst shorter than 100 ms is paced too; a stall earns at most one second of credit', () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  try {
    const mb = 1024 * 1024;
    // 1 MB/s: 21 MiB written at once must wait about 21 s (Go's throttler would let it through).
    const t = new WriteThrottler(mb);
    let wait = 0;
    for (let i = 0; i < 21; i++) wait += t.delayFor(mb);
    assert.ok(wait >= 21_000 * 10, `summed waits ${wait}`); // each call answers the whole lead so far
    assert.equal(t.delayFor(0), 21_000);
    mock.timers.tick(21_000);
    assert.equal(t.delayFor(0), 0, 'on schedule after the wait');
    // Ten idle seconds: only one second of them may be spent at full speed.
    mock.timers.tick(10_000);
    assert.equal(t.delayFor(mb / 2), 0, 'within the one second of credit');
    assert.equal(t.delayFor(mb), 500, '1.5 MB at once against one second of credit');
    // Small leads are not worth a timer; 0 or less means unlimited.
    const small = new WriteThrottler(mb);
    assert.equal(small.delayFor(mb / 200), 0);
    assert.equal(new WriteThrottler(0).delayFor(1e12), 0);
  } finally {
    mock.timers.reset();
  }
});
