// Bad input to the EC RPCs of our server, each answered with a clear error of the Go server's kind
// and nothing lost: shard ids past `.ec31` or repeated, a missing .ecx, truncated shards, corrupt
// .ecx rows, a copy source that dies mid-stream, and an encode killed with SIGKILL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readIdxEntry, writeIdxEntry } from '../../../../core/storage/idx.js';
import { indexEntrySize } from '../../../../core/storage/types.js';
import { ecShardRead, volumeClient, type VolumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, tempDir, waitFor, waitRegistered, type Master, type VolumeServer } from '../../../helpers/processes.js';

const WIDTH = 5;
const ENV = { WEED_OFFSET_BYTES: String(WIDTH) };
const ALL = [...Array(14).keys()];

function fid(vid: number, key: number): string {
  return `${vid},${key.toString(16)}0000abcd`;
}

function shardPath(dir: string, vid: number, shard: number): string {
  return join(dir, `${vid}.ec${String(shard).padStart(2, '0')}`);
}

function ecFilesOf(dir: string, vid: number): string[] {
  return readdirSync(dir).filter((n) => new RegExp(`^${vid}\\.(ec\\d\\d|ecx|ecj)$`).test(n));
}

async function shardRead(address: string, req: object): Promise<Buffer> {
  return (await ecShardRead(address, req)).data;
}

async function writeNeedles(server: VolumeServer, c: VolumeClient, vid: number, bodies: Buffer[]): Promise<void> {
  await c.call('AllocateVolume', { volume_id: vid, collection: '', replication: '000', version: 3 });
  for (let i = 0; i < bodies.length; i++) {
    const r = await rawRequest('POST', `${server.url}/${fid(vid, i + 1)}`, { 'Content-Type': 'application/octet-stream' }, bodies[i]);
    assert.equal(r.status, 201, r.body.toString());
  }
}

/** A volume of `bodies`, EC encoded, its regular copy deleted: the shards are the only copy. */
async function ecOnly(server: VolumeServer, c: VolumeClient, vid: number, bodies: Buffer[]): Promise<void> {
  await writeNeedles(server, c, vid, bodies);
  await c.call('VolumeEcShardsGenerate', { volume_id: vid, collection: '' }, 60_000);
  await c.call('VolumeDelete', { volume_id: vid });
}

async function verifyGet(server: VolumeServer, vid: number, bodies: Buffer[]): Promise<void> {
  for (let i = 0; i < bodies.length; i++) {
    const r = await rawRequest('GET', `${server.url}/${fid(vid, i + 1)}`);
    assert.equal(r.status, 200, `GET ${fid(vid, i + 1)}: ${r.body.toString()}`);
    assert.ok(r.body.equals(bodies[i]), `needle ${i + 1} bytes`);
  }
}

