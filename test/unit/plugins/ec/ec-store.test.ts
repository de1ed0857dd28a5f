// The EC store's contribution to core's reports: shards found on disk are mounted at load and
// reported (bits, sizes, counts); an expired EC volume is left out of the report and destroyed,
// its files removed and the master told.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Contributions, type EcShardInformation } from '../../../../core/storage/contributions.js';
import { DiskLocation } from '../../../../core/storage/disk-location.js';
import { idxEntryBytes } from '../../../../core/storage/idx.js';
import { emptyVolumeInfo, saveVolumeInfo } from '../../../../core/storage/volume-info.js';
import { EcStore } from '../../../../plugins/ec/ec-store.js';

async function writeEcVolume(dir: string, vid: number, expireAtSec: number): Promise<void> {
  writeFileSync(join(dir, `${vid}.ec00`), Buffer.alloc(16, 1));
  writeFileSync(join(dir, `${vid}.ec01`), Buffer.alloc(16, 2));
  writeFileSync(join(dir, `${vid}.ec05`), Buffer.alloc(0)); // a failed copy's stub: not a shard
  writeFileSync(join(dir, `${vid}.ecx`), idxEntryBytes(9n, 8, 3, 5));
  const vi = emptyVolumeInfo();
  vi.version = 3;
  vi.expireAtSec = expireAtSec;
  vi.ecShardConfig = { dataShards: 10, parityShards: 4, encodeTsNs: 1_700_000_000_000_000_000n };
  await saveVolumeInfo(join(dir, `${vid}.vif`), vi);
}

test('shards on disk are reported; an expired EC volume is destroyed and announced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ec-store-'));
  try {
    await writeEcVolume(dir, 1, Math.floor(Date.now() / 1000) - 60);
    await writeEcVolume(dir, 2, 0);
    const loc = new DiskLocation({ directory: dir, idxDirectory: dir, maxVolumeCount: 8, diskType: '', minFreeSpace: { kind: 'percent', value: 0 }, tags: [], diskId: 0 });
    const contributions = new Contributions();
    const added: EcShardInformation[] = [];
    const removed: EcShardInformation[] = [];
    contributions.on('ec-shards-added', (s) => added.push(...s));
    contributions.on('ec-shards-removed', (s) => removed.push(...s));
    const store = new EcStore([loc], contributions, 5, pino({ level: 'silent' }));
    await store.loadLocation(loc, { data: readdirSync(dir), index: [] });
    assert.deepEqual(added.map((a) => [a.id, a.ec_index_bits]).sort(), [
      [1, 3],
      [2, 3],
    ]);

    const c = store.contributor();
    const shards = c.ecShards!();
    assert.equal(shards.length, 1);
    assert.deepEqual(shards[0], {
      id: 2,
      collection: '',
      ec_index_bits: 3,
      shard_sizes: ['16', '16'],
      disk_type: '',
      expire_at_sec: '0',
      disk_id: 0,
      file_count: '1',
      delete_count: '0',
      encode_ts_ns: '1700000000000000000',
    });
    await store.destroyed;
    assert.deepEqual(removed.map((r) => r.id), [1]);
    for (const ext of ['.ec00', '.ec01', '.ecx', '.vif']) {
      assert.equal(existsSync(join(dir, `1${ext}`)), false, `1${ext}`);
      assert.equal(existsSync(join(dir, `2${ext}`)), true, `2${ext}`);
    }
    assert.deepEqual(c.mountedEcShardIds!(loc, 2), [0, 1]);
    assert.deepEqual(c.mountedEcShardIds!(loc, 1), []);
    assert.equal(c.ecShardCount!(loc), 2);
    assert.deepEqual(
      c.ecVolumeStatuses!().map((v) => [v.VolumeId, v.Shards.map((s) => s.ShardId)]),
      [[2, [0, 1]]],
    );
    await store.closeAll();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an interrupted encode beside its .dat is removed at load, not mounted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ec-store-partial-'));
  try {
    // Volume 3: a 20 MiB .dat (a full encode makes 2 MiB shards) but 16-byte shards and an .ecx.
    await writeEcVolume(dir, 3, 0);
    writeFileSync(join(dir, '3.dat'), Buffer.alloc(20 * 1024 * 1024));
    // Volume 4: shards but no .ecx anywhere, next to a .dat: encode stopped before the index.
    writeFileSync(join(dir, '4.ec00'), Buffer.alloc(16, 1));
    writeFileSync(join(dir, '4.dat'), Buffer.alloc(100));
    // Volume 5: a complete encode beside its .dat (1 MiB shards for a 100-byte .dat) stays.
    writeFileSync(join(dir, '5.dat'), Buffer.alloc(100));
    for (const ext of ['.ec00', '.ec01']) writeFileSync(join(dir, `5${ext}`), Buffer.alloc(1024 * 1024));
    writeFileSync(join(dir, '5.ecx'), idxEntryBytes(9n, 8, 3, 5));
    const loc = new DiskLocation({ directory: dir, idxDirectory: dir, maxVolumeCount: 8, diskType: '', minFreeSpace: { kind: 'percent', value: 0 }, tags: [], diskId: 0 });
    const store = new EcStore([loc], new Contributions(), 5, pino({ level: 'silent' }));
    await store.loadLocation(loc, { data: readdirSync(dir), index: [] });
    assert.deepEqual(
      store.contributor().ecShards!().map((s) => s.id),
      [5],
    );
    for (const n of ['3.ec00', '3.ec01', '3.ecx', '4.ec00']) assert.equal(existsSync(join(dir, n)), false, n);
    for (const n of ['3.dat', '3.vif', '4.dat', '5.ec00', '5.ecx']) assert.equal(existsSync(join(dir, n)), true, n);
    await store.closeAll();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
