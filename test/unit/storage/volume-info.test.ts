import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  emptyVolumeInfo,
  formatVolumeInfo,
  loadVolumeInfo,
  parseVolumeInfo,
  saveVolumeInfo,
} from '../../../core/storage/volume-info.js';

const GO_PLAIN = `{
  "files": [],
  "version": 3,
  "replication": "",
  "bytesOffset": 4,
  "datFileSize": "0",
  "expireAtSec": "0",
  "readOnly": false,
  "ecShardConfig": null,
  "readOnlyCanDelete": false
}`;

test('vif: writes exactly what Go writes for a plain volume', () => {
  const vi = emptyVolumeInfo();
  vi.version = 3;
  vi.bytesOffset = 4;
  assert.equal(formatVolumeInfo(vi), GO_PLAIN);
  assert.deepEqual(parseVolumeInfo(GO_PLAIN), vi);
});

test('vif: nested messages, 64-bit strings, ec config', () => {
  const vi = emptyVolumeInfo();
  vi.version = 3;
  vi.bytesOffset = 5;
  vi.datFileSize = 123456789;
  vi.ecShardConfig = { dataShards: 10, parityShards: 4, encodeTsNs: 1700000000123456789n };
  vi.files = [{ backendType: 's3', backendId: 'default', key: 'k', offset: 0, fileSize: 42, modifiedTime: 1700000000, extension: '.dat' }];
  const text = formatVolumeInfo(vi);
  assert.match(text, /"encodeTsNs": "1700000000123456789"/);
  assert.match(text, /"datFileSize": "123456789"/);
  assert.match(text, /\n {2}"files": \[\n {4}\{\n {6}"backendType": "s3",/);
  assert.match(text, /\n {2}"ecShardConfig": \{\n {4}"dataShards": 10,/);
  assert.deepEqual(parseVolumeInfo(text), vi);
});

test('vif: lenient reading (snake_case, numbers for 64-bit, old names, nulls) keeps unknown fields', () => {
  const vi = parseVolumeInfo(
    JSON.stringify({
      version: 2,
      bytes_offset: 4,
      dat_file_size: 77,
      DestroyTime: '99',
      read_only: true,
      files: null,
      ec_shard_config: { data_shards: 6, parity_shards: 3, encode_ts_ns: 5, future: 1 },
      someFutureField: { a: [1, 2] },
    }),
  );
  assert.equal(vi.version, 2);
  assert.equal(vi.bytesOffset, 4);
  assert.equal(vi.datFileSize, 77);
  assert.equal(vi.expireAtSec, 99);
  assert.equal(vi.readOnly, true);
  assert.deepEqual(vi.files, []);
  assert.equal(vi.ecShardConfig?.dataShards, 6);
  assert.equal(vi.ecShardConfig?.encodeTsNs, 5n);
  const out = formatVolumeInfo(vi);
  const again = JSON.parse(out);
  assert.deepEqual(again.someFutureField, { a: [1, 2] });
  assert.equal(again.ecShardConfig.future, 1);
  assert.equal(again.bytesOffset, 4);
  assert.equal(again.expireAtSec, '99');
  assert.ok(!('DestroyTime' in again));
  assert.throws(() => parseVolumeInfo('{"version": "x"}'), /invalid value/);
  assert.throws(() => parseVolumeInfo('not json'), /unmarshal error/);
});

test('vif: load/save (empty file = no vif, atomic replace)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vif-test-'));
  try {
    const path = join(dir, '1.vif');
    assert.equal((await loadVolumeInfo(path)).exists, false);
    await writeFile(path, '');
    assert.equal((await loadVolumeInfo(path)).exists, false);
    const vi = emptyVolumeInfo();
    vi.version = 3;
    vi.bytesOffset = 4;
    vi.readOnly = true;
    await saveVolumeInfo(path, vi);
    const text = await readFile(path, 'utf8');
    assert.match(text, /"readOnly": true/);
    const loaded = await loadVolumeInfo(path);
    assert.equal(loaded.exists, true);
    assert.equal(loaded.info.readOnly, true);
    await writeFile(path, '{broken');
    const bad = await loadVolumeInfo(path);
    assert.equal(bad.exists, true);
    assert.ok(bad.error);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
