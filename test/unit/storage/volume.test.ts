import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Volume } from '../../../core/storage/volume.js';
import { FLAG_HAS_LAST_MODIFIED_DATE, FLAG_HAS_MIME, FLAG_HAS_NAME, FLAG_HAS_TTL, newNeedle, type Needle } from '../../../core/storage/needle.js';
import { readIndexEntries } from '../../../core/storage/idx.js';
import { crc32c, crcMatches } from '../../../core/storage/crc32c.js';
import { ReplicaPlacement, Ttl, actualSize, type OffsetWidth, type Version } from '../../../core/storage/types.js';
import {
  CookieMismatchError,
  NeedleDeletedError,
  NeedleExpiredError,
  NeedleNotFoundError,
  OffsetWidthMismatchError,
  VolumeNotEmptyError,
  VolumeReadOnlyError,
} from '../../../core/storage/storage-errors.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vol-test-'));
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

function mkNeedle(id: bigint, cookie: number, text: string): Needle {
  return newNeedle({
    id,
    cookie,
    data: Buffer.from(text),
    flags: FLAG_HAS_NAME | FLAG_HAS_MIME | FLAG_HAS_LAST_MODIFIED_DATE,
    name: `f${id}.txt`,
    mime: 'text/plain',
    lastModified: 1_700_000_000,
  });
}

function createVolume(dir: string, opts: { collection?: string; id?: number; width?: OffsetWidth; version?: Version; ttl?: string } = {}) {
  return Volume.create({
    dir,
    collection: opts.collection ?? '',
    id: opts.id ?? 7,
    offsetWidth: opts.width ?? 4,
    create: { replicaPlacement: ReplicaPlacement.parse('001'), ttl: Ttl.parse(opts.ttl ?? ''), version: opts.version ?? 3 },
  });
}

function openVolume(dir: string, opts: { collection?: string; id?: number; width?: OffsetWidth } = {}) {
  return Volume.open({ dir, collection: opts.collection ?? '', id: opts.id ?? 7, offsetWidth: opts.width ?? 4 });
}

