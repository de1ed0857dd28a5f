// The tiering family against a real S3 (the reference `weed mini` on 127.0.0.1): FetchAndWriteNeedle
// writes a remote range as a needle locally and on a replica, answers the needle's e-tag, maps a
// missing object to NOT_FOUND, and refuses a loopback endpoint unless the operator allowed it; the
// s3 tier backend uploads a file in parts, downloads it back and serves ranged reads of it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import { crc32c } from '../../../../core/storage/crc32c.js';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { emptyVolumeInfo } from '../../../../core/storage/volume-info.js';
import { TierBackends } from '../../../../plugins/tiering/backends.js';
import { BLOCK_SIZE } from '../../../../plugins/tiering/s3/s3-file.js';
import { volumeClient, type VolumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, tempDir, waitRegistered, type Master, type VolumeServer } from '../../../helpers/processes.js';
import { startWeedMini, type WeedMini } from '../../../helpers/weed-mini.js';

type Row = Record<string, unknown>;

describe('tiering against weed mini S3', { timeout: 300_000 }, () => {
  let mini: WeedMini;
  let master: Master;
  let a: VolumeServer;
  let b: VolumeServer;
  let strict: VolumeServer;
  let ca: VolumeClient;
  let cstrict: VolumeClient;
  const object = randomBytes(300_000);

  const remoteConf = () => ({
    name: 'it-s3',
    type: 's3',
    s3_access_key: 'admin',
    s3_secret_key: 'admin',
    s3_region: 'us-east-1',
    s3_endpoint: mini.endpoint,
    s3_force_path_style: true,
  });

  before(async () => {
    mini = await startWeedMini();
    await mini.createBucket('tiering-it');
    await mini.s3.send(new PutObjectCommand({ Bucket: 'tiering-it', Key: 'dir/object.bin', Body: object }));
    master = await startMaster(100);
    const open = ['--max', '10', '--volume.allowUntrustedRemoteEndpoints'];
    a = await startVolumeServer({ master: master.address, extraArgs: open });
    b = await startVolumeServer({ master: master.address, extraArgs: open });
    strict = await startVolumeServer({ master: master.address, extraArgs: ['--max', '10'] });
    await Promise.all([waitRegistered(master, a.port), waitRegistered(master, b.port), waitRegistered(master, strict.port)]);
    ca = volumeClient(a.grpcAddress);
    cstrict = volumeClient(strict.grpcAddress);
  });

  after(async () => {
    ca?.close();
    cstrict?.close();
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL'), strict?.stop('SIGKILL')]);
    await master?.stop('SIGKILL');
    await mini?.stop();
    for (const s of [a, b, strict]) if (s) cleanup(s.dir);
    if (master) cleanup(master.dir);
  });

  test('a remote range becomes a needle here and on the replica, with the CRC e-tag', async () => {
    const cb = volumeClient(b.grpcAddress);
    try {
      await ca.call('AllocateVolume', { volume_id: 21, collection: '', replication: '000', ttl: '', version: 3 });
      await cb.call('AllocateVolume', { volume_id: 21, collection: '', replication: '000', ttl: '', version: 3 });
    } finally {
      cb.close();
    }
    const offset = 12_345;
    const size = 100_000;
    const want = object.subarray(offset, offset + size);
    const r = await ca.call<Row>(
      'FetchAndWriteNeedle',
      {
        volume_id: 21,
        needle_id: '77',
        cookie: 0x1234abcd,
        offset: String(offset),
        size: String(size),
        replicas: [{ url: `127.0.0.1:${b.port}` }],
        remote_conf: remoteConf(),
        remote_location: { name: 'it-s3', bucket: 'tiering-it', path: '/dir/object.bin' },
      },
      30_000,
    );
    assert.equal(r.e_tag, (crc32c(want) >>> 0).toString(16).padStart(8, '0'));
    const fid = formatFileId(21, 77n, 0x1234abcd);
    for (const s of [a, b]) {
      const got = await rawRequest('GET', `${s.url}/${fid}`);
      assert.equal(got.status, 200, `${s.url}: ${got.body.toString()}`);
      assert.ok(got.body.equals(want), `${s.url} serves the fetched bytes`);
    }
  });

  test('a missing object answers NOT_FOUND with "read from remote"', async () => {
    await ca.call('AllocateVolume', { volume_id: 22, collection: '', replication: '000', ttl: '', version: 3 });
    await assert.rejects(
      ca.call('FetchAndWriteNeedle', {
        volume_id: 22,
        needle_id: '1',
        cookie: 1,
        size: '10',
        remote_conf: remoteConf(),
        remote_location: { name: 'it-s3', bucket: 'tiering-it', path: '/nope.bin' },
      }),
      (e: ServiceError) => e.code === GrpcStatus.NOT_FOUND && /read from remote .*remote object not found/.test(e.details),
    );
  });

  test('a size outside 1..256 MiB is refused without reading the remote or writing', async () => {
    await ca.call('AllocateVolume', { volume_id: 24, collection: '', replication: '000', ttl: '', version: 3 });
    for (const size of ['0', '-5', String(256 * 1024 * 1024 + 1), '9223372036854775807']) {
      await assert.rejects(
        ca.call('FetchAndWriteNeedle', {
          volume_id: 24,
          needle_id: '3',
          cookie: 3,
          size,
          remote_conf: remoteConf(),
          remote_location: { name: 'it-s3', bucket: 'tiering-it', path: '/dir/object.bin' },
        }),
        (e: ServiceError) => /read from remote .*invalid range/.test(e.details),
        size,
      );
    }
    assert.equal((await rawRequest('GET', `${a.url}/${formatFileId(24, 3n, 3)}`)).status, 404);
  });

  test('without the opt-out a loopback endpoint is refused before anything is written', async () => {
    await cstrict.call('AllocateVolume', { volume_id: 23, collection: '', replication: '000', ttl: '', version: 3 });
    await assert.rejects(
      cstrict.call('FetchAndWriteNeedle', {
        volume_id: 23,
        needle_id: '5',
        cookie: 5,
        size: '10',
        remote_conf: remoteConf(),
        remote_location: { name: 'it-s3', bucket: 'tiering-it', path: '/dir/object.bin' },
      }),
      (e: ServiceError) => /reject remote endpoint: .*resolves to loopback address 127\.0\.0\.1/.test(e.details),
    );
    const got = await rawRequest('GET', `${strict.url}/${formatFileId(23, 5n, 5)}`);
    assert.equal(got.status, 404);
  });

  test('the s3 tier backend uploads in parts, downloads back and serves ranged reads', async () => {
    await mini.createBucket('tier-backend');
    const backends = new TierBackends(pino({ level: 'silent' }));
    const dir = tempDir('ts-weed-tier-');
    try {
      backends.load([
        {
          type: 's3',
          id: 'default',
          properties: { aws_access_key_id: 'admin', aws_secret_access_key: 'admin', region: 'us-east-1', bucket: 'tier-backend', endpoint: mini.endpoint, storage_class: 'STANDARD' },
        },
      ]);
      const backend = backends.get('s3')!;
      // three parts of 8 MiB and a tail: a real multipart upload
      const data = randomBytes(8 * 1024 * 1024 * 2 + 123_457);
      const src = join(dir, 'src.dat');
      writeFileSync(src, data);
      const seen: number[] = [];
      const { key, size } = await backend.copyFile(src, (p) => void seen.push(p), 0);
      assert.equal(size, data.length);
      assert.equal(seen.at(-1), data.length, 'progress ends at the file size');

      const back = join(dir, 'back.dat');
      assert.equal(await backend.downloadFile(back, key, () => undefined), data.length);
      assert.ok(readFileSync(back).equals(data));

      const info = emptyVolumeInfo();
      info.files.push({ backendType: 's3', backendId: 'default', key, offset: 0, fileSize: data.length, modifiedTime: 1_700_000_000, extension: '.dat' });
      const f = backend.newStorageFile(`/${key}`, info);
      assert.deepEqual(await f.stat(), { size: data.length, mtimeMs: 1_700_000_000_000 });
      for (const [pos, len] of [
        [0, 8],
        [BLOCK_SIZE - 3, 10], // across two cached blocks
        [5_000_000, BLOCK_SIZE * 3], // a large read straight from S3
        [data.length - 5, 20], // short at the end
      ]) {
        const buf = Buffer.alloc(len);
        const n = await f.readAt(buf, 0, len, pos);
        const expect = data.subarray(pos, pos + len);
        assert.equal(n, expect.length, `read at ${pos}`);
        assert.ok(buf.subarray(0, n).equals(expect), `bytes at ${pos}`);
      }
      assert.equal(await f.readAt(Buffer.alloc(4), 0, 4, data.length), 0, 'nothing past the end');
      await assert.rejects(f.writeAt(Buffer.alloc(1), 0, 1, 0), /read-only/);

      await backend.deleteFile(key);
      const g = backend.newStorageFile(key, info);
      await assert.rejects(g.readAt(Buffer.alloc(4), 0, 4, 0), /GetObject/);
    } finally {
      backends.close();
      cleanup(dir);
    }
  });
});
