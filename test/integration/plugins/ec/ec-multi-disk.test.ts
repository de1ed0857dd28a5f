// EC volumes on a server with several -dir locations, as the upstream suite checks them on the Go
// server only (its multi-dir cluster helper has no alternative-binary path):
// test/volume_server/grpc/ec_multi_disk_lifecycle_test.go (TestEcLifecycleAcrossMultipleDisks,
// TestEcPartialShardsOnSiblingDiskCleanedUpOnRestart), ec_receive_disk_placement_test.go
// (TestReceiveFileEcShardHonorsDiskID, TestReceiveFileEcShardRejectsInvalidDiskID) and
// ec_verify_multi_disk_test.go (TestVolumeEcShardsInfoReturnsAllShardsAcrossDisks). The same steps,
// the same injected conditions, against our server with a real Go master.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS } from '../../../../core/grpc/client-pool.js';
import { volumeServerClientConstructor } from '../../../../core/grpc/proto-loader.js';
import { readIdxEntry } from '../../../../core/storage/idx.js';
import { indexEntrySize } from '../../../../core/storage/types.js';
import { saveVolumeInfo, emptyVolumeInfo } from '../../../../core/storage/volume-info.js';
import { blockLayout, locateData } from '../../../../plugins/ec/codec/layout.js';
import { ecShardRead, volumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, tempDir, waitFor, waitRegistered, type Master, type VolumeServer } from '../../../helpers/processes.js';

const TOTAL_SHARDS = 14;
const DATA_SHARDS = 10;

/** The upstream helper bytesOfLen: a deterministic payload. */
function bytesOfLen(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed + i * 31) & 0xff;
  return b;
}

function fileId(vid: number, key: number, cookie: number): string {
  return `${vid},${key.toString(16)}${cookie.toString(16).padStart(8, '0')}`;
}

function baseName(collection: string, vid: number): string {
  return collection ? `${collection}_${vid}` : String(vid);
}

function shardName(collection: string, vid: number, shard: number): string {
  return `${baseName(collection, vid)}.ec${String(shard).padStart(2, '0')}`;
}

function fileExistsIn(dir: string, collection: string, vid: number, ext: string): boolean {
  return existsSync(join(dir, baseName(collection, vid) + ext));
}

/** Which shard files (any size) each data dir holds. */
function shardLayout(dirs: string[], collection: string, vid: number): number[][] {
  return dirs.map((d) => Array.from({ length: TOTAL_SHARDS }, (_, s) => s).filter((s) => existsSync(join(d, shardName(collection, vid, s)))));
}

function moveShard(from: string, to: string, collection: string, vid: number, shard: number): void {
  const name = shardName(collection, vid, shard);
  renameSync(join(from, name), join(to, name));
}

/** A ReceiveFile client stream: the info message, then `payload` (if any); the response. */
function receiveFile(address: string, info: object, payload?: Buffer): Promise<{ error: string; bytes_written: string }> {
  const Ctor = volumeServerClientConstructor();
  const client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (cb: grpc.requestCallback<{ error: string; bytes_written: string }>) => grpc.ClientWritableStream<object>>)
      .ReceiveFile;
    const stream = fn.call(client, (err, resp) => {
      client.close();
      if (err) reject(err);
      else resolve(resp!);
    });
    stream.write({ info });
    if (payload) stream.write({ file_content: payload });
    stream.end();
  });
}

const shardRead = ecShardRead;

const WIDTH = 5;

/**
 * A needle of an EC volume read the way a peer reads it: its .ecx row (from whichever disk holds
 * the index), then each shard interval of its record through the server's VolumeEcShardRead (the
 * shards may be on any disk). `deleted` when the server answers is_deleted for the key.
 */
