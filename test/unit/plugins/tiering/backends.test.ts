// The tier backend table (Go's BackendStorages): names, announcements from the master, rebuilds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { emptyVolumeInfo } from '../../../../core/storage/volume-info.js';
import { backendNameToTypeId, TierBackends } from '../../../../plugins/tiering/backends.js';
import { S3BackendStorageFile } from '../../../../plugins/tiering/s3/s3-file.js';

test('backend names split as Go: plain type is the default id, more than one dot is invalid', () => {
  assert.deepEqual(backendNameToTypeId('s3'), { type: 's3', id: 'default' });
  assert.deepEqual(backendNameToTypeId('s3.cold'), { type: 's3', id: 'cold' });
  assert.deepEqual(backendNameToTypeId('a.b.c'), { type: '', id: '' });
});

test('announced s3 backends are known by type.id, the default also by type; unknown types are skipped', () => {
  const t = new TierBackends(pino({ level: 'silent' }));
  try {
    const added = t.load([
      { type: 's3', id: 'default', properties: { bucket: 'b1', region: 'us-east-1', endpoint: 'http://127.0.0.1:1' } },
      { type: 's3', id: 'cold', properties: { bucket: 'b2', storage_class: 'GLACIER', force_path_style: 'false' } },
      { type: 'rclone', id: 'default', properties: {} },
    ]);
    assert.equal(added, 2);
    assert.deepEqual(t.names(), ['s3', 's3.cold', 's3.default']);
    assert.equal(t.get('s3'), t.get('s3.default'));
    assert.equal(t.get('s3.default')?.storageClass, 'STANDARD_IA');
    assert.equal(t.get('s3.cold')?.storageClass, 'GLACIER');
    assert.equal(t.get('s3.cold')?.forcePathStyle, false);
    assert.equal(t.get('rclone'), undefined);

    // the same announcement keeps the backend; changed settings rebuild it
    const before = t.get('s3.cold');
    assert.equal(t.load([{ type: 's3', id: 'cold', properties: { bucket: 'b2', storage_class: 'GLACIER', force_path_style: 'false' } }]), 0);
    assert.equal(t.get('s3.cold'), before);
    assert.equal(t.load([{ type: 's3', id: 'cold', properties: { bucket: 'b3' } }]), 1);
    assert.notEqual(t.get('s3.cold'), before);
    assert.equal(t.get('s3.cold')?.bucket, 'b3');
  } finally {
    t.close();
  }
});

test('a remote object is in use until every data file reading it is closed (a tier download deletes it after)', async () => {
  const t = new TierBackends(pino({ level: 'silent' }));
  const info = { ...emptyVolumeInfo(), files: [{ backendType: 's3', backendId: 'default', key: 'k1', offset: 0, fileSize: 8, modifiedTime: 1, extension: '.dat' }] };
  const noBackend = (): never => {
    throw new Error('no backend in this test');
  };
  try {
    await t.whenUnused('s3.default', 'k1', 60_000); // nothing open: at once
    const a = t.track('s3.default', 'k1', new S3BackendStorageFile(noBackend, 'k1', info));
    const b = t.track('s3.default', 'k1', new S3BackendStorageFile(noBackend, 'k1', info));
    const other = t.track('s3.default', 'k2', new S3BackendStorageFile(noBackend, 'k2', info));
    let settled = false;
    const waiting = t.whenUnused('s3.default', 'k1', 60_000).then(() => (settled = true));
    await a.close();
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'one file still reads k1');
    await b.close();
    await waiting;
    assert.equal(settled, true);
    // the bound: a file never closed does not hold the caller forever
    await t.whenUnused('s3.default', 'k2', 10);
    await other.close();
  } finally {
    t.close();
  }
});
