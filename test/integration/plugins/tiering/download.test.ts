// The s3 tier backend's download (plugins/tiering/s3/object-download.ts: its own signed ranged GETs
// written straight into the file, in a transfer thread) against a real S3 (`weed mini`), directly
// and through a loopback proxy that cuts, fails or re-frames the GET answers: the file comes back
// byte for byte whatever the size (empty, one byte, several parts and a tail), a cut body resumes
// where it stopped, a 500 is tried again, and what cannot work fails with S3's own error. The
// upload runs in the same kind of thread: its progress and a stop by the caller are checked here,
// and so are the block-cached ranged GETs of a tiered volume's reads (plugins/tiering/s3/s3-file.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import { emptyVolumeInfo } from '../../../../core/storage/volume-info.js';
import { TierBackends } from '../../../../plugins/tiering/backends.js';
import type { S3BackendStorage } from '../../../../plugins/tiering/s3/s3-backend.js';
import { BLOCK_SIZE } from '../../../../plugins/tiering/s3/s3-file.js';
import { downloadObject } from '../../../../plugins/tiering/s3/s3-transfer.js';
import { cleanup, tempDir } from '../../../helpers/processes.js';
import { startWeedMini, type WeedMini } from '../../../helpers/weed-mini.js';
import { startS3Proxy, type S3Proxy } from './tier-env.js';

const MiB = 1024 * 1024;
const BUCKET = 'tier-download';
/** Parts smaller than the default 64 MiB, so a test object of a few dozen MiB spans several. */
const PART = 16 * MiB;
/** Sizes that make several parts and several flushes (datasyncs during the writes) of the test object. */
const SMALL = { partSize: PART, flushEvery: 4 * MiB };