async function ecNeedle(address: string, dirs: string[], collection: string, vid: number, key: number): Promise<{ body?: Buffer; deleted: boolean }> {
  const base = baseName(collection, vid);
  const dir = dirs.find((d) => existsSync(join(d, base + '.ecx')));
  assert.ok(dir, 'an .ecx on some disk');
  const ecx = readFileSync(join(dir, base + '.ecx'));
  const vif = JSON.parse(readFileSync(join(dir, base + '.vif'), 'utf8')) as { datFileSize: string; ecShardConfig: { blockSize?: string } };
  const es = indexEntrySize(WIDTH);
  let row: { offset: number; size: number } | undefined;
  for (let p = 0; p + es <= ecx.length; p += es) {
    const e = readIdxEntry(ecx, p, WIDTH);
    if (e.id === BigInt(key)) row = e;
  }
  assert.ok(row, `needle ${key} in the .ecx`);
  const intervals = locateData(blockLayout(Number(vif.ecShardConfig.blockSize ?? 0)), Math.floor(Number(vif.datFileSize) / DATA_SHARDS), row.offset, 16 + Math.max(row.size, 4));
  const parts: Buffer[] = [];
  for (const iv of intervals) {
    const r = await shardRead(address, { volume_id: vid, shard_id: iv.shardId, offset: iv.offset, size: iv.size, file_key: String(key) });
    if (r.deleted) return { deleted: true };
    assert.equal(r.data.length, iv.size, `shard ${iv.shardId} interval`);
    parts.push(r.data);
  }
  const rec = Buffer.concat(parts);
  assert.equal(rec.readBigUInt64BE(4), BigInt(key), 'needle id in the record header');
  const dataSize = rec.readUInt32BE(16);
  return { body: rec.subarray(20, 20 + dataSize), deleted: false };
}

