// Volume.writeFromFile: a needle whose data is a file's content is appended exactly as write()
// would append it (byte-identical record), with write()'s semantics (unchanged, cookie, read-only,
// fsync batching) and no partial record left behind on failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Volume, FILE_COPY_CHUNK } from '../../../core/storage/volume.js';
import {
  FLAG_HAS_LAST_MODIFIED_DATE,
  FLAG_HAS_MIME,
  FLAG_HAS_NAME,
  FLAG_HAS_PAIRS,
  FLAG_HAS_TTL,
  encodeNeedle,
  newNeedle,
  type Needle,
} from '../../../core/storage/needle.js';
import { crc32c } from '../../../core/storage/crc32c.js';
import { readIndexEntries } from '../../../core/storage/idx.js';
import { CookieMismatchError, StorageIoError, VolumeReadOnlyError } from '../../../core/storage/storage-errors.js';
import { ReplicaPlacement, Ttl, type OffsetWidth, type Version } from '../../../core/storage/types.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vol-wff-test-'));
}

function createVolume(dir: string, version: Version = 3, width: OffsetWidth = 4, ttl = '') {
  return Volume.create({
    dir,
    collection: '',
    id: 9,
    offsetWidth: width,
    create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.parse(ttl), version },
  });
}

/** A needle without data. `ttl` only where reads can honour it (v2 has no append time: a TTL needle reads as expired). */
function meta(id: bigint, cookie: number, ttl = true): Needle {
  return newNeedle({
    id,
    cookie,
    flags: FLAG_HAS_NAME | FLAG_HAS_MIME | FLAG_HAS_LAST_MODIFIED_DATE | (ttl ? FLAG_HAS_TTL : 0) | FLAG_HAS_PAIRS,
    name: 'big.bin',
    mime: 'application/x-big',
    pairs: '{"Owner":"me"}',
    lastModified: 1_700_000_000,
    ttl: Ttl.parse('5d'),
    checksum: 0,
  });
}

