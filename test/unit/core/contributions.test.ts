// The contribution points of core/storage/contributions.ts, with a family contributor of our own
// registered in a real container over real data directories: with none registered the heartbeat,
// EC heartbeat, /status and placement are what core alone answers; a contributor's EC shards,
// status entries, report fields and owned files reach them.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../../config/index.js';
import { buildContainer } from '../../../core/container.js';
import { statusBody } from '../../../core/control/http-routes.js';
import { ecShardsDelta, fullEcHeartbeat, fullHeartbeat } from '../../../core/master/heartbeat-messages.js';
import type { EcShardInformation, EcVolumeStatus, FamilyContributor } from '../../../core/storage/contributions.js';
import type { DiskLocation } from '../../../core/storage/disk-location.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function server(maxes = '5,5') {
  const root = mkdtempSync(join(tmpdir(), 'ts-weed-contrib-'));
  roots.push(root);
  const d0 = join(root, 'd0');
  const d1 = join(root, 'd1');
  mkdirSync(d0);
  mkdirSync(d1);
  const config = loadConfig(['--dir', `${d0},${d1}`, '--max', maxes, '--ip', '127.0.0.1', '--master', '127.0.0.1:1'], { HOME: root });
  const container = buildContainer(config, pino({ level: 'silent' }));
  const { store, contributions, masterClient } = container.cradle;
  return { root, d0, d1, config, store, contributions, masterClient };
}

function shardMessage(vid: number, diskId: number, bits: number): EcShardInformation {
  return {
    id: vid,
    collection: 'c',
    ec_index_bits: bits,
    shard_sizes: ['100'],
    disk_type: '',
    expire_at_sec: '0',
    disk_id: diskId,
    file_count: '3',
    delete_count: '0',
    encode_ts_ns: '0',
  };
}

test('with no contributor the reports are what core alone answers', async () => {
  const s = server();
  await s.store.loadExistingVolumes();
  await s.store.allocateVolume({ id: 3, collection: '', replication: '000', ttl: '', preallocate: 0, diskType: 'hdd', version: 3 });
  const hb = fullHeartbeat(s.config, s.store);
  assert.equal(hb.has_no_ec_shards, true);
  assert.equal(hb.has_no_volumes, false);
  assert.deepEqual(fullEcHeartbeat(s.store), { ec_shards: [], has_no_ec_shards: true });
  assert.deepEqual(s.store.maxVolumeCounts(), { '': 10 });
  const body = statusBody({ store: s.store, masterClient: s.masterClient }, 'v');
  assert.deepEqual(body.EcVolumes, []);
  assert.equal((body.Volumes as { RemoteStorageName: string }[])[0].RemoteStorageName, '');
  assert.equal(s.store.volumeInformations()[0].remote_storage_name, '');
  assert.equal(s.contributions.reportsEcShards, false);
  // placement: the .ecx on disk wins, then a hard drive with the most free slots
  writeFileSync(join(s.d0, 'c_9.ecx'), Buffer.alloc(20));
  assert.equal(s.store.findEcShardTargetLocation('c', 9)?.directory, s.d0);
  assert.equal(s.store.findEcShardTargetLocation('c', 10)?.directory, s.d1, 'd0 holds volume 3: fewer free slots');
  assert.equal(s.store.findFreeLocation(() => true)?.directory, s.d1);
  await s.store.close();
});

