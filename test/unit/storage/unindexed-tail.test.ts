// A kill -9 between a record's .dat append and its .idx row leaves an unindexed record at the
// .dat tail, which the load-time repair (core/storage/volume-integrity.ts walkUnindexedTail)
// re-indexes. A delete's tombstone and an empty write append the same size-0 record, so a
// re-indexed size-0 record would turn a delete that was in flight at the kill into a live empty
// needle: neither the old content nor "deleted" (found by the kill -9 torture run). Such a record
// was never acknowledged (the ack follows the .idx row), so the repair must leave the needle as
// it was. The files are made as the kill leaves them: the operation done, its .idx row cut off.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FLAG_HAS_NAME, newNeedle, type Needle } from '../../../core/storage/needle.js';
import { NeedleDeletedError, NeedleNotFoundError } from '../../../core/storage/storage-errors.js';
import { ReplicaPlacement, Ttl } from '../../../core/storage/types.js';
import { Volume } from '../../../core/storage/volume.js';

function needle(id: bigint, text: string): Needle {
  return newNeedle({ id, cookie: 0x1000 + Number(id), data: Buffer.from(text), flags: text ? FLAG_HAS_NAME : 0, name: text ? `f${id}` : '' });
}

function create(dir: string): Promise<Volume> {
  return Volume.create({
    dir,
    collection: '',
    id: 9,
    offsetWidth: 4,
    create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.parse(''), version: 3 },
  });
}

function reopen(dir: string): Promise<Volume> {
  return Volume.open({ dir, collection: '', id: 9, offsetWidth: 4 });
}

/** What a GET would see: the body, or undefined for an absent/deleted needle. */
async function body(v: Volume, id: bigint): Promise<string | undefined> {
  try {
    return Buffer.from((await v.readNeedle(id)).data).toString();
  } catch (e) {
    if (e instanceof NeedleNotFoundError || e instanceof NeedleDeletedError) return undefined;
    throw e;
  }
}

/**
 * Writes needles 1..3, then runs `inFlight` (the operations a kill interrupts), then cuts the
 * .idx rows those operations appended: the .dat keeps their records, as after a kill -9 landing
 * between the .dat and the .idx write.
 */
async function killedDuring(dir: string, inFlight: (v: Volume) => Promise<unknown>): Promise<{ datBefore: number; datAfterOps: number }> {
  const v = await create(dir);
  for (const id of [1n, 2n, 3n]) await v.write(needle(id, `needle ${id} `.repeat(20)));
  const datBefore = v.datFileSize();
  const idxBefore = v.idxFileSize();
  await inFlight(v);
  const datAfterOps = v.datFileSize();
  await v.close();
  const idx = await readFile(join(dir, '9.idx'));
  assert.ok(idx.length > idxBefore, 'the in-flight operations appended .idx rows');
  await writeFile(join(dir, '9.idx'), idx.subarray(0, idxBefore));
  return { datBefore, datAfterOps };
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'unindexed-tail-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a delete in flight at a kill (tombstone in the .dat, no .idx row) never comes back as an empty needle', () =>
  inTempDir(async (dir) => {
    const { datBefore } = await killedDuring(dir, (v) => v.delete(2n, { cookie: 0x1002 }));
    const v = await reopen(dir);
    try {
      assert.equal(v.isReadOnly(), false, v.readOnlyReason);
      const seen = await body(v, 2n);
      assert.ok(seen === undefined || seen === 'needle 2 '.repeat(20), `needle 2 read back ${JSON.stringify(seen)}`);
      assert.equal(seen, 'needle 2 '.repeat(20), 'the unacknowledged tombstone is dropped: the needle keeps its content');
      assert.equal(v.datFileSize(), datBefore, 'the trailing size-0 record is cut');
      assert.equal((await stat(join(dir, '9.dat'))).size, datBefore);
      for (const id of [1n, 3n]) assert.equal(await body(v, id), `needle ${id} `.repeat(20));
      // the volume takes writes and deletes again, and reloads clean
      await v.write(needle(4n, 'after the restart'));
      await v.delete(2n, { cookie: 0x1002 });
    } finally {
      await v.close();
    }
    const again = await reopen(dir);
    try {
      assert.equal(again.isReadOnly(), false, again.readOnlyReason);
      assert.equal(await body(again, 2n), undefined);
      assert.equal(await body(again, 4n), 'after the restart');
    } finally {
      await again.close();
    }
  }));

test('an unindexed tombstone followed by unindexed writes: the writes are re-indexed, the deleted needle is not emptied', () =>
  inTempDir(async (dir) => {
    const { datAfterOps } = await killedDuring(dir, async (v) => {
      await v.delete(2n, { cookie: 0x1002 });
      await v.write(needle(5n, 'written after the delete'));
      await v.write(needle(1n, 'overwritten after the delete'));
    });
    const v = await reopen(dir);
    try {
      assert.equal(v.isReadOnly(), false, v.readOnlyReason);
      const seen = await body(v, 2n);
      assert.ok(seen === undefined || seen === 'needle 2 '.repeat(20), `needle 2 read back ${JSON.stringify(seen)}`);
      assert.equal(await body(v, 5n), 'written after the delete');
      assert.equal(await body(v, 1n), 'overwritten after the delete');
      assert.equal(v.datFileSize(), datAfterOps, 'whole non-empty records are kept and re-indexed (as Go)');
    } finally {
      await v.close();
    }
    const again = await reopen(dir);
    try {
      assert.equal(again.isReadOnly(), false, again.readOnlyReason);
      assert.equal(await body(again, 5n), 'written after the delete');
    } finally {
      await again.close();
    }
  }));

test('an empty overwrite in flight at a kill leaves the old content or the empty body, nothing else', () =>
  inTempDir(async (dir) => {
    await killedDuring(dir, (v) => v.write(needle(3n, '')));
    const v = await reopen(dir);
    try {
      assert.equal(v.isReadOnly(), false, v.readOnlyReason);
      const seen = await body(v, 3n);
      assert.ok(seen === '' || seen === 'needle 3 '.repeat(20), `needle 3 read back ${JSON.stringify(seen)}`);
    } finally {
      await v.close();
    }
  }));
