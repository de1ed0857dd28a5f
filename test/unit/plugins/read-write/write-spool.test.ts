// Upload spooling: SpoolFile computes size/CRC/MD5/head/tail in the write pass; BodyCollector keeps
// small bodies in memory and spills large ones; failures and discards leave no file behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { crc32c } from '../../../../core/storage/crc32c.js';
import {
  BodyCollector,
  SpoolFile,
  gzipSpool,
  gzipTrailerSizeOf,
  md5OfGunzippedFile,
  removeStaleSpoolFiles,
} from '../../../../plugins/read-write/http/upload-spool.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'spool-test-'));
}

function pieces(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = Math.min(data.length - i, 1 + Math.floor(Math.random() * 300_000));
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

test('SpoolFile: content, size, CRC-32C, MD5, head and tail from odd-sized appends', async () => {
  const dir = await tempDir();
  try {
    const data = randomBytes(5 * 1024 * 1024 + 3);
    const f = await SpoolFile.create([join(dir, 'missing'), dir], true);
    assert.ok(f.path.startsWith(dir + '/.upload-'), 'falls back to the next directory');
    for (const c of [data.subarray(0, 1), data.subarray(1, 3), ...pieces(data.subarray(3))]) {
      const p = f.append(c);
      if (p) await p;
    }
    await f.finish();
    assert.equal(f.size, data.length);
    assert.equal(f.checksum, crc32c(data));
    assert.equal(f.md5Base64(), createHash('md5').update(data).digest('base64'));
    assert.deepEqual(f.head, data.subarray(0, 512));
    assert.deepEqual(f.tail, data.subarray(data.length - 4));
    assert.ok((await readFile(f.path)).equals(data));
    await f.remove();
    await f.remove();
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SpoolFile: a tail from appends shorter than four bytes', async () => {
  const dir = await tempDir();
  try {
    const f = await SpoolFile.create([dir], false);
    for (const b of [[1, 2, 3], [4], [5, 6]]) assert.equal(f.append(Buffer.from(b)), undefined);
    await f.finish();
    assert.deepEqual([...f.tail], [3, 4, 5, 6]);
    assert.equal(f.md5Base64(), '');
    await f.remove();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('BodyCollector: in memory up to the threshold, spooled past it, over-limit throws', async () => {
  const dir = await tempDir();
  try {
    const target = { dirs: [dir], threshold: 1000 };
    const small = new BodyCollector(target, 10_000, () => new Error('over'), { wantMd5: false, copyChunks: false });
    small.push(Buffer.alloc(600, 1));
    small.push(Buffer.alloc(400, 2));
    const s = await small.end();
    assert.equal(s.spool, undefined);
    assert.equal(s.data.length, 1000);

    const big = new BodyCollector(target, 10_000, () => new Error('over'), { wantMd5: true, copyChunks: true });
    const data = randomBytes(5000);
    for (const c of [data.subarray(0, 700), data.subarray(700, 1200), data.subarray(1200)]) {
      const p = big.push(c);
      if (p) await p;
    }
    const b = await big.end();
    assert.ok(b.spool);
    assert.equal(b.data.length, 0);
    assert.ok((await readFile(b.spool.path)).equals(data));
    assert.equal(b.spool.md5Base64(), createHash('md5').update(data).digest('base64'));
    await b.spool.remove();

    const over = new BodyCollector(target, 3000, () => new Error('over'), { wantMd5: false, copyChunks: false, spoolFromStart: true });
    await over.push(Buffer.alloc(2000));
    assert.equal((await readdir(dir)).length, 1);
    assert.throws(() => over.push(Buffer.alloc(1001)), /over/);
    await over.discard();
    assert.deepEqual(await readdir(dir), []);

    const noTarget = new BodyCollector(undefined, 1 << 30, () => new Error('over'), { wantMd5: false, copyChunks: false });
    assert.equal(noTarget.push(Buffer.alloc(5 << 20)), undefined);
    assert.equal((await noTarget.end()).spool, undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('gzip helpers: trailer size, streamed inflate MD5, streamed gzip of a spool file', async () => {
  const dir = await tempDir();
  try {
    const text = Buffer.from('hello spooled world\n'.repeat(50_000));
    const gz = gzipSync(text);
    assert.equal(gzipTrailerSizeOf(gz.subarray(0, 512), gz.subarray(gz.length - 4), gz.length), text.length);
    assert.equal(gzipTrailerSizeOf(Buffer.from('plain'), Buffer.from('abcd'), 100), undefined);
    const p = join(dir, 'x.gz');
    await writeFile(p, gz);
    assert.deepEqual(await md5OfGunzippedFile(p, 1 << 30), { md5: createHash('md5').update(text).digest('base64'), size: text.length });
    assert.equal(await md5OfGunzippedFile(p, 1000), undefined);
    await writeFile(p, text);
    assert.equal(await md5OfGunzippedFile(p, 1 << 30), undefined);

    const src = await SpoolFile.create([dir], false);
    await src.append(text);
    await src.finish();
    const out = await gzipSpool(src, [dir]);
    const stored = await readFile(out.path);
    assert.deepEqual(stored, gzipSync(text), 'same bytes as the in-memory gzip');
    assert.equal(out.checksum, crc32c(stored));
    assert.equal(out.size, stored.length);
    await src.remove();
    await out.remove();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('removeStaleSpoolFiles: only spool files older than the cut-off', async () => {
  const dir = await tempDir();
  try {
    const old = join(dir, `.upload-${'a'.repeat(24)}.tmp`);
    const fresh = join(dir, `.upload-${'b'.repeat(24)}.tmp`);
    const other = join(dir, 'keep.tmp');
    for (const p of [old, fresh, other]) await writeFile(p, 'x');
    const past = new Date(Date.now() - 3600_000);
    await utimes(old, past, past);
    await utimes(other, past, past);
    assert.equal(await removeStaleSpoolFiles([dir, join(dir, 'missing')], Date.now() - 60_000), 1);
    assert.deepEqual((await readdir(dir)).sort(), ['.upload-' + 'b'.repeat(24) + '.tmp', 'keep.tmp']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