test('a contributor feeds heartbeats, /status, report fields and placement', async () => {
  const s = server();
  await s.store.loadExistingVolumes();
  await s.store.allocateVolume({ id: 4, collection: '', replication: '000', ttl: '', preallocate: 0, diskType: 'hdd', version: 3 });
  const d1 = s.store.locations[1];
  const status: EcVolumeStatus[] = [
    { VolumeId: 9, Collection: 'c', Shards: [{ VolumeId: 9, ShardId: 0, Collection: 'c', DiskType: '' }], Version: 3, ExpireAtSec: 0, EncodeTsNs: 0 },
    { VolumeId: 7, Collection: 'c', Shards: [{ VolumeId: 7, ShardId: 2, Collection: 'c', DiskType: '' }], Version: 3, ExpireAtSec: 0, EncodeTsNs: 0 },
  ];
  const family: FamilyContributor = {
    family: 'ec',
    ecShards: () => [shardMessage(7, 1, 0b100), shardMessage(9, 1, 0b1)],
    ecVolumeStatuses: () => status,
    mountedEcShardIds: (loc: DiskLocation, vid: number) => (loc === d1 && vid === 7 ? [2] : []),
    // 45 shards on d1: 5 slots minus 45/10 leaves d1 no free volume slot
    ecShardCount: (loc: DiskLocation) => (loc === d1 ? 45 : 0),
  };
  await s.contributions.register(family);
  await assert.rejects(s.contributions.register({ family: 'ec' }), /already registered/);

  const hb = fullHeartbeat(s.config, s.store);
  assert.equal(hb.has_no_ec_shards, false);
  const ec = fullEcHeartbeat(s.store);
  assert.equal(ec.has_no_ec_shards, false);
  assert.deepEqual((ec.ec_shards as EcShardInformation[]).map((m) => [m.id, m.disk_id, m.ec_index_bits]), [
    [7, 1, 4],
    [9, 1, 1],
  ]);
  assert.equal(s.contributions.reportsEcShards, true);
  const delta = ecShardsDelta(s.config, [shardMessage(7, 1, 4)], []);
  assert.equal(delta.ip, '127.0.0.1');
  assert.deepEqual(delta.deleted_ec_shards, []);
  assert.equal((delta.new_ec_shards as EcShardInformation[])[0].id, 7);

  const body = statusBody({ store: s.store, masterClient: s.masterClient }, 'v');
  assert.deepEqual((body.EcVolumes as EcVolumeStatus[]).map((e) => e.VolumeId), [7, 9], 'sorted by id as Go');

  // placement: a disk with the EC volume mounted wins over free slots; a disk owning the shard
  // wins even when full; d1 has no volume slot left for a new regular volume
  assert.equal(s.store.findEcShardTargetLocation('c', 7)?.directory, d1.directory);
  assert.equal(s.store.findEcShardTargetLocation('c', 7, 10, [2])?.directory, d1.directory);
  assert.equal(s.store.findEcShardTargetLocation('c', 8)?.directory, s.store.locations[0].directory);
  assert.equal(s.store.findFreeLocation((l) => l === d1), undefined);

  // the deltas a family announces reach listeners (the master client), empty ones do not
  const seen: string[] = [];
  s.contributions.on('ec-shards-added', (m) => seen.push(`+${m.map((x) => x.id).join(',')}`));
  s.contributions.on('ec-shards-removed', (m) => seen.push(`-${m.map((x) => x.id).join(',')}`));
  s.contributions.announceEcShardsAdded([shardMessage(7, 1, 4)]);
  s.contributions.announceEcShardsAdded([]);
  s.contributions.announceEcShardsRemoved([shardMessage(9, 1, 1)]);
  assert.deepEqual(seen, ['+7', '-9']);

  s.contributions.unregister('ec');
  assert.equal(fullHeartbeat(s.config, s.store).has_no_ec_shards, true);
  assert.deepEqual(statusBody({ store: s.store, masterClient: s.masterClient }, 'v').EcVolumes, []);
  await s.store.close();
});

