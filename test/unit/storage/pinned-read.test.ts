// Reads pinned to the .dat they started on (issue 13): a pinned file outlives its retirement until
// the last pin is let go, reads through a released or revoked pin fail, and a volume reader keeps
// reading the old generation's bytes at the old offsets after a compaction commit swapped the .dat.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DiskFile } from '../../../core/storage/backend/disk-file.js';
import { PinnedFile } from '../../../core/storage/backend/pinned-file.js';
import { FLAG_HAS_NAME, newNeedle } from '../../../core/storage/needle.js';
import { StorageIoError } from '../../../core/storage/storage-errors.js';
import { ReplicaPlacement, Ttl } from '../../../core/storage/types.js';
import { commitCompaction, compactVolume } from '../../../core/storage/vacuum.js';
import { Volume } from '../../../core/storage/volume.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pinned-read-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readVia(f: { readAt(b: Uint8Array, o: number, l: number, p: number): Promise<number> }, len: number, pos: number): Promise<string> {
  const b = Buffer.alloc(len);
  const got = await f.readAt(b, 0, len, pos);
  return b.subarray(0, got).toString();
}

/** Descriptors of this process open on `path` after it was renamed over (Linux: "path (deleted)"). */
function openReplaced(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === `${path} (deleted)`) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Waits (bounded) until `cond` holds; the bound only keeps a broken build from hanging. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), what);
}

test('a retired file stays readable through its pins, renamed over, and is closed when the last pin goes', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'a.dat');
    await writeFile(path, 'old generation bytes');
    const pf = new PinnedFile(await DiskFile.open(path, 'r'));
    const p1 = pf.pin();
    const p2 = pf.pin();
    // the file is replaced on disk, as a compaction commit renames .cpd over .dat
    await writeFile(join(dir, 'b.dat'), 'NEW generation bytes');
    await rename(join(dir, 'b.dat'), path);
    assert.equal(pf.retire(), null, 'pinned: the close is deferred');
    assert.throws(() => pf.pin(), StorageIoError, 'no new pins on a retired file');
    assert.equal(await readVia(p1, 14, 0), 'old generation');
    p1.release();
    p1.release(); // idempotent
    assert.equal(pf.isClosed, false);
    await assert.rejects(readVia(p1, 3, 0), /released pin/);
    // a release while a read is in flight: the read completes, then the file closes
    const inFlight = readVia(p2, 5, 15);
    p2.release();
    assert.equal(await inFlight, 'bytes');
    await until(() => pf.isClosed, 'closed after the last pin');
    assert.equal(pf.pinCount, 0);
  });
});

test('an unpinned file closes at once when retired', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'a.dat');
    await writeFile(path, 'x');
    const f = await DiskFile.open(path, 'r');
    const pf = new PinnedFile(f);
    const closing = pf.retire();
    assert.ok(closing, 'the close is returned');
    await closing;
    assert.equal(pf.isClosed, true);
    await assert.rejects(f.readAt(Buffer.alloc(1), 0, 1, 0));
  });
});

test('a pin that stops reading after its file was retired is revoked, so the file gets closed', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'a.dat');
    await writeFile(path, 'stalled reader');
    const pf = new PinnedFile(await DiskFile.open(path, 'r'), 20);
    const live = pf.pin();
    assert.equal(await readVia(live, 7, 0), 'stalled');
    assert.equal(pf.retire(), null);
    await until(() => pf.isClosed, 'an idle pin is revoked and the file closed');
    await assert.rejects(readVia(live, 6, 8), /idle for more than/);
  });
});

test('a volume reader keeps its generation across a compaction commit; the old .dat closes on release', async () => {
  await withDir(async (dir) => {
    const v = await Volume.create({
      dir,
      collection: '',
      id: 3,
      offsetWidth: 4,
      create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.parse(''), version: 3 },
    });
    try {
      const pad = Buffer.alloc(4096, 0x70);
      const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
      await v.write(newNeedle({ id: 1n, cookie: 11, data: pad, flags: FLAG_HAS_NAME, name: 'pad' }));
      await v.write(newNeedle({ id: 2n, cookie: 22, data, flags: FLAG_HAS_NAME, name: 'big' }));
      const reader = v.openReader();
      const meta = await reader.readNeedleMeta(2n);
      assert.equal(meta.dataSize, data.length);
      const head = Buffer.alloc(1000);
      assert.equal(await reader.readDataRange(head, 0, 1000, meta.dataOffset), 1000);
      assert.ok(head.equals(data.subarray(0, 1000)));

      // the pad in front goes away: the commit moves the big needle to a lower offset
      await v.delete(1n, { cookie: 11 });
      assert.equal((await compactVolume(v)).started, true);
      assert.equal((await commitCompaction(v)).committed, true);
      assert.notEqual(v.lookup(2n)!.offset + 16 + 4, meta.dataOffset, 'the needle moved');

      // the reader still reads the old file at the old offsets: the needle's own bytes
      const rest = Buffer.alloc(data.length - 1000);
      assert.equal(await reader.readDataRange(rest, 0, rest.length, meta.dataOffset + 1000), rest.length);
      assert.ok(rest.equals(data.subarray(1000)), 'bytes of the generation the read started on');
      // while the volume itself reads the new file there (other bytes)
      const now = Buffer.alloc(1000);
      await v.readDataRange(now, 0, 1000, meta.dataOffset);
      assert.ok(!now.equals(data.subarray(0, 1000)), 'the volume swapped to the new .dat');
      // and a new read finds the needle at its new place
      assert.ok(Buffer.from((await v.readNeedle(2n)).data).equals(data));

      assert.equal(openReplaced(v.fileName('.dat')), 1, 'the old .dat is held open by the reader');
      reader.release();
      await assert.rejects(reader.readDataRange(Buffer.alloc(1), 0, 1, meta.dataOffset), /released pin/);
      await until(() => openReplaced(v.fileName('.dat')) === 0, 'the old .dat is closed once the reader let go');
    } finally {
      await v.close();
    }
  });
});

test('volume reads after close fail; a reader opened before close finishes from its file', async () => {
  await withDir(async (dir) => {
    const v = await Volume.create({
      dir,
      collection: '',
      id: 4,
      offsetWidth: 4,
      create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.parse(''), version: 3 },
    });
    const data = Buffer.from('still here after close');
    await v.write(newNeedle({ id: 5n, cookie: 55, data }));
    const reader = v.openReader();
    const meta = await reader.readNeedleMeta(5n);
    await v.close();
    await assert.rejects(v.readNeedle(5n), /closed/);
    const b = Buffer.alloc(data.length);
    assert.equal(await reader.readDataRange(b, 0, b.length, meta.dataOffset), data.length);
    assert.ok(b.equals(data));
    reader.release();
  });
});