async function spool(dir: string, data: Buffer): Promise<{ path: string; dataSize: number; checksum: number }> {
  const path = join(dir, `.upload-${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(path, data);
  return { path, dataSize: data.length, checksum: crc32c(data) };
}

async function readDat(v: Volume, offset: number, length: number): Promise<Buffer> {
  const fh = await open(v.fileName('.dat'), 'r');
  try {
    const b = Buffer.alloc(length);
    await fh.read(b, 0, length, offset);
    return b;
  } finally {
    await fh.close();
  }
}

for (const [version, width] of [
  [3, 4],
  [3, 5],
  [2, 4],
  [1, 4],
] as [Version, OffsetWidth][]) {
  test(`writeFromFile v${version} (${width}-byte offsets): the record equals encodeNeedle's, reads back, survives a reopen`, async () => {
    const dir = await tempDir();
    try {
      let v = await createVolume(dir, version, width);
      // something before it, so the record lands at an unaligned-then-aligned end
      await v.write(newNeedle({ id: 1n, cookie: 1, data: Buffer.from('first') }));
      const data = randomBytes(FILE_COPY_CHUNK * 2 + 12345); // several copy chunks, odd length
      const src = await spool(dir, data);
      const n = meta(2n, 0x1234, version !== 2);
      const r = await v.writeFromFile(n, src);
      assert.equal(r.unchanged, false);
      assert.equal(r.dataSize, data.length);
      assert.equal(n.checksum, crc32c(data));
      const same = meta(2n, 0x1234, version !== 2);
      same.data = data;
      same.checksum = crc32c(data);
      same.appendAtNs = n.appendAtNs;
      const want = encodeNeedle(same, version);
      assert.equal(r.size, same.size);
      assert.equal(v.datFileSize(), r.offset + want.length);
      const onDisk = await readDat(v, r.offset, want.length);
      const firstDiff = onDisk.findIndex((b, i) => b !== want[i]);
      assert.equal(firstDiff, -1, `record differs from byte ${firstDiff} of ${want.length}`);
      const got = await v.readNeedle(2n, { cookie: 0x1234 });
      assert.ok(Buffer.from(got.data).equals(data));
      const rows = await readIndexEntries(v.fileName('.idx'), width);
      assert.deepEqual(rows.at(-1), { id: 2n, offset: r.offset, size: r.size });
      assert.equal(v.fileCount(), 2);
      await v.close();
      v = await Volume.open({ dir, collection: '', id: 9, offsetWidth: width });
      assert.equal(v.readOnlyReason, '');
      assert.ok(Buffer.from((await v.readNeedle(2n)).data).equals(data));
      await v.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('writeFromFile: unchanged rewrites (also after a write()) are detected by streaming; changed ones append', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    const data = randomBytes(3 * 1024 * 1024 + 7);
    const first = await v.writeFromFile(meta(5n, 77), await spool(dir, data));
    const size = v.datFileSize();
    const again = await v.writeFromFile(meta(5n, 77), await spool(dir, data));
    assert.equal(again.unchanged, true);
    assert.equal(again.offset, first.offset);
    assert.equal(again.size, first.size);
    assert.equal(v.datFileSize(), size);
    // same length, same checksum impossible to fake cheaply: a flipped last byte changes the CRC
    const other = Buffer.from(data);
    other[other.length - 1] ^= 1;
    const changed = await v.writeFromFile(meta(5n, 77), await spool(dir, other));
    assert.equal(changed.unchanged, false);
    assert.ok(v.datFileSize() > size);
    // a needle stored by write() is recognised too
    const small = randomBytes(1000);
    await v.write(newNeedle({ id: 6n, cookie: 8, data: small }));
    const viaFile = await v.writeFromFile(newNeedle({ id: 6n, cookie: 8 }), await spool(dir, small));
    assert.equal(viaFile.unchanged, true);
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeFromFile: a TTL volume never treats a rewrite as unchanged (Go)', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir, 3, 4, '1d');
    const data = randomBytes(100_000);
    await v.writeFromFile(meta(5n, 77), await spool(dir, data));
    const again = await v.writeFromFile(meta(5n, 77), await spool(dir, data));
    assert.equal(again.unchanged, false);
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeFromFile: cookie mismatch refused; read-only refused; nothing appended', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    await v.writeFromFile(meta(5n, 77), await spool(dir, randomBytes(5000)));
    const size = v.datFileSize();
    await assert.rejects(v.writeFromFile(meta(5n, 78), await spool(dir, randomBytes(5000))), CookieMismatchError);
    assert.equal(v.datFileSize(), size);
    await v.markReadOnly();
    await assert.rejects(v.writeFromFile(meta(6n, 1), await spool(dir, randomBytes(10))), VolumeReadOnlyError);
    assert.equal(v.datFileSize(), size);
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeFromFile: a failure mid-copy truncates the .dat back (bad checksum, short file, missing file)', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    await v.write(newNeedle({ id: 1n, cookie: 1, data: Buffer.from('odd') }));
    const size = v.datFileSize();
    const idxSize = v.idxFileSize();
    const data = randomBytes(FILE_COPY_CHUNK + 999);
    const bad = await spool(dir, data);
    bad.checksum = (bad.checksum + 1) >>> 0;
    await assert.rejects(v.writeFromFile(meta(2n, 2), bad), StorageIoError);
    assert.equal(v.datFileSize(), size);
    assert.equal((await stat(v.fileName('.dat'))).size, size);
    const short = await spool(dir, data);
    short.dataSize += 10;
    await assert.rejects(v.writeFromFile(meta(2n, 2), short), /unexpected EOF/);
    assert.equal((await stat(v.fileName('.dat'))).size, size);
    await assert.rejects(v.writeFromFile(meta(2n, 2), { path: join(dir, 'nope'), dataSize: 5, checksum: 0 }), StorageIoError);
    assert.equal((await stat(v.fileName('.dat'))).size, size);
    assert.equal(v.idxFileSize(), idxSize);
    assert.equal(v.lookup(2n), undefined);
    // still writable, and the next record is intact
    const ok = await v.writeFromFile(meta(2n, 2), await spool(dir, data));
    assert.ok(Buffer.from((await v.readNeedle(2n)).data).equals(data));
    assert.equal(ok.unchanged, false);
    await v.close();
    const re = await Volume.open({ dir, collection: '', id: 9, offsetWidth: 4 });
    assert.equal(re.readOnlyReason, '');
    assert.equal(re.fileCount(), 2);
    await re.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeFromFile: fsync writes are batched with write()s; concurrent writes are serialised', async () => {
  const dir = await tempDir();
  try {
    const v = await createVolume(dir);
    const blobs = Array.from({ length: 6 }, (_, i) => randomBytes(200_000 + i));
    const srcs = await Promise.all(blobs.map((b) => spool(dir, b)));
    const results = await Promise.all([
      ...srcs.map((s, i) => v.writeFromFile(meta(BigInt(10 + i), 3), s, { fsync: i % 2 === 0 })),
      v.write(newNeedle({ id: 99n, cookie: 3, data: Buffer.from('small') }), { fsync: true }),
    ]);
    assert.equal(results.filter((r) => r.unchanged).length, 0);
    for (let i = 0; i < blobs.length; i++) {
      assert.ok(Buffer.from((await v.readNeedle(BigInt(10 + i))).data).equals(blobs[i]));
    }
    assert.equal(v.fileCount(), 7);
    const ends = results.map((r) => r.offset).sort((a, b) => a - b);
    for (let i = 1; i < ends.length; i++) assert.ok(ends[i] > ends[i - 1]);
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