describe('tier download against weed mini S3', { timeout: 240_000 }, () => {
  let mini: WeedMini;
  let proxy: S3Proxy;
  let backends: TierBackends;
  let direct: S3BackendStorage;
  let proxied: S3BackendStorage;
  let badcreds: S3BackendStorage;
  let dir: string;
  // three 16 MiB parts and a tail (one part and its tail at the default size)
  const big = randomBytes(3 * PART + 123_457);

  const props = (endpoint: string, secret = 'admin') => ({ aws_access_key_id: 'admin', aws_secret_access_key: secret, region: 'us-east-1', bucket: BUCKET, endpoint, storage_class: 'STANDARD' });

  before(async () => {
    mini = await startWeedMini();
    await mini.createBucket(BUCKET);
    proxy = await startS3Proxy(mini.endpoint);
    backends = new TierBackends(pino({ level: 'silent' }));
    backends.load([
      { type: 's3', id: 'default', properties: props(mini.endpoint) },
      { type: 's3', id: 'proxied', properties: props(proxy.endpoint) },
      { type: 's3', id: 'badcreds', properties: props(mini.endpoint, 'wrong-secret') },
    ]);
    direct = backends.get('s3.default') as S3BackendStorage;
    proxied = backends.get('s3.proxied') as S3BackendStorage;
    badcreds = backends.get('s3.badcreds') as S3BackendStorage;
    dir = tempDir('ts-weed-tier-dl-');
    await mini.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'big.dat', Body: big }));
    await mini.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'empty.dat', Body: Buffer.alloc(0) }));
    await mini.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'one.dat', Body: Buffer.from('x') }));
    await mini.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/odd name+(1).dat', Body: big.subarray(0, 5000) }));
  });

  after(async () => {
    backends?.close();
    await proxy?.close();
    await mini?.stop();
    if (dir) cleanup(dir);
  });

  test('any size comes back byte for byte, progress growing to the size', async () => {
    for (const [key, data] of [
      ['big.dat', big],
      ['empty.dat', Buffer.alloc(0)],
      ['one.dat', Buffer.from('x')],
      ['dir/odd name+(1).dat', big.subarray(0, 5000)],
    ] as const) {
      const path = join(dir, 'back.dat');
      writeFileSync(path, 'stale bytes the download replaces, longer than one byte');
      const seen: number[] = [];
      assert.equal(await direct.downloadFile(path, key, (p) => void seen.push(p), 3), data.length, key);
      assert.ok(readFileSync(path).equals(data), `${key}: the bytes`);
      assert.equal(seen.at(-1), data.length, `${key}: progress ends at the size`);
      assert.ok(
        seen.every((p, i) => i === 0 || p > seen[i - 1]),
        `${key}: progress grows (${seen.join(',')})`,
      );
    }
  });

  test('an object of several parts and a tail, flushed to disk as it comes, comes back byte for byte', async () => {
    const path = join(dir, 'parts.dat');
    const seen: number[] = [];
    assert.equal(await downloadObject(direct.objectTarget('big.dat'), path, (p) => void seen.push(p), 3, SMALL), big.length);
    assert.ok(readFileSync(path).equals(big), 'the bytes');
    assert.equal(seen.at(-1), big.length, 'progress ends at the size');
  });

  test('a body cut short resumes where it stopped; a 500 is tried again', async () => {
    const path = join(dir, 'cut.dat');
    const from = proxy.seen.length;
    proxy.cutAfterBytes = 3 * MiB + 1000;
    proxy.cutGets = 2;
    try {
      assert.equal(await downloadObject(proxied.objectTarget('big.dat'), path, () => undefined, 2, SMALL), big.length);
    } finally {
      proxy.cutGets = 0;
    }
    assert.ok(readFileSync(path).equals(big), 'the bytes after two cut answers');
    // 4 parts (2 at once), the first two cut: each asked for again from where its bytes stopped
    const ranges = proxy.seen.slice(from).map((s) => / bytes=(\d+)-/.exec(s)?.[1]);
    const resumedAt = ranges.map(Number).filter((at) => at % PART !== 0);
    assert.deepEqual(resumedAt.sort((x, y) => x - y), [3 * MiB + 1000, PART + 3 * MiB + 1000], proxy.seen.slice(from).join('\n'));

    const again = join(dir, 'retried.dat');
    proxy.failGets = 2;
    try {
      assert.equal(await proxied.downloadFile(again, 'big.dat', () => undefined, 2), big.length);
    } finally {
      proxy.failGets = 0;
    }
    assert.ok(readFileSync(again).equals(big), 'the bytes after two 500s');
  });

  test('what cannot work fails with the reason: a 500 every time, no object, wrong keys, no Content-Length', async () => {
    const path = join(dir, 'fail.dat');
    proxy.failGets = 1000;
    try {
      await assert.rejects(proxied.downloadFile(path, 'big.dat', () => undefined), /^Error: failed to download file big\.dat: InternalError: injected failure \(status 500\)/);
    } finally {
      proxy.failGets = 0;
    }
    await assert.rejects(direct.downloadFile(path, 'no-such.dat', () => undefined), /failed to download file no-such\.dat: NoSuchKey: .*\(status 404\)/);
    await assert.rejects(badcreds.downloadFile(path, 'big.dat', () => undefined), /SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId/);
    proxy.chunkedGets = true;
    try {
      await assert.rejects(proxied.downloadFile(path, 'big.dat', () => undefined), /without a Content-Length/);
    } finally {
      proxy.chunkedGets = false;
    }
  });

  test('a failing progress callback stops the download with its error', async () => {
    const path = join(dir, 'stopped.dat');
    const gone = new Error('the caller went away');
    let calls = 0;
    // paced so the transfer lasts long enough to report progress before it ends
    proxy.responseDelayMsPerMiB = 20;
    try {
      await assert.rejects(
        proxied.downloadFile(
          path,
          'big.dat',
          () => {
            calls++;
            throw gone;
          },
          2,
        ),
        (e: Error) => e.cause === gone,
      );
    } finally {
      proxy.responseDelayMsPerMiB = 0;
    }
    assert.equal(calls, 1, 'no progress is reported after the callback failed');
    // the connections it used are gone and a new download works
    assert.equal(await proxied.downloadFile(path, 'one.dat', () => undefined), 1);
  });

  test('a tiered file reads through a cache of 256 KiB blocks: one GET per block missed, also for two reads at once; large reads go straight', async () => {
    const info = emptyVolumeInfo();
    info.files.push({ backendType: 's3', backendId: 'proxied', key: 'big.dat', offset: 0, fileSize: big.length, modifiedTime: 1, extension: '.dat' });
    const f = proxied.newStorageFile('big.dat', info);
    const allGets = () => proxy.seen.filter((x) => x.startsWith('GET /'));
    const from = allGets().length;
    const ranges = () => allGets().slice(from).map((x) => x.split(' ').at(-1));
    const read = async (pos: number, len: number) => {
      const buf = Buffer.alloc(len);
      const n = await f.readAt(buf, 0, len, pos);
      assert.ok(buf.subarray(0, n).equals(big.subarray(pos, pos + len)), `bytes at ${pos}`);
      return n;
    };
    await Promise.all([read(1000, 1100), read(1000, 1100)]);
    await read(5000, 64);
    assert.deepEqual(ranges(), [`bytes=0-${BLOCK_SIZE - 1}`], 'one GET of the block for three reads in it');
    await read(BLOCK_SIZE - 3, 10);
    assert.deepEqual(ranges().slice(1), [`bytes=${BLOCK_SIZE}-${2 * BLOCK_SIZE - 1}`], 'a read across two blocks fetches only the one missing');
    const last = Math.floor((big.length - 5) / BLOCK_SIZE) * BLOCK_SIZE;
    assert.equal(await read(big.length - 5, 20), 5, 'short at the end');
    await read(2 * MiB, 3 * MiB);
    assert.deepEqual(ranges().slice(2), [`bytes=${last}-${big.length - 1}`, `bytes=${2 * MiB}-${5 * MiB - 1}`]);
    await f.close();
  });

  test('an upload (run in its own thread too) comes back byte for byte; a failing progress callback stops another with its error', async () => {
    const source = join(dir, 'up.dat');
    writeFileSync(source, big);
    const seen: number[] = [];
    const { key, size } = await direct.copyFile(source, (p) => void seen.push(p), 2);
    assert.equal(size, big.length);
    assert.equal(seen.at(-1), big.length, 'progress ends at the size');
    const back = join(dir, 'up-back.dat');
    assert.equal(await direct.downloadFile(back, key, () => undefined), big.length);
    assert.ok(readFileSync(back).equals(big), 'the object holds the file');

    const gone = new Error('the caller went away');
    let calls = 0;
    await assert.rejects(
      direct.copyFile(
        source,
        () => {
          calls++;
          throw gone;
        },
        2,
      ),
      (e: Error) => e.cause === gone,
    );
    assert.equal(calls, 1, 'no progress is reported after the callback failed');
  });
});