interface MultiDiskServer {
  dirs: string[];
  server: VolumeServer;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Our server with `n` data dirs (-max 16 each, as the upstream cluster helper starts Go's). */
async function multiDiskServer(master: Master, n: number): Promise<MultiDiskServer> {
  const root = tempDir('ts-weed-ec-multi-');
  const dirs = Array.from({ length: n }, (_, i) => join(root, `volume${i}`));
  for (const d of dirs) mkdirSync(d);
  const env = { WEED_OFFSET_BYTES: String(WIDTH) };
  const first = await startVolumeServer({
    master: master.address,
    env,
    dir: dirs.join(','),
    extraArgs: ['--max', dirs.map(() => '16').join(','), '--volume.allowUntrustedRemoteEndpoints'],
  });
  const h: MultiDiskServer = {
    dirs,
    server: first,
    async start() {
      h.server = await startVolumeServer({
        master: master.address,
        env,
        dir: dirs.join(','),
        port: first.port,
        extraArgs: ['--max', dirs.map(() => '16').join(','), '--volume.allowUntrustedRemoteEndpoints'],
      });
    },
    async stop() {
      assert.equal(await h.server.stop(), 0, 'our server exits cleanly');
    },
  };
  await waitRegistered(master, first.port);
  return h;
}

async function upload(url: string, fid: string, body: Buffer): Promise<void> {
  const r = await rawRequest('POST', `${url}/${fid}`, { 'Content-Type': 'application/octet-stream' }, body);
  assert.equal(r.status, 201, `upload ${fid}: ${r.body.toString()}`);
}

/** The needle read from the EC shards through gRPC (HTTP reads of EC volumes are the read-write family's). */
async function verifyEcRead(h: MultiDiskServer, collection: string, vid: number, key: number, want: Buffer, stage: string): Promise<void> {
  const got = await ecNeedle(h.server.grpcAddress, h.dirs, collection, vid, key);
  assert.equal(got.deleted, false, `[${stage}] needle ${key} deleted`);
  assert.ok(got.body?.equals(want), `[${stage}] needle ${key} bytes`);
}

async function verifyRead(url: string, fid: string, want: Buffer, stage: string): Promise<void> {
  const r = await rawRequest('GET', `${url}/${fid}`);
  assert.equal(r.status, 200, `[${stage}] GET ${fid}: ${r.body.toString()}`);
  assert.equal(r.body.length, want.length, `[${stage}] GET ${fid} size`);
  assert.ok(r.body.equals(want), `[${stage}] GET ${fid} bytes`);
}

describe('EC on a server with several disks (upstream multi-disk tests, on our server)', { timeout: 170_000 }, () => {
  let master: Master;
  const servers: MultiDiskServer[] = [];

  before(async () => {
    master = await startMaster(100, 5);
  });
  after(async () => {
    for (const s of servers) {
      await s.server.stop('SIGKILL');
      cleanup(join(s.dirs[0], '..'));
    }
    await master.stop();
    cleanup(master.dir);
  });

  test('TestEcLifecycleAcrossMultipleDisks', async () => {
    const vid = 9500;
    const collection = 'ec-multi-disk';
    const h = await multiDiskServer(master, 2);
    servers.push(h);
    const [d0, d1] = h.dirs;
    const needles = [
      { key: 9501, fid: fileId(vid, 9501, 0xaa000001), payload: bytesOfLen(11, 0xa1) },
      { key: 9502, fid: fileId(vid, 9502, 0xaa000002), payload: bytesOfLen(1024, 0xa2) },
      { key: 9503, fid: fileId(vid, 9503, 0xaa000003), payload: bytesOfLen(63 * 1024 + 17, 0xa3) },
      { key: 9504, fid: fileId(vid, 9504, 0xaa000004), payload: bytesOfLen(2, 0xa4) },
      { key: 9505, fid: fileId(vid, 9505, 0xaa000005), payload: bytesOfLen(513 * 1024, 0xa5) },
    ];
    let c = volumeClient(h.server.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: vid, collection, replication: '000', version: 3 });
      for (const n of needles) await upload(h.server.url, n.fid, n.payload);

      // Encode: every shard lands on the .dat's disk.
      await c.call('VolumeEcShardsGenerate', { volume_id: vid, collection }, 60_000);
      const generated = shardLayout(h.dirs, collection, vid);
      assert.equal(generated[0].length, TOTAL_SHARDS, `post-generate layout ${JSON.stringify(generated)}`);
      assert.equal(generated[1].length, 0);
      for (const ext of ['.ecx', '.vif']) assert.ok(fileExistsIn(d0, collection, vid, ext), `post-generate ${ext} on disk 0`);

      await c.call('VolumeEcShardsMount', { volume_id: vid, collection, shard_ids: [...Array(DATA_SHARDS).keys()] });
      for (const n of needles) await verifyRead(h.server.url, n.fid, n.payload, 'after-mount');
      for (const n of needles) await verifyEcRead(h, collection, vid, n.key, n.payload, 'after-mount');

      // Drop the original volume: the EC shards are the only source.
      await c.call('VolumeDelete', { volume_id: vid });
      assert.ok(!fileExistsIn(d0, collection, vid, '.dat'), 'VolumeDelete left the .dat');
      for (const n of needles) await verifyEcRead(h, collection, vid, n.key, n.payload, 'after-dat-delete');
    } finally {
      c.close();
    }

    // Half the shards onto disk 1, the .ecx stays on disk 0.
    await h.stop();
    const splitAt = 7;
    for (let s = 0; s < splitAt; s++) moveShard(d0, d1, collection, vid, s);
    const moved = shardLayout(h.dirs, collection, vid);
    assert.equal(moved[0].length, TOTAL_SHARDS - splitAt);
    assert.equal(moved[1].length, splitAt);
    assert.ok(fileExistsIn(d0, collection, vid, '.ecx'));
    assert.ok(!fileExistsIn(d1, collection, vid, '.ecx'));

    await h.start();
    c = volumeClient(h.server.grpcAddress);
    try {
      const layout = shardLayout(h.dirs, collection, vid);
      assert.equal(layout[0].length + layout[1].length, TOTAL_SHARDS, `post-reconcile layout ${JSON.stringify(layout)}`);
      assert.equal(layout[0].length, TOTAL_SHARDS - splitAt);
      assert.equal(layout[1].length, splitAt);
      const info = await c.call<{ ec_shard_infos: { shard_id: number }[] }>('VolumeEcShardsInfo', { volume_id: vid });
      assert.deepEqual(
        info.ec_shard_infos.map((s) => s.shard_id).sort((a, b) => a - b),
        [...Array(TOTAL_SHARDS).keys()],
      );
      for (const n of needles) await verifyEcRead(h, collection, vid, n.key, n.payload, 'after-cross-disk-reconcile');

      // A blob delete on the cross-disk layout (the journal of the EC volume; the upstream test
      // goes through HTTP DELETE, which ends in the same journal).
      const deleted = needles[2];
      await c.call('VolumeEcBlobDelete', { volume_id: vid, collection, file_key: String(deleted.key), version: 3 });
      assert.equal((await ecNeedle(h.server.grpcAddress, h.dirs, collection, vid, deleted.key)).deleted, true, 'deleted needle still served');
      for (const n of needles) if (n !== deleted) await verifyEcRead(h, collection, vid, n.key, n.payload, 'after-blob-delete');
    } finally {
      c.close();
    }

    // Rebuild a shard whose inputs are split across the two disks.
    await h.stop();
    const repair = 9;
    const repairPath = join(d0, shardName(collection, vid, repair));
    assert.ok(existsSync(repairPath), `shard ${repair} on disk 0`);
    rmSync(repairPath);
    await h.start();
    c = volumeClient(h.server.grpcAddress);
    try {
      const rebuilt = await c.call<{ rebuilt_shard_ids: number[] }>('VolumeEcShardsRebuild', { volume_id: vid, collection }, 60_000);
      assert.ok(rebuilt.rebuilt_shard_ids.includes(repair), `rebuilt ${JSON.stringify(rebuilt.rebuilt_shard_ids)}`);
      assert.ok(
        h.dirs.some((d) => existsSync(join(d, shardName(collection, vid, repair)))),
        'the rebuilt shard is on one of the disks',
      );
      await c.call('VolumeEcShardsMount', { volume_id: vid, collection, shard_ids: [repair] });
      assert.equal((await ecNeedle(h.server.grpcAddress, h.dirs, collection, vid, needles[2].key)).deleted, true, 'deleted needle back after the repair');
      for (const n of needles) if (n !== needles[2]) await verifyEcRead(h, collection, vid, n.key, n.payload, 'after-repair');
    } finally {
      c.close();
    }
    await h.server.stop('SIGKILL');
  });

  test('TestEcPartialShardsOnSiblingDiskCleanedUpOnRestart', async () => {
    const vid = 9501;
    const collection = 'ec-9478';
    const partialShard = 1;
    const h = await multiDiskServer(master, 2);
    servers.push(h);
    const [d0, d1] = h.dirs;
    const fid = fileId(vid, 7777, 0xcafebabe);
    const payload = bytesOfLen(4096, 0xc7);
    const c = volumeClient(h.server.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: vid, collection, replication: '000', version: 3 });
      await upload(h.server.url, fid, payload);
    } finally {
      c.close();
    }
    const datSize = statSync(join(d0, `${baseName(collection, vid)}.dat`)).size;
    assert.ok(datSize > 0);
    await h.stop();

    // The footprint of an interrupted encode on disk 1: one full-size shard, .ecx, .ecj, .vif.
    const shardSize = plantedShardSize(datSize);
    writeFileSync(join(d1, shardName(collection, vid, partialShard)), Buffer.alloc(shardSize));
    writeFileSync(join(d1, `${baseName(collection, vid)}.ecx`), 'dummy ecx');
    writeFileSync(join(d1, `${baseName(collection, vid)}.ecj`), '');
    const vi = emptyVolumeInfo();
    vi.version = 3;
    vi.datFileSize = datSize;
    vi.ecShardConfig = { dataShards: DATA_SHARDS, parityShards: TOTAL_SHARDS - DATA_SHARDS, encodeTsNs: 0n, unknown: {} };
    await saveVolumeInfo(join(d1, `${baseName(collection, vid)}.vif`), vi);
    const pre = shardLayout(h.dirs, collection, vid);
    assert.equal(pre[0].length, 0);
    assert.equal(pre[1].length, 1);

    await h.start();
    await waitFor(async () => shardLayout(h.dirs, collection, vid)[1].length === 0, 10_000, 'the partial shard pruned');
    for (const ext of ['.ecx', '.ecj']) assert.ok(!fileExistsIn(d1, collection, vid, ext), `${ext} survived the prune on disk 1`);
    assert.ok(fileExistsIn(d0, collection, vid, '.dat'), 'the prune kept the healthy .dat');
    assert.ok(fileExistsIn(d0, collection, vid, '.idx'), 'the prune kept the healthy .idx');
    const c2 = volumeClient(h.server.grpcAddress);
    try {
      await assert.rejects(c2.call('VolumeEcShardsInfo', { volume_id: vid }), /not found/);
    } finally {
      c2.close();
    }
    await verifyRead(h.server.url, fid, payload, 'after-prune');
    await h.server.stop('SIGKILL');
  });

  test('TestReceiveFileEcShardHonorsDiskID and TestReceiveFileEcShardRejectsInvalidDiskID', async () => {
    const h = await multiDiskServer(master, 3);
    servers.push(h);
    const vid = 9184;
    const collection = 'ec-disk-placement';
    const shards = [
      { shardId: 0, requestedDisk: 1, expectedDir: 1 },
      { shardId: 5, requestedDisk: 2, expectedDir: 2 },
      { shardId: 13, requestedDisk: 0, expectedDir: 0 },
    ];
    for (const s of shards) {
      const payload = Buffer.from(`ec-shard-payload-${String(s.shardId).padStart(2, '0')}`);
      const ext = `.ec${String(s.shardId).padStart(2, '0')}`;
      const info = { volume_id: vid, ext, collection, is_ec_volume: true, shard_id: s.shardId, file_size: payload.length, disk_id: s.requestedDisk };
      const resp = await receiveFile(h.server.grpcAddress, info, payload);
      assert.equal(resp.error, '', `shard ${s.shardId}`);
      assert.equal(Number(resp.bytes_written), payload.length);
    }
    for (const s of shards) {
      h.dirs.forEach((d, i) => {
        const present = existsSync(join(d, shardName(collection, vid, s.shardId)));
        assert.equal(present, i === s.expectedDir, `shard ${s.shardId} (disk_id ${s.requestedDisk}) on dir[${i}]`);
      });
    }

    // An out-of-range disk_id is refused in the response, and nothing is written anywhere.
    const payload = Buffer.from('invalid-disk-id-payload');
    const bad = await receiveFile(h.server.grpcAddress, {
      volume_id: 91840,
      ext: '.ec00',
      collection: 'ec-invalid-disk',
      is_ec_volume: true,
      shard_id: 0,
      file_size: payload.length,
      disk_id: 99,
    });
    assert.match(bad.error, /invalid disk_id 99/);
    for (const d of h.dirs) assert.equal(readdirSync(d).filter((n) => n.startsWith('ec-invalid-disk_')).length, 0);
    await h.server.stop('SIGKILL');
  });

  test('TestVolumeEcShardsInfoReturnsAllShardsAcrossDisks', async () => {
    const vid = 9558;
    const collection = 'ec-multi-disk-verify';
    const h = await multiDiskServer(master, 2);
    servers.push(h);
    const [d0, d1] = h.dirs;
    const needles = [
      { key: 9559, fid: fileId(vid, 9559, 0xc0ffee01), payload: bytesOfLen(64, 0xb1) },
      { key: 9560, fid: fileId(vid, 9560, 0xc0ffee02), payload: bytesOfLen(8192, 0xb2) },
      { key: 9561, fid: fileId(vid, 9561, 0xc0ffee03), payload: bytesOfLen(131072, 0xb3) },
    ];
    let c = volumeClient(h.server.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: vid, collection, replication: '000', version: 3 });
      for (const n of needles) await upload(h.server.url, n.fid, n.payload);
      await c.call('VolumeEcShardsGenerate', { volume_id: vid, collection }, 60_000);
      await c.call('VolumeEcShardsMount', { volume_id: vid, collection, shard_ids: [...Array(TOTAL_SHARDS).keys()] });
      await c.call('VolumeDelete', { volume_id: vid });
    } finally {
      c.close();
    }
    await h.stop();
    for (let s = 0; s < 7; s++) moveShard(d0, d1, collection, vid, s);
    assert.ok(!fileExistsIn(d1, collection, vid, '.ecx'));
    await h.start();
    const layout = shardLayout(h.dirs, collection, vid);
    assert.equal(layout[0].length + layout[1].length, TOTAL_SHARDS);
    assert.ok(layout[0].length > 0 && layout[1].length > 0, `shards on both disks: ${JSON.stringify(layout)}`);
    c = volumeClient(h.server.grpcAddress);
    try {
      const info = await c.call<{
        ec_shard_infos: { shard_id: number; volume_id: number }[];
        ec_shard_config: { data_shards: number; parity_shards: number; block_size: string };
      }>('VolumeEcShardsInfo', { volume_id: vid });
      for (const s of info.ec_shard_infos) assert.equal(s.volume_id, vid);
      // The layout the holder reads with, which the worker's gate compares with the encode's.
      const vif = JSON.parse(readFileSync(join(d0, `${baseName(collection, vid)}.vif`), 'utf8')) as { ecShardConfig: { blockSize: string } };
      assert.ok(Number(vif.ecShardConfig.blockSize) > 0);
      assert.deepEqual(info.ec_shard_config, { data_shards: DATA_SHARDS, parity_shards: TOTAL_SHARDS - DATA_SHARDS, encode_ts_ns: '0', block_size: vif.ecShardConfig.blockSize });
      // The union the ec.encode worker's source-deletion gate computes (VerifyShardsAcrossServers).
      let bits = 0;
      for (const s of info.ec_shard_infos) if (s.shard_id < 32) bits |= 1 << s.shard_id;
      assert.equal(bits, (1 << TOTAL_SHARDS) - 1, `shard ids ${JSON.stringify(info.ec_shard_infos.map((s) => s.shard_id))}`);
      assert.equal(info.ec_shard_infos.length, TOTAL_SHARDS);
      // A copy of shards two local disks already own has no single destination (Go refuses it too).
      const before = readFileSync(join(d0, shardName(collection, vid, 7)));
      await assert.rejects(
        c.call('VolumeEcShardsCopy', { volume_id: vid, collection, shard_ids: [0, 7], source_data_node: `127.0.0.1:${h.server.port}` }),
        /volume 9558 shards \[0 7\] are already owned by multiple local disks \[.*volume0 .*volume1\]: no single destination; copy per shard or pass disk_id/,
      );
      assert.ok(readFileSync(join(d0, shardName(collection, vid, 7))).equals(before), 'shard 7 untouched');
    } finally {
      c.close();
    }
    for (const n of needles) await verifyEcRead(h, collection, vid, n.key, n.payload, 'after-reconcile');

    // Shards leave disk by disk: the index on disk 0 stays while disk 1 still holds shards (they
    // mount against it after a restart), and goes from every disk with the last shard.
    const upper = [...Array(TOTAL_SHARDS).keys()].filter((s) => s >= 7);
    const lower = [...Array(7).keys()];
    c = volumeClient(h.server.grpcAddress);
    try {
      await c.call('VolumeEcShardsUnmount', { volume_id: vid, shard_ids: upper });
      await c.call('VolumeEcShardsDelete', { volume_id: vid, collection, shard_ids: upper });
    } finally {
      c.close();
    }
    assert.deepEqual(shardLayout(h.dirs, collection, vid), [[], lower]);
    for (const ext of ['.ecx', '.vif']) assert.ok(fileExistsIn(d0, collection, vid, ext), `${ext} kept on disk 0 while disk 1 has shards`);
    await h.stop();
    await h.start();
    c = volumeClient(h.server.grpcAddress);
    try {
      const info = await c.call<{ ec_shard_infos: { shard_id: number }[] }>('VolumeEcShardsInfo', { volume_id: vid });
      assert.deepEqual(info.ec_shard_infos.map((s) => s.shard_id).sort((a, b) => a - b), lower);
      await c.call('VolumeEcShardsUnmount', { volume_id: vid, shard_ids: lower });
      await c.call('VolumeEcShardsDelete', { volume_id: vid, collection, shard_ids: lower });
    } finally {
      c.close();
    }
    for (const d of h.dirs) {
      assert.deepEqual(readdirSync(d).filter((n) => n.startsWith(`${collection}_${vid}.`)), [], `nothing of volume ${vid} left in ${d}`);
    }
    await h.server.stop('SIGKILL');
  });
});

/** The shard size a full encode of `datSize` bytes gives (10 data shards, 1 GiB / 1 MiB blocks). */
function plantedShardSize(datSize: number): number {
  const large = 1024 * 1024 * 1024;
  const small = 1024 * 1024;
  const numLarge = Math.floor(datSize / (large * DATA_SHARDS));
  let size = numLarge * large;
  const remaining = datSize - numLarge * large * DATA_SHARDS;
  if (remaining > 0) size += Math.ceil(remaining / (small * DATA_SHARDS)) * small;
  return size;
}
