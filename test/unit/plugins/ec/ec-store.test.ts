// The EC store's contribution to core's reports: shards found on disk are mounted at load and
// reported (bits, sizes, counts); an expired EC volume is left out of the report and destroyed,
// its files removed and the master told.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

test('shards all short of a full encode beside the .dat are removed whatever their sizes; a full-size one among unequal ones keeps them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ec-store-unequal-'));
  try {
    // Volume 6: a 20 MiB .dat (2 MiB shards when whole), shards of 16 and 32 bytes: a kill between two writes of one row.
    await writeEcVolume(dir, 6, 0);
    writeFileSync(join(dir, '6.ec01'), Buffer.alloc(32, 2));
    writeFileSync(join(dir, '6.dat'), Buffer.alloc(20 * 1024 * 1024));
    // Volume 7: a 100-byte .dat (1 MiB shards), one shard of full size and one short: ambiguous, kept (Go).
    await writeEcVolume(dir, 7, 0);
    writeFileSync(join(dir, '7.ec00'), Buffer.alloc(1024 * 1024));
    writeFileSync(join(dir, '7.dat'), Buffer.alloc(100));
    const loc = new DiskLocation({ directory: dir, idxDirectory: dir, maxVolumeCount: 8, diskType: '', minFreeSpace: { kind: 'percent', value: 0 }, tags: [], diskId: 0 });
    const store = new EcStore([loc], new Contributions(), 5, pino({ level: 'silent' }));
    await store.loadLocation(loc, { data: readdirSync(dir), index: [] });
    assert.deepEqual(
      store.contributor().ecShards!().map((s) => s.id),
      [7],
    );
    for (const n of ['6.ec00', '6.ec01', '6.ecx']) assert.equal(existsSync(join(dir, n)), false, n);
    for (const n of ['6.dat', '6.vif', '7.ec00', '7.ec01', '7.ecx']) assert.equal(existsSync(join(dir, n)), true, n);
    await store.closeAll();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('partial shards on one disk while the byte-exact source .dat is on a sibling disk are removed; any doubt keeps them', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ec-store-sibling-'));
  try {
    const dirs = [0, 1, 2].map((i) => join(root, `d${i}`));
    for (const d of dirs) mkdirSync(d);
    const datSize = 4104;
    const vif = async (dir: string, vid: number, recorded: number) => {
      const vi = emptyVolumeInfo();
      vi.version = 3;
      vi.datFileSize = recorded;
      vi.ecShardConfig = { dataShards: 10, parityShards: 4, encodeTsNs: 0n };
      await saveVolumeInfo(join(dir, `${vid}.vif`), vi);
    };
    const shard = (dir: string, vid: number, id: number) => writeFileSync(join(dir, `${vid}.ec${String(id).padStart(2, '0')}`), Buffer.alloc(1024 * 1024));
    const ecx = (dir: string, vid: number) => writeFileSync(join(dir, `${vid}.ecx`), idxEntryBytes(9n, 8, 3, 5));
    // 20: the upstream planted footprint (one shard, .ecx, .ecj, .vif recording the sibling .dat's size).
    writeFileSync(join(dirs[0], '20.dat'), Buffer.alloc(datSize));
    shard(dirs[1], 20, 1);
    ecx(dirs[1], 20);
    writeFileSync(join(dirs[1], '20.ecj'), '');
    await vif(dirs[1], 20, datSize);
    // 21: the .vif records another size: the .dat is not proven to be the source.
    writeFileSync(join(dirs[0], '21.dat'), Buffer.alloc(datSize));
    shard(dirs[1], 21, 1);
    ecx(dirs[1], 21);
    await vif(dirs[1], 21, datSize + 8);
    // 22: five shards on each of two disks: recoverable on this server, kept.
    writeFileSync(join(dirs[0], '22.dat'), Buffer.alloc(datSize));
    for (let i = 0; i < 5; i++) shard(dirs[1], 22, i);
    for (let i = 5; i < 10; i++) shard(dirs[2], 22, i);
    ecx(dirs[1], 22);
    await vif(dirs[1], 22, datSize);
    await vif(dirs[2], 22, datSize);
    const locations = dirs.map(
      (d, i) => new DiskLocation({ directory: d, idxDirectory: d, maxVolumeCount: 8, diskType: '', minFreeSpace: { kind: 'percent', value: 0 }, tags: [], diskId: i }),
    );
    const store = new EcStore(locations, new Contributions(), 5, pino({ level: 'silent' }));
    for (const loc of locations) await store.loadLocation(loc, { data: readdirSync(loc.directory), index: [] });
    assert.deepEqual([...new Set(store.contributor().ecShards!().map((s) => s.id))].sort(), [21, 22]);
    for (const n of ['20.ec01', '20.ecx', '20.ecj']) assert.equal(existsSync(join(dirs[1], n)), false, n);
    assert.equal(existsSync(join(dirs[0], '20.dat')), true);
    assert.equal(existsSync(join(dirs[1], '21.ec01')), true);
    assert.equal(existsSync(join(dirs[1], '22.ec00')), true);
    assert.equal(existsSync(join(dirs[2], '22.ec05')), true);
    await store.closeAll();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