describe('EC bad input: clear errors, nothing lost', { timeout: 175_000 }, () => {
  let master: Master;
  let ours: VolumeServer;
  let c: VolumeClient;
  const dir = tempDir('ts-weed-ec-bad-');
  const extra: VolumeServer[] = [];
  const extraDirs: string[] = [];
  const small = Array.from({ length: 5 }, (_, i) => randomBytes(300_000 + i * 17));

  before(async () => {
    master = await startMaster(1000, WIDTH);
    ours = await startVolumeServer({ master: master.address, dir, env: ENV, extraArgs: ['--max', '30', '--volume.allowUntrustedRemoteEndpoints'] });
    await waitRegistered(master, ours.port);
    c = volumeClient(ours.grpcAddress);
  });
  after(async () => {
    c?.close();
    for (const s of [ours, ...extra]) await s?.stop('SIGKILL');
    await master.stop();
    cleanup(dir, master.dir, ...extraDirs);
  });

  test('shard ids past .ec31 or listed twice are refused before anything is done', async () => {
    const vid = 11;
    await ecOnly(ours, c, vid, small);
    await assert.rejects(c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: [0, 2, 2] }), /shard id 2 is listed twice/);
    await assert.rejects(c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: [0, 40] }), /shard id 40 is out of range \(max 31\)/);
    // Go narrows ids to a byte: 259 would mount shard 3. Refused.
    await assert.rejects(c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: [259] }), /shard id 259 is out of range/);
    // Shard 0 came first in both refused requests: not mounted by either.
    await assert.rejects(c.call('VolumeEcShardsInfo', { volume_id: vid }), /EC volume 11 not found/);

    await c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: ALL });
    await assert.rejects(c.call('VolumeEcShardsUnmount', { volume_id: vid, shard_ids: [3, 3] }), /shard id 3 is listed twice/);
    await assert.rejects(c.call('VolumeEcShardsUnmount', { volume_id: vid, shard_ids: [1, 99] }), /shard id 99 is out of range/);
    await assert.rejects(c.call('VolumeEcShardsDelete', { volume_id: vid, collection: '', shard_ids: [5, 5] }), /shard id 5 is listed twice/);
    await assert.rejects(c.call('VolumeEcShardsDelete', { volume_id: vid, collection: '', shard_ids: [6, 32] }), /shard id 32 is out of range/);
    await assert.rejects(
      c.call('VolumeEcShardsCopy', { volume_id: vid, collection: '', shard_ids: [2, 2], source_data_node: `127.0.0.1:${ours.port}` }),
      /shard id 2 is listed twice/,
    );
    await assert.rejects(
      c.call('VolumeEcShardsCopy', { volume_id: vid, collection: '', shard_ids: [33], source_data_node: `127.0.0.1:${ours.port}` }),
      /shard id 33 is out of range/,
    );
    // Nothing was unmounted or deleted by the refused requests.
    const info = await c.call<{ ec_shard_infos: unknown[] }>('VolumeEcShardsInfo', { volume_id: vid });
    assert.equal(info.ec_shard_infos.length, 14);
    for (const s of ALL) assert.ok(existsSync(shardPath(dir, vid, s)), `shard ${s} still on disk`);
  });

  test('a missing .ecx: mount refused with Go text, the shards kept through a restart', async () => {
    const vid = 12;
    await ecOnly(ours, c, vid, small);
    const ecx = join(dir, `${vid}.ecx`);
    const saved = readFileSync(ecx);
    rmSync(ecx);
    await assert.rejects(c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: [0] }), /mount 12\.0: MountEcShards 12\.0: no \.ecx index found on any local disk/);
    assert.equal(await ours.stop(), 0);
    c.close();
    ours = await startVolumeServer({ master: master.address, dir, port: ours.port, env: ENV, extraArgs: ['--max', '30', '--volume.allowUntrustedRemoteEndpoints'] });
    c = volumeClient(ours.grpcAddress);
    // No .dat beside them: they may be the only copy, so they are neither mounted nor removed.
    await assert.rejects(c.call('VolumeEcShardsInfo', { volume_id: vid }), /EC volume 12 not found/);
    for (const s of ALL) assert.ok(existsSync(shardPath(dir, vid, s)), `shard ${s} kept`);
    writeFileSync(ecx, saved);
    await c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: ALL });
    const info = await c.call<{ ec_shard_infos: unknown[]; file_count: string }>('VolumeEcShardsInfo', { volume_id: vid });
    assert.equal(info.ec_shard_infos.length, 14);
    assert.equal(info.file_count, '5');
  });

  test('truncated shards: an empty one is not mounted, a short one reads short and fails a decode and a rebuild without writing anything', async () => {
    const vid = 13;
    await ecOnly(ours, c, vid, small);
    const original = readFileSync(shardPath(dir, vid, 0));
    truncateSync(shardPath(dir, vid, 12), 0);
    await assert.rejects(
      c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: [12] }),
      /shard file is empty \(0 bytes\) but the index has 5 entries: residue of a failed copy, not a mountable shard/,
    );
    await assert.rejects(c.call('VolumeEcShardsInfo', { volume_id: vid }), /EC volume 13 not found/);
    // Shard 0 holds the start of the .dat: cut it to 100 bytes.
    truncateSync(shardPath(dir, vid, 0), 100);
    await c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: ALL.filter((s) => s !== 12) });
    const got = await shardRead(ours.grpcAddress, { volume_id: vid, shard_id: 0, offset: 0, size: 1000 });
    assert.equal(got.length, 100, 'a read past the end of a shard returns what exists');
    // With the encode's .ecsum beside it, the decode refuses the shard before writing anything;
    // without a sidecar the short read itself stops it.
    await assert.rejects(c.call('VolumeEcShardsToVolume', { volume_id: vid, collection: '' }, 30_000), /data shard 0 .*13\.ec00 fails its bitrot checksum/);
    assert.ok(!existsSync(join(dir, `${vid}.dat`)), 'no .dat from a refused decode');
    rmSync(join(dir, `${vid}.ecsum`));
    await assert.rejects(c.call('VolumeEcShardsToVolume', { volume_id: vid, collection: '' }, 30_000), /WriteDatFile .*short read/);
    assert.ok(!existsSync(join(dir, `${vid}.dat`)), 'no .dat from a failed decode');
    assert.ok(!existsSync(join(dir, `${vid}.dat.tmp`)), 'no temp .dat left');
    // A rebuild of the empty shard 12 refuses an input shorter than the others instead of
    // regenerating from it.
    await assert.rejects(c.call('VolumeEcShardsRebuild', { volume_id: vid, collection: '' }, 30_000), /RebuildEcFiles .*ec shard size expected 100 actual 1048576/);
    for (const s of ALL.filter((s) => s !== 12)) assert.ok(existsSync(shardPath(dir, vid, s)), `shard ${s} kept`);
    // The shard comes back whole: the decode then works and every needle is there.
    await c.call('VolumeEcShardsUnmount', { volume_id: vid, shard_ids: [0] });
    writeFileSync(shardPath(dir, vid, 0), original);
    await c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: [0] });
    await c.call('VolumeEcShardsToVolume', { volume_id: vid, collection: '' }, 30_000);
    await c.call('VolumeEcShardsUnmount', { volume_id: vid, shard_ids: ALL.filter((s) => s !== 12) });
    await c.call('VolumeMount', { volume_id: vid });
    await verifyGet(ours, vid, small);
  });

  test('corrupt .ecx rows: out of order ids miss in the search but survive a decode; an offset past the end fails the decode', async () => {
    const es = indexEntrySize(WIDTH);
    const vid = 14;
    await ecOnly(ours, c, vid, small);
    const ecx = join(dir, `${vid}.ecx`);
    const rows = readFileSync(ecx);
    assert.equal(rows.length, 5 * es);
    // Ids 1..5 become 5,2,3,4,1: the binary search for 1 goes left of 3, then of 2, then of 5.
    const swapped = Buffer.from(rows);
    rows.copy(swapped, 0, 4 * es, 5 * es);
    rows.copy(swapped, 4 * es, 0, es);
    writeFileSync(ecx, swapped);
    await c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: ALL });
    await assert.rejects(
      c.call('VolumeEcBlobDelete', { volume_id: vid, collection: '', file_key: '1', version: 3 }),
      /locate in local ec volume: .*needle not found/,
    );
    assert.ok(!existsSync(join(dir, `${vid}.ecj`)) || statSync(join(dir, `${vid}.ecj`)).size === 0, 'nothing journalled');
    // A decode turns the rows into a .idx, where order does not matter: every needle is back.
    await c.call('VolumeEcShardsToVolume', { volume_id: vid, collection: '' }, 30_000);
    await c.call('VolumeEcShardsUnmount', { volume_id: vid, shard_ids: ALL });
    await c.call('VolumeMount', { volume_id: vid });
    await verifyGet(ours, vid, small);

    const vid2 = 15;
    await ecOnly(ours, c, vid2, small);
    const ecx2 = join(dir, `${vid2}.ecx`);
    const rows2 = readFileSync(ecx2);
    const e = readIdxEntry(rows2, 2 * es, WIDTH);
    writeIdxEntry(rows2, 2 * es, { ...e, offset: 8 * 2 ** 31 }, WIDTH);
    writeFileSync(ecx2, rows2);
    await c.call('VolumeEcShardsMount', { volume_id: vid2, collection: '', shard_ids: ALL });
    await assert.rejects(c.call('VolumeEcShardsToVolume', { volume_id: vid2, collection: '' }, 30_000), /WriteDatFile .*exceeds encoded dat file size/);
    assert.ok(!existsSync(join(dir, `${vid2}.dat`)), 'no .dat from a failed decode');
    for (const s of ALL) assert.ok(existsSync(shardPath(dir, vid2, s)), `shard ${s} kept`);
  });

  test('a copy source killed mid-stream: a clear error, no partial shard left, nothing mounted', async () => {
    const vid = 16;
    const srcDir = tempDir('ts-weed-ec-bad-src-');
    const dstDir = tempDir('ts-weed-ec-bad-dst-');
    extraDirs.push(srcDir, dstDir);
    const src = await startVolumeServer({ master: master.address, dir: srcDir, env: ENV });
    const dst = await startVolumeServer({ master: master.address, dir: dstDir, env: ENV, extraArgs: ['--volume.allowUntrustedRemoteEndpoints'] });
    extra.push(src, dst);
    const sc = volumeClient(src.grpcAddress);
    const dc = volumeClient(dst.grpcAddress);
    try {
      // 60 MB: shards of 6 MB, copied at 2 MB/s.
      const big = randomBytes(4 * 1024 * 1024);
      await writeNeedles(src, sc, vid, Array.from({ length: 15 }, () => big));
      await sc.call('VolumeEcShardsGenerate', { volume_id: vid, collection: '' }, 60_000);
      const copying = dc.call(
        'VolumeEcShardsCopy',
        { volume_id: vid, collection: '', shard_ids: [0, 1, 2], copy_ecx_file: true, source_data_node: `127.0.0.1:${src.port}`, io_byte_per_second: 2 * 1024 * 1024 },
        60_000,
      );
      await waitFor(async () => existsSync(shardPath(dstDir, vid, 0)), 10_000, 'the copy started');
      await src.stop('SIGKILL');
      await assert.rejects(copying, /VolumeEcShardsCopy volume 16: /);
      // Whatever is on the target is a whole shard of the source; the one cut short is gone.
      const left = ecFilesOf(dstDir, vid);
      for (const name of left) assert.ok(readFileSync(join(dstDir, name)).equals(readFileSync(join(srcDir, name))), `${name} is whole`);
      assert.ok(!left.includes(`${vid}.ecx`), 'no .ecx: the copy never got that far');
      await assert.rejects(dc.call('VolumeEcShardsInfo', { volume_id: vid }), /EC volume 16 not found/);
      await assert.rejects(dc.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: [0, 1, 2] }), /no \.ecx index found/);
    } finally {
      sc.close();
      dc.close();
    }
  });

  test('an encode killed with SIGKILL: after the restart the .dat serves and the partial shards are gone', async () => {
    const vid = 17;
    const encDir = tempDir('ts-weed-ec-bad-enc-');
    extraDirs.push(encDir);
    let enc = await startVolumeServer({ master: master.address, dir: encDir, env: ENV });
    extra.push(enc);
    let ec = volumeClient(enc.grpcAddress);
    // 208 MB in large needles: shards of 20.8 MB, written over a few seconds.
    const big = randomBytes(8 * 1024 * 1024);
    const bodies = Array.from({ length: 26 }, () => big);
    try {
      await writeNeedles(enc, ec, vid, bodies);
      const generating = ec.call('VolumeEcShardsGenerate', { volume_id: vid, collection: '' }, 120_000).then(
        () => 'finished',
        () => 'failed',
      );
      const datSize = statSync(join(encDir, `${vid}.dat`)).size;
      await waitFor(
        async () => {
          const size = existsSync(shardPath(encDir, vid, 0)) ? statSync(shardPath(encDir, vid, 0)).size : 0;
          return size > 0 && size < datSize / 10;
        },
        60_000,
        'shards being written',
      );
      await enc.stop('SIGKILL');
      assert.equal(await generating, 'failed');
    } finally {
      ec.close();
    }
    assert.ok(ecFilesOf(encDir, vid).length > 0, 'the kill left partial EC files');
    enc = await startVolumeServer({ master: master.address, dir: encDir, port: enc.port, env: ENV });
    extra.push(enc);
    ec = volumeClient(enc.grpcAddress);
    try {
      assert.deepEqual(ecFilesOf(encDir, vid), [], 'the restart removed the partial EC files');
      await assert.rejects(ec.call('VolumeEcShardsInfo', { volume_id: vid }), /EC volume 17 not found/);
      await verifyGet(enc, vid, [bodies[0]]);
      const last = await rawRequest('GET', `${enc.url}/${fid(vid, bodies.length)}`);
      assert.equal(last.status, 200);
      assert.ok(last.body.equals(big));
    } finally {
      ec.close();
    }
  });
});
