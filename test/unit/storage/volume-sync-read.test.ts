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
