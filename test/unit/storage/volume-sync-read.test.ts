import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { newNeedle } from '../../../core/storage/needle.js';
import { ReplicaPlacement, Ttl } from '../../../core/storage/types.js';
import { SYNC_READ_LIMIT, Volume } from '../../../core/storage/volume.js';

test('readNeedleSync serves small records like readNeedle and defers large ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sync-read-'));
  try {
    const v = await Volume.create({
      dir,
      collection: '',
      id: 1,
      offsetWidth: 5,
      create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.EMPTY },
    });
    const small = randomBytes(1000);
    const large = randomBytes(SYNC_READ_LIMIT + 10);
    await v.write(newNeedle({ id: 1n, cookie: 7, data: small, name: 'a.txt' }));
    await v.write(newNeedle({ id: 2n, cookie: 7, data: large }));
    await v.write(newNeedle({ id: 3n, cookie: 7, data: Buffer.from('gone') }));
    await v.delete(3n, { cookie: 7 });

    const s = v.readNeedleSync(1n, { cookie: 7 });
    const a = await v.readNeedle(1n, { cookie: 7 });
    assert.ok(s);
    assert.deepEqual(Buffer.from(s.data), small);
    assert.deepEqual(Buffer.from(s.name), Buffer.from(a.name));
    assert.equal(s.checksum, a.checksum);
    assert.equal(v.readNeedleSync(2n), undefined, 'large records take the async path');
    assert.throws(() => v.readNeedleSync(1n, { cookie: 8 }), { code: 'COOKIE_MISMATCH' });
    assert.throws(() => v.readNeedleSync(3n), { code: 'NEEDLE_DELETED' });
    assert.throws(() => v.readNeedleSync(99n), { code: 'NEEDLE_NOT_FOUND' });
    await v.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tryWriteSync decides exactly as write(): new, unchanged, changed, cookie mismatch, adopted cookie; declines what must wait', async () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'sync-write-a-')), mkdtempSync(join(tmpdir(), 'sync-write-b-'))];
  try {
    const open = (dir: string) =>
      Volume.create({ dir, collection: '', id: 1, offsetWidth: 4, create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.EMPTY } });
    const viaSync = await open(dirs[0]);
    const viaWrite = await open(dirs[1]);
    const big = randomBytes(SYNC_READ_LIMIT + 10);
    // [id, cookie, data, checkCookie]
    const steps: [bigint, number, Buffer, boolean][] = [
      [1n, 7, Buffer.from('first'), true],
      [1n, 7, Buffer.from('first'), true], // unchanged
      [1n, 7, Buffer.from('second'), true], // changed: appended
      [1n, 8, Buffer.from('third'), true], // cookie mismatch
      [1n, 0, Buffer.from('fourth'), false], // cookie 0 adopts the stored one
      [2n, 9, randomBytes(3000), true],
    ];
    for (const [id, cookie, data, checkCookie] of steps) {
      const outcome = async (v: Volume, sync: boolean) => {
        const n = newNeedle({ id, cookie, data, lastModified: 1700000000 });
        try {
          const r = sync ? v.tryWriteSync(n, { checkCookie }) : await v.write(n, { checkCookie });
          assert.ok(r, 'a small write with a free lock is taken synchronously');
          return { unchanged: r.unchanged, size: r.size, dataSize: r.dataSize, offset: r.offset, cookie: n.cookie };
        } catch (e) {
          return { error: (e as { code?: string }).code, message: (e as Error).message };
        }
      };
      assert.deepEqual(await outcome(viaSync, true), await outcome(viaWrite, false), `step ${id}/${cookie}/${data.length}`);
      assert.equal(viaSync.datFileSize(), viaWrite.datFileSize());
    }
    for (const v of [viaSync, viaWrite]) assert.equal(Buffer.from((await v.readNeedle(1n, { cookie: 7 })).data).toString(), 'fourth');
    assert.deepEqual([viaSync.fileCount(), viaSync.deletedCount()], [viaWrite.fileCount(), viaWrite.deletedCount()]);
    const counted = viaSync.fileCount();
    // What must wait is declined with nothing changed: fsync, a busy lock, a large record or stored one.
    const before = viaSync.datFileSize();
    assert.equal(viaSync.tryWriteSync(newNeedle({ id: 3n, cookie: 1, data: Buffer.from('x') }), { fsync: true }), undefined);
    assert.equal(viaSync.tryWriteSync(newNeedle({ id: 3n, cookie: 1, data: big })), undefined);
    await viaSync.write(newNeedle({ id: 4n, cookie: 1, data: big }));
    const afterBig = viaSync.datFileSize();
    assert.equal(viaSync.tryWriteSync(newNeedle({ id: 4n, cookie: 1, data: Buffer.from('small now') })), undefined);
    const pending = viaSync.write(newNeedle({ id: 5n, cookie: 1, data: Buffer.from('queued') }));
    assert.equal(viaSync.tryWriteSync(newNeedle({ id: 6n, cookie: 1, data: Buffer.from('y') })), undefined);
    await pending;
    assert.ok(before < afterBig);
    assert.equal(viaSync.fileCount(), counted + 2, 'only the two write() calls added needles');
    await viaSync.close();
    await viaWrite.close();
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