test('a family loads the files it owns: at load, at a late registration and on a rescan', async () => {
  const s = server();
  writeFileSync(join(s.d0, 'c_7.ec00'), 'shard');
  writeFileSync(join(s.d0, 'c_7.ecx'), 'index');
  writeFileSync(join(s.d1, 'c_8.ec03'), 'shard');
  writeFileSync(join(s.d1, 'other.txt'), 'not owned');
  const calls: string[] = [];
  const early: FamilyContributor = {
    family: 'early',
    ownsFile: (n) => /\.ec(\d\d|x|j)$/.test(n),
    loadFiles: async (loc, files) => {
      calls.push(`early ${loc.diskId}: ${[...files.data].sort().join(' ')}`);
    },
  };
  await s.contributions.register(early);
  assert.equal(calls.length, 0, 'nothing runs before the store loads');
  await s.store.loadExistingVolumes();
  assert.deepEqual(calls, ['early 0: c_7.ec00 c_7.ecx', 'early 1: c_8.ec03']);

  calls.length = 0;
  const late: FamilyContributor = {
    family: 'late',
    ownsFile: (n) => n.endsWith('.txt'),
    loadFiles: async (loc, files) => {
      calls.push(`late ${loc.diskId}: ${files.data.join(' ')}`);
      if (loc.diskId === 0) throw new Error('a broken file');
    },
  };
  await s.contributions.register(late);
  assert.deepEqual(calls, ['late 0: ', 'late 1: other.txt'], 'a failure on one location does not stop the next');

  calls.length = 0;
  writeFileSync(join(s.d0, 'c_7.ec01'), 'shard');
  await s.store.loadNewVolumes();
  assert.deepEqual(calls.sort(), ['early 0: c_7.ec00 c_7.ec01 c_7.ecx', 'early 1: c_8.ec03', 'late 0: ', 'late 1: other.txt']);
  await s.store.close();
});

test('a low disk reports its volumes plus its EC shards ten to a slot as its max', async () => {
  const s = server('5,5');
  await s.store.loadExistingVolumes();
  const d0 = s.store.locations[0];
  await s.contributions.register({ family: 'ec', ecShardCount: (loc) => (loc === d0 ? 11 : 0) });
  d0.isLowOnSpace = true;
  assert.deepEqual(s.store.maxVolumeCounts(), { '': 2 + 5 });
  await s.store.close();
});

test('ReceiveFile targets: a mounted EC volume refuses its files on both paths, as Go', async () => {
  const s = server();
  await s.store.loadExistingVolumes();
  await s.store.allocateVolume({ id: 12, collection: 'c', replication: '000', ttl: '', preallocate: 0, diskType: 'hdd', version: 3 });
  const req = { volumeId: 12, collection: 'c', diskId: 0, diskType: '' };
  assert.match((s.store.receiveTarget({ ...req, ext: '.ec01', isEcVolume: true }) as { path: string }).path, /c_12\.ec01$/);
  const d1 = s.store.locations[1];
  await s.contributions.register({ family: 'ec', mountedEcShardIds: (_loc, vid) => (vid === 12 ? [1] : []) });
  const mounted = 'ec volume 12 is mounted on disk_ids:[0 1]; unmount before ReceiveFile';
  assert.deepEqual(s.store.receiveTarget({ ...req, ext: '.ec01', isEcVolume: true }), { error: mounted });
  assert.deepEqual(s.store.receiveTarget({ ...req, ext: '.ecx', isEcVolume: false }), { error: mounted });
  // an inert name beside the mounted regular volume is still fine
  assert.equal((s.store.receiveTarget({ ...req, ext: '.tmprecv', isEcVolume: false }) as { path: string }).path, join(s.d0, 'c_12.tmprecv'));
  // disk_id picks the location; out of range is Go's error
  s.contributions.unregister('ec');
  assert.equal((s.store.receiveTarget({ ...req, ext: '.ec02', isEcVolume: true, diskId: 1 }) as { path: string }).path, join(d1.directory, 'c_12.ec02'));
  assert.deepEqual(s.store.receiveTarget({ ...req, ext: '.ec02', isEcVolume: true, diskId: 2 }), { error: 'invalid disk_id 2: only have 2 disks' });
  await s.store.close();
});
