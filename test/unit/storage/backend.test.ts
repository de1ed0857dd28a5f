import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasSyncIo } from '../../../core/storage/backend/backend-file.js';
import { DISK_BACKEND_TYPE, DiskFile } from '../../../core/storage/backend/disk-file.js';
import { BackendRegistry, backendRegistry } from '../../../core/storage/backend/registry.js';
import { newNeedle } from '../../../core/storage/needle.js';
import { ReplicaPlacement, Ttl } from '../../../core/storage/types.js';
import { emptyVolumeInfo, loadVolumeInfo, saveVolumeInfo, type RemoteFile } from '../../../core/storage/volume-info.js';
import { Volume } from '../../../core/storage/volume.js';

function remoteFile(over: Partial<RemoteFile> = {}): RemoteFile {
  return { backendType: 's3', backendId: 'default', key: 'bucket/7.dat', offset: 0, fileSize: 0, modifiedTime: 0, extension: '.dat', ...over };
}

test('local disk backend: write, read, size, sync, truncate round trip (async and sync variants)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'disk-file-'));
  try {
    const path = join(dir, 'x.dat');
    const f = await DiskFile.open(path, 'create');
    assert.equal(f.type, DISK_BACKEND_TYPE);
    assert.equal(f.name, path);
    assert.ok(hasSyncIo(f));
    const a = randomBytes(5000);
    await f.writeAt(a, 0, a.length, 0);
    const b = randomBytes(300);
    f.writeAtSync(b, 0, b.length, 8192); // leaves a hole, as an aligned append may
    await f.sync();
    assert.equal((await f.stat()).size, 8192 + 300);
    assert.equal(statSync(path).size, 8192 + 300);

    const got = Buffer.alloc(5000);
    assert.equal(await f.readAt(got, 0, 5000, 0), 5000);
    assert.deepEqual(got, a);
    const gotSync = Buffer.alloc(300);
    assert.equal(f.readAtSync(gotSync, 0, 300, 8192), 300);
    assert.deepEqual(gotSync, b);
    // reads past the end come back short, not as an error (io.ReaderAt)
    const tail = Buffer.alloc(100);
    assert.equal(await f.readAt(tail, 0, 100, 8192 + 250), 50);
    assert.equal(f.readAtSync(tail, 0, 100, 9000), 0);

    await f.truncate(4000);
    assert.equal((await f.stat()).size, 4000);
    f.truncateSync(1000);
    assert.equal((await f.stat()).size, 1000);
    await f.close();
    assert.deepEqual(readFileSync(path), a.subarray(0, 1000));

    const ro = await DiskFile.open(path, 'r');
    await assert.rejects(ro.writeAt(b, 0, b.length, 0), { code: 'EBADF' });
    await ro.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('backend registry: no factory for the type refuses with the remote-tiered error; unregister removes it', async () => {
  const reg = new BackendRegistry();
  const info = { ...emptyVolumeInfo(), files: [remoteFile()] };
  await assert.rejects(reg.openRemote(7, info), {
    code: 'VOLUME_INFO',
    message: 'volume 7 is tiered to s3.default as bucket/7.dat; remote-tiered volumes are not supported',
  });
  const unregister = reg.register('s3', { open: async () => assert.fail('not reached') });
  assert.ok(reg.has('s3'));
  unregister();
  assert.ok(!reg.has('s3'));
  assert.ok(!backendRegistry.has('s3'), 'the process-wide registry starts empty');
});

test('Volume.open of a volume whose .vif names a remote file: refused without a factory, served through one when registered', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'remote-vol-'));
  try {
    const v = await Volume.create({ dir, collection: 'c', id: 7, create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.EMPTY } });
    const data = randomBytes(2000);
    await v.write(newNeedle({ id: 1n, cookie: 5, data }));
    const info = v.information();
    await v.close();
    assert.equal(info.remote_storage_name, '');

    // the .dat moves to the "remote store" (another directory); the .vif names it
    const storeDir = mkdtempSync(join(tmpdir(), 'remote-store-'));
    await rename(join(dir, 'c_7.dat'), join(storeDir, 'c_7.dat'));
    const vifPath = join(dir, 'c_7.vif');
    const vi = (await loadVolumeInfo(vifPath)).info;
    vi.files = [remoteFile({ backendType: 'testremote', key: 'c_7.dat', fileSize: info.size })];
    await saveVolumeInfo(vifPath, vi);

    await assert.rejects(Volume.open({ dir, collection: 'c', id: 7 }), {
      code: 'VOLUME_INFO',
      message: 'volume 7 is tiered to testremote.default as c_7.dat; remote-tiered volumes are not supported',
    });

    // a backend that serves the file from the store directory, without synchronous I/O
    const reg = new BackendRegistry();
    const opened: string[] = [];
    reg.register('testremote', {
      async open(file) {
        opened.push(file.key);
        const f = await DiskFile.open(join(storeDir, file.key), 'r');
        return {
          type: 'testremote',
          name: file.key,
          readAt: (b, o, l, p) => f.readAt(b, o, l, p),
          writeAt: (b, o, l, p) => f.writeAt(b, o, l, p),
          truncate: (s) => f.truncate(s),
          stat: () => f.stat(),
          sync: () => f.sync(),
          close: () => f.close(),
        };
      },
    });
    const t = await Volume.open({ dir, collection: 'c', id: 7, backends: reg });
    try {
      assert.deepEqual(opened, ['c_7.dat']);
      const n = await t.readNeedle(1n, { cookie: 5 });
      assert.deepEqual(Buffer.from(n.data), data);
      assert.equal(t.readNeedleSync(1n, { cookie: 5 }), undefined, 'no synchronous reads from a remote file');
      const ti = t.information();
      assert.equal(ti.remote_storage_name, 'testremote.default');
      assert.equal(ti.remote_storage_key, 'c_7.dat');
      assert.equal(ti.size, info.size);
      assert.equal(ti.read_only, true);
      assert.deepEqual(t.readOnlyReasons(), { readOnly: true, noWriteOrDelete: false, noWriteCanDelete: true, diskSpaceLow: false });
      await assert.rejects(t.write(newNeedle({ id: 2n, cookie: 5, data: Buffer.from('x') })), { code: 'VOLUME_READ_ONLY' });
    } finally {
      await t.close();
      rmSync(storeDir, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
