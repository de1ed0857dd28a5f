// Deletes in a remote-tiered volume (Go: weed/storage/volume_write.go appendDeleteRequest skips the
// .dat append when HasRemoteFile; the needle map's Delete appends the .idx tombstone row). The
// "remote store" here is a read-only backend of our own over a copy of a local .dat: any write,
// truncate or append to it fails, as the S3 tier's does.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BackendStorageFile } from '../../../core/storage/backend/backend-file.js';
import { DiskFile } from '../../../core/storage/backend/disk-file.js';
import { BackendRegistry } from '../../../core/storage/backend/registry.js';
import { readIdxEntry } from '../../../core/storage/idx.js';
import { newNeedle } from '../../../core/storage/needle.js';
import { ReplicaPlacement, Ttl } from '../../../core/storage/types.js';
import { loadVolumeInfo, saveVolumeInfo } from '../../../core/storage/volume-info.js';
import { Volume } from '../../../core/storage/volume.js';

/** A read-only remote tier over files in `storeDir` (refuses writes as plugins/tiering/s3/s3-file.ts does). */
function readOnlyStore(storeDir: string, writes: string[]): BackendRegistry {
  const reg = new BackendRegistry();
  reg.register('rotier', {
    async open(file): Promise<BackendStorageFile> {
      const f = await DiskFile.open(join(storeDir, file.key), 'r');
      const refuse = (what: string) => {
        writes.push(what);
        return Promise.reject(new Error(`${file.key}: a remote-tiered data file is read-only`));
      };
      return {
        type: 'rotier',
        name: file.key,
        readAt: (b, o, l, p) => f.readAt(b, o, l, p),
        writeAt: () => refuse('writeAt'),
        truncate: () => refuse('truncate'),
        stat: () => f.stat(),
        sync: () => Promise.resolve(),
        close: () => f.close(),
      };
    },
  });
  return reg;
}

test('remote-tiered volume: delete records a .idx tombstone only (offset 0), survives reload, never touches the remote .dat', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'remote-del-'));
  const storeDir = mkdtempSync(join(tmpdir(), 'remote-del-store-'));
  try {
    const v = await Volume.create({ dir, collection: 'c', id: 9, create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.EMPTY } });
    const a = randomBytes(3000);
    const b = randomBytes(1234);
    const wa = await v.write(newNeedle({ id: 1n, cookie: 0x11, data: a }));
    const wb = await v.write(newNeedle({ id: 2n, cookie: 0x22, data: b }));
    const before = v.information();
    await v.close();

    // tier up: the .dat goes to the store, the .vif names it
    await rename(join(dir, 'c_9.dat'), join(storeDir, 'c_9.dat'));
    const datBytes = readFileSync(join(storeDir, 'c_9.dat'));
    const vifPath = join(dir, 'c_9.vif');
    const vi = (await loadVolumeInfo(vifPath)).info;
    vi.files = [{ backendType: 'rotier', backendId: 'default', key: 'c_9.dat', offset: 0, fileSize: before.size, modifiedTime: 0, extension: '.dat' }];
    await saveVolumeInfo(vifPath, vi);
    const idxPath = join(dir, 'c_9.idx');
    const idxBefore = statSync(idxPath).size;

    const writes: string[] = [];
    const reg = readOnlyStore(storeDir, writes);
    let t = await Volume.open({ dir, collection: 'c', id: 9, backends: reg });
    try {
      assert.equal(t.isNoWriteOrDelete(), false, 'a tiered volume takes deletes');
      const size = await t.delete(1n, { cookie: 0x11 });
      assert.equal(size, wa.size, 'returns the size the index held, as Go');
      assert.equal(await t.delete(1n, { cookie: 0x11 }), 0, 'a second delete finds nothing');
      assert.equal(await t.delete(77n), 0, 'an unknown needle deletes nothing');
      await assert.rejects(t.readNeedle(1n, { cookie: 0x11 }), { code: 'NEEDLE_DELETED' });
      assert.deepEqual(Buffer.from((await t.readNeedle(2n, { cookie: 0x22 })).data), b);
      const info = t.information();
      assert.equal(info.size, before.size, 'the remote .dat did not grow');
      assert.equal(info.file_count, 2);
      assert.equal(info.delete_count, 1);
      assert.equal(info.deleted_byte_count, wa.size);
    } finally {
      await t.close();
    }

    // exactly one new .idx row: needle 1, offset 0, size -1 (Go's TombstoneFileSize)
    const idx = readFileSync(idxPath);
    assert.equal(idx.length, idxBefore + 16);
    const row = readIdxEntry(idx, idxBefore, 4);
    assert.equal(row.id, 1n);
    assert.equal(row.offset, 0);
    assert.equal(row.size, -1);

    // reload: the index replay keeps the delete and Go's counters
    t = await Volume.open({ dir, collection: 'c', id: 9, backends: reg });
    try {
      await assert.rejects(t.readNeedle(1n, { cookie: 0x11 }), { code: 'NEEDLE_DELETED' });
      assert.deepEqual(Buffer.from((await t.readNeedle(2n, { cookie: 0x22 })).data), b);
      const info = t.information();
      assert.equal(info.file_count, 2);
      assert.equal(info.delete_count, 1);
      assert.equal(info.deleted_byte_count, wa.size);
      assert.equal(info.read_only, true);
      assert.deepEqual(t.readOnlyReasons(), { readOnly: true, noWriteOrDelete: false, noWriteCanDelete: true, diskSpaceLow: false });
      assert.equal(await t.delete(2n, { cookie: 0x22 }), wb.size);
      await assert.rejects(t.readNeedle(2n, { cookie: 0x22 }), { code: 'NEEDLE_DELETED' });
    } finally {
      await t.close();
    }

    assert.deepEqual(writes, [], 'nothing was written to the remote file');
    assert.deepEqual(readFileSync(join(storeDir, 'c_9.dat')), datBytes, 'the remote .dat bytes are unchanged');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(storeDir, { recursive: true, force: true });
  }
});