test('create: Go file names and contents (.dat super block, empty .idx, .vif)', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir, { collection: 'pics', id: 12 });
    await v.close();
    assert.deepEqual([...(await readFile(join(dir, 'pics_12.dat')))], [3, 1, 0, 0, 0, 0, 0, 0]);
    assert.equal((await stat(join(dir, 'pics_12.idx'))).size, 0);
    assert.equal(
      await readFile(join(dir, 'pics_12.vif'), 'utf8'),
      '{\n  "files": [],\n  "version": 3,\n  "replication": "",\n  "bytesOffset": 4,\n  "datFileSize": "0",\n  "expireAtSec": "0",\n  "readOnly": false,\n  "ecShardConfig": null,\n  "readOnlyCanDelete": false\n}',
    );
    const v2 = await createVolume(dir, { id: 3, ttl: '3d' });
    assert.equal(v2.fileName('.dat'), join(dir, '3.dat'));
    await v2.close();
    assert.deepEqual([...(await readFile(join(dir, '3.dat')))], [3, 1, 3, 3, 0, 0, 0, 0]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const width of [4, 5] as OffsetWidth[]) {
  for (const version of [2, 3] as Version[]) {
    test(`write / read / delete / reload (v${version}, ${width}-byte offsets)`, async () => {
      const dir = await tempDir();
      try {
        const v = await createVolume(dir, { width, version });
        const r1 = await v.write(mkNeedle(1n, 0x637037d6, 'hello world'));
        assert.equal(r1.offset, 8);
        assert.equal(r1.unchanged, false);
        const r2 = await v.write(mkNeedle(2n, 0x11111111, 'second needle'));
        assert.equal(r2.offset, 8 + actualSize(r1.size, version));
        await v.write(newNeedle({ id: 3n, cookie: 3 })); // empty upload: size 0, live
        const n1 = await v.readNeedle(1n, { cookie: 0x637037d6 });
        assert.equal(Buffer.from(n1.data).toString(), 'hello world');
        assert.equal(Buffer.from(n1.name).toString(), 'f1.txt');
        assert.equal(n1.checksum, 0xc99465aa);
        const n3 = await v.readNeedle(3n);
        assert.equal(n3.data.length, 0);
        await assert.rejects(v.readNeedle(1n, { cookie: 1 }), CookieMismatchError);
        await assert.rejects(v.readNeedle(99n), NeedleNotFoundError);

        const deleted = await v.delete(2n, { cookie: 0x11111111, checksum: crc32c(Buffer.from('second needle')) });
        assert.ok(deleted > 0);
        assert.equal(await v.delete(2n), 0, 'second delete is a no-op');
        assert.equal(await v.delete(42n), 0, 'unknown id is a no-op');
        await assert.rejects(v.readNeedle(2n), (e: unknown) => e instanceof NeedleDeletedError && e.message === 'already deleted');
        const old = await v.readNeedle(2n, { readDeleted: true });
        assert.equal(Buffer.from(old.data).toString(), 'second needle');

        const info = v.information();
        assert.equal(info.file_count, 3);
        assert.equal(info.delete_count, 1);
        assert.equal(info.deleted_byte_count, deleted);
        assert.equal(info.size, v.datFileSize());
        assert.equal(info.replica_placement, 1);
        assert.equal(info.version, version);
        assert.equal(v.maxFileKey(), 3n);
        const datSize = v.datFileSize();
        await v.close();

        const rows = await readIndexEntries(join(dir, '7.idx'), width);
        assert.equal(rows.length, 4);
        assert.equal(rows[3].size, -1);
        assert.equal(rows[3].offset, datSize - actualSize(0, version), 'tombstone row points at the tombstone record');

        const again = await openVolume(dir, { width });
        assert.equal(again.isReadOnly(), false, again.readOnlyReason);
        assert.equal(again.datFileSize(), datSize);
        assert.equal(Buffer.from((await again.readNeedle(1n)).data).toString(), 'hello world');
        await assert.rejects(again.readNeedle(2n), NeedleDeletedError);
        assert.deepEqual(
          [again.fileCount(), again.deletedCount(), again.deletedSize()],
          [3, 1, deleted],
        );
        const r4 = await again.write(mkNeedle(4n, 4, 'after reload'));
        assert.equal(r4.offset, datSize);
        await again.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}

test('unchanged write and cookie mismatch on overwrite', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    await v.write(mkNeedle(5n, 0xabcdef01, 'same'));
    const size = v.datFileSize();
    const r = await v.write(mkNeedle(5n, 0xabcdef01, 'same'));
    assert.equal(r.unchanged, true);
    assert.equal(v.datFileSize(), size, 'nothing appended');
    assert.equal(v.fileCount(), 1);
    await assert.rejects(
      v.write(mkNeedle(5n, 0x12345678, 'other')),
      (e: unknown) => e instanceof CookieMismatchError && e.code === 'COOKIE_MISMATCH' && e.message === 'mismatching cookie 12345678',
    );
    // internal replay: cookie 0 without cookie check adopts the stored cookie
    const replay = mkNeedle(5n, 0, 'changed');
    await v.write(replay, { checkCookie: false });
    assert.equal(replay.cookie, 0xabcdef01);
    assert.equal(Buffer.from((await v.readNeedle(5n, { cookie: 0xabcdef01 })).data).toString(), 'changed');
    assert.equal(v.deletedCount(), 1, 'overwrite counts the old entry as deleted');
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('TTL: volume TTL is applied to needles and expired needles read as not found', async () => {
  const dir = await tempDir();
  const realNow = Date.now;
  try {
    const v = await createVolume(dir, { ttl: '5m' });
    await v.write(mkNeedle(1n, 1, 'short lived'));
    const n = await v.readNeedle(1n);
    assert.ok(n.flags & FLAG_HAS_TTL);
    assert.equal(n.ttl.toString(), '5m');
    Date.now = () => realNow() + 6 * 60_000;
    await assert.rejects(v.readNeedle(1n), (e: unknown) => e instanceof NeedleExpiredError && e.message === 'not found');
    Date.now = realNow;
    assert.equal(v.expired(30_000_000, Math.floor(realNow() / 1000) + 600), true);
    assert.equal(v.expired(0), false);
    await v.close();
  } finally {
    Date.now = realNow;
    await rm(dir, { recursive: true, force: true });
  }
});

test('streaming read: meta then data ranges, CRC verified incrementally', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    const data = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    await v.write(newNeedle({ id: 77n, cookie: 9, data, flags: FLAG_HAS_NAME, name: 'big.bin' }));
    const meta = await v.readNeedleMeta(77n, { cookie: 9 });
    assert.equal(meta.dataSize, data.length);
    assert.equal(Buffer.from(meta.name).toString(), 'big.bin');
    let crc = 0;
    const chunk = Buffer.allocUnsafe(256 * 1024);
    const parts: Buffer[] = [];
    for (let pos = 0; pos < meta.dataSize; ) {
      const n = await v.readDataRange(chunk, 0, Math.min(chunk.length, meta.dataSize - pos), meta.dataOffset + pos);
      crc = crc32c(chunk.subarray(0, n), crc);
      parts.push(Buffer.from(chunk.subarray(0, n)));
      pos += n;
    }
    assert.ok(crcMatches(meta.storedChecksum, crc));
    assert.deepEqual(Buffer.concat(parts), data);
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

async function writeMany(v: Volume, count: number): Promise<{ ids: bigint[]; ends: number[]; texts: string[] }> {
  const ids: bigint[] = [];
  const ends: number[] = [];
  const texts: string[] = [];
  for (let i = 1; i <= count; i++) {
    const text = `needle number ${i} `.repeat(i);
    await v.write(mkNeedle(BigInt(i), 1000 + i, text));
    ids.push(BigInt(i));
    ends.push(v.datFileSize());
    texts.push(text);
  }
  return { ids, ends, texts };
}

test('torn tail after a crash (index row never written): cut back to the last whole needle', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    const { ends, texts } = await writeMany(v, 6);
    await v.close();
    const fullDat = await readFile(join(dir, '7.dat'));
    const fullIdx = await readFile(join(dir, '7.idx'));
    const lastStart = ends[4];
    const cuts = [lastStart + 1, lastStart + 15, lastStart + 16, lastStart + 20, ends[5] - 9, ends[5] - 1];
    for (const cut of cuts) {
      // the .dat got `cut` bytes, the .idx only the rows of the 5 completed writes
      await writeFile(join(dir, '7.dat'), fullDat.subarray(0, cut));
      await writeFile(join(dir, '7.idx'), fullIdx.subarray(0, 5 * 16));
      const r = await openVolume(dir);
      assert.equal(r.isReadOnly(), false, `cut ${cut}: ${r.readOnlyReason}`);
      assert.equal(r.datFileSize(), lastStart, `cut ${cut}: truncated back to the last whole needle`);
      assert.equal((await stat(join(dir, '7.dat'))).size, lastStart);
      for (let i = 1; i <= 5; i++) {
        assert.equal(Buffer.from((await r.readNeedle(BigInt(i))).data).toString(), texts[i - 1], `cut ${cut} needle ${i}`);
      }
      await assert.rejects(r.readNeedle(6n), NeedleNotFoundError);
      const w = await r.write(mkNeedle(6n, 1006, 'rewritten'));
      assert.equal(w.offset, lastStart);
      await r.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('whole needles appended after the last index row are re-indexed (v3)', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    const { texts } = await writeMany(v, 4);
    await v.close();
    const fullIdx = await readFile(join(dir, '7.idx'));
    await writeFile(join(dir, '7.idx'), fullIdx.subarray(0, 2 * 16));
    const r = await openVolume(dir);
    assert.equal(r.isReadOnly(), false, r.readOnlyReason);
    for (let i = 1; i <= 4; i++) assert.equal(Buffer.from((await r.readNeedle(BigInt(i))).data).toString(), texts[i - 1]);
    assert.equal(r.idxFileSize(), 4 * 16);
    await r.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('.dat truncated under an intact index: read-only (as Go), intact needles still read back', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    const { ends, texts } = await writeMany(v, 5);
    await v.close();
    for (const cut of [ends[3] + 3, ends[3] + 40, ends[4] - 1]) {
      const dat = await readFile(join(dir, '7.dat'));
      await truncate(join(dir, '7.dat'), cut);
      const r = await openVolume(dir);
      assert.equal(r.isReadOnly(), true);
      assert.ok(r.readOnlyReason.length > 0);
      for (let i = 1; i <= 4; i++) assert.equal(Buffer.from((await r.readNeedle(BigInt(i))).data).toString(), texts[i - 1]);
      await assert.rejects(r.readNeedle(5n));
      await assert.rejects(r.write(mkNeedle(9n, 9, 'x')), (e: unknown) => e instanceof VolumeReadOnlyError && e.message === 'volume 7 is read only');
      await r.close();
      await writeFile(join(dir, '7.dat'), dat);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('missing .idx is rebuilt from the .dat', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    const { texts } = await writeMany(v, 3);
    await v.delete(2n, { cookie: 1002 });
    await v.close();
    await unlink(join(dir, '7.idx'));
    const r = await openVolume(dir);
    assert.equal(Buffer.from((await r.readNeedle(1n)).data).toString(), texts[0]);
    assert.equal(Buffer.from((await r.readNeedle(3n)).data).toString(), texts[2]);
    await assert.rejects(r.readNeedle(2n), NeedleDeletedError);
    await r.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fsync writes are batched and acknowledged only after the sync', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    const events: string[] = [];
    const dat = (v as unknown as { dat: { sync: () => Promise<void> } }).dat;
    const realSync = dat.sync.bind(dat);
    dat.sync = async () => {
      events.push('sync-start');
      await realSync();
      events.push('sync-end');
    };
    const total = 300;
    const writes: Promise<unknown>[] = [];
    for (let i = 1; i <= total; i++) {
      writes.push(v.write(mkNeedle(BigInt(i), i, `fsync ${i}`), { fsync: true }).then(() => events.push(`ack:${i}`)));
    }
    await Promise.all(writes);
    const syncs = events.filter((e) => e === 'sync-end').length;
    assert.ok(syncs >= Math.ceil(total / 128), `at most 128 per batch (${syncs} syncs)`);
    assert.ok(syncs <= Math.ceil(total / 128) + 2, `batched, not one fsync per write (${syncs} syncs)`);
    let synced = false;
    let sinceSync = 0;
    for (const e of events) {
      if (e === 'sync-end') {
        synced = true;
        sinceSync = 0;
      } else if (e === 'sync-start') {
        synced = false;
      } else {
        assert.ok(synced, `${e} acknowledged before its batch was synced`);
        sinceSync++;
        assert.ok(sinceSync <= 128);
      }
    }
    for (let i = 1; i <= total; i += 37) assert.equal(Buffer.from((await v.readNeedle(BigInt(i))).data).toString(), `fsync ${i}`);

    // a failing fsync fails every request of its batch and cuts the batch off the .dat
    const before = v.datFileSize();
    dat.sync = async () => {
      throw new Error('EIO simulated');
    };
    const failing = [1001n, 1002n, 1003n].map((id) => v.write(mkNeedle(id, 1, 'lost'), { fsync: true }));
    for (const p of failing) await assert.rejects(p, /EIO simulated/);
    assert.equal(v.datFileSize(), before);
    assert.equal((await stat(join(dir, '7.dat'))).size, before);
    await assert.rejects(v.readNeedle(1001n), NeedleNotFoundError);
    dat.sync = realSync;
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('offset width mismatch is refused (via .vif, and via the index when the .vif is gone)', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir, { width: 5 });
    await writeMany(v, 3);
    await v.close();
    await assert.rejects(openVolume(dir, { width: 4 }), (e: unknown) => {
      assert.ok(e instanceof OffsetWidthMismatchError);
      assert.match(e.message, /BytesOffset mismatch in volume info file/);
      assert.match(e.message, /storage\.offsetBytes/);
      return true;
    });
    await unlink(join(dir, '7.vif'));
    await assert.rejects(openVolume(dir, { width: 4 }), (e: unknown) => {
      assert.ok(e instanceof OffsetWidthMismatchError);
      assert.match(e.message, /5-byte offsets/);
      assert.match(e.message, /WEED_OFFSET_BYTES/);
      return true;
    });
    assert.equal(await exists(join(dir, '7.vif')), false, 'a refused volume is not rewritten');
    const ok = await openVolume(dir, { width: 5 });
    assert.equal(ok.isReadOnly(), false);
    assert.equal(ok.fileCount(), 3);
    await ok.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('read-only mark is persisted in the .vif; deletes follow Go rules; writable again', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    await writeMany(v, 2);
    await v.markReadOnly(false, true);
    assert.match(await readFile(join(dir, '7.vif'), 'utf8'), /"readOnly": true/);
    await assert.rejects(v.write(mkNeedle(9n, 9, 'x')), VolumeReadOnlyError);
    await assert.rejects(v.delete(1n), VolumeReadOnlyError);
    await v.close();
    const r = await openVolume(dir);
    assert.equal(r.isReadOnly(), true);
    assert.equal(r.information().read_only, true);
    await r.markReadOnly(true, true); // read-only but deletes allowed
    assert.ok((await r.delete(1n)) > 0);
    await r.markWritable();
    assert.match(await readFile(join(dir, '7.vif'), 'utf8'), /"readOnly": false/);
    await r.write(mkNeedle(9n, 9, 'writable again'));
    await r.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('destroy removes every volume file including .note leftovers; onlyEmpty refuses', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir, { collection: 'c_x', id: 4 });
    await v.write(mkNeedle(1n, 1, 'data'));
    await assert.rejects(v.destroy({ onlyEmpty: true }), VolumeNotEmptyError);
    await writeFile(join(dir, 'c_x_4.note'), 'copy in progress');
    await v.destroy();
    for (const ext of ['dat', 'idx', 'vif', 'note']) assert.equal(await exists(join(dir, `c_x_4.${ext}`)), false, ext);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('separate index directory; .idx next to the .dat wins (Go backward compatibility)', async () => {
  const dir = await tempDir();
  const idxDir = await tempDir();
  try {
    const v = await Volume.create({ dir, idxDir, collection: '', id: 2, create: { replicaPlacement: ReplicaPlacement.parse(''), ttl: Ttl.EMPTY } });
    await v.write(mkNeedle(1n, 1, 'in idx dir'));
    await v.close();
    assert.equal(await exists(join(idxDir, '2.idx')), true);
    assert.equal(await exists(join(dir, '2.idx')), false);
    const r = await Volume.open({ dir, idxDir, collection: '', id: 2 });
    assert.equal(r.idxDir, idxDir);
    assert.equal(Buffer.from((await r.readNeedle(1n)).data).toString(), 'in idx dir');
    await r.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(idxDir, { recursive: true, force: true });
  }
});

test('.vif replication overrides the super block placement; .vif version/bytesOffset written on load', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    await v.close();
    const vif = JSON.parse(await readFile(join(dir, '7.vif'), 'utf8'));
    vif.replication = '010';
    await writeFile(join(dir, '7.vif'), JSON.stringify(vif));
    const r = await openVolume(dir);
    assert.equal(r.replicaPlacement.toString(), '010');
    assert.equal(r.information().replica_placement, 10);
    await r.close();
    await unlink(join(dir, '7.vif'));
    const r2 = await openVolume(dir);
    await r2.close();
    const again = JSON.parse(await readFile(join(dir, '7.vif'), 'utf8'));
    assert.equal(again.version, 3);
    assert.equal(again.bytesOffset, 4);
    assert.equal(again.replication, '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('4-byte offsets: legacy wrap-around read retries at offset + 32 GiB (sparse file)', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    await v.close();
    const n = mkNeedle(1n, 0x01020304, 'beyond 32 GiB');
    const { encodeNeedle } = await import('../../../core/storage/needle.js');
    const { idxEntryBytes } = await import('../../../core/storage/idx.js');
    const rec = encodeNeedle(n, 3);
    const { open: fopen } = await import('node:fs/promises');
    const dat = await fopen(join(dir, '7.dat'), 'r+');
    const at = 34_359_738_368 + 8;
    await dat.write(rec, 0, rec.length, at);
    await dat.close();
    await writeFile(join(dir, '7.idx'), idxEntryBytes(1n, 8, n.size, 4)); // offset wrapped to 8
    const r = await openVolume(dir);
    assert.equal(r.isReadOnly(), false, r.readOnlyReason);
    assert.equal(Buffer.from((await r.readNeedle(1n)).data).toString(), 'beyond 32 GiB');
    const meta = await r.readNeedleMeta(1n);
    assert.equal(meta.dataSize, 13);
    await r.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
