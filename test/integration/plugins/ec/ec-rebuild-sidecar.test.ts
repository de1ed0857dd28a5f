// VolumeEcShardsRebuild against the `.ecsum` sidecar: the present shards are checked in the
// rebuild's own read of them, and a shard that fails its checksum is never an input. A corrupt
// input beside missing shards is regenerated with them; too few good inputs, or regenerated
// shards the sidecar disowns, are refused with Go's texts and leave no new shard file (final or
// temp) behind, the present shards untouched.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadSidecar, saveSidecar } from '../../../../core/storage/ec-sum.js';
import { volumeClient, type VolumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, tempDir, waitRegistered, type Master, type VolumeServer } from '../../../helpers/processes.js';

const ALL = [...Array(14).keys()];

const fid = (vid: number, key: number) => `${vid},${key.toString(16)}0000abcd`;

describe('EC rebuild checks its inputs and outputs against the .ecsum', { timeout: 120_000 }, () => {
  let master: Master;
  let ours: VolumeServer;
  let c: VolumeClient;
  const dir = tempDir('ts-weed-ec-rebuild-sum-');
  // ~12 MB of needles: 2 MiB shards, rebuilt in several 1 MiB steps.
  const bodies = Array.from({ length: 12 }, (_, i) => randomBytes(1_000_000 + i * 31));

  const shardPath = (vid: number, shard: number) => join(dir, `${vid}.ec${String(shard).padStart(2, '0')}`);
  const tempFiles = () => readdirSync(dir).filter((n) => n.endsWith('.rebuilding'));
  const flipByte = (path: string, at: number) => {
    const b = readFileSync(path);
    b[at] ^= 0xff;
    writeFileSync(path, b);
  };

  /** A volume of `bodies`, EC encoded, the regular copy deleted; answers every shard's bytes. */
  async function ecVolume(vid: number): Promise<Buffer[]> {
    await c.call('AllocateVolume', { volume_id: vid, collection: '', replication: '000', version: 3 });
    for (let i = 0; i < bodies.length; i++) {
      const r = await rawRequest('POST', `${ours.url}/${fid(vid, i + 1)}`, { 'Content-Type': 'application/octet-stream' }, bodies[i]);
      assert.equal(r.status, 201, r.body.toString());
    }
    await c.call('VolumeEcShardsGenerate', { volume_id: vid, collection: '' }, 60_000);
    await c.call('VolumeDelete', { volume_id: vid });
    assert.ok(existsSync(join(dir, `${vid}.ecsum`)), 'the encode writes the sidecar');
    const shards = ALL.map((s) => readFileSync(shardPath(vid, s)));
    assert.ok(shards[0].length > 1024 * 1024, `shard size ${shards[0].length}`);
    return shards;
  }

  before(async () => {
    master = await startMaster(1000);
    ours = await startVolumeServer({ master: master.address, dir, extraArgs: ['--max', '30'] });
    await waitRegistered(master, ours.port);
    c = volumeClient(ours.grpcAddress);
  });
  after(async () => {
    c?.close();
    await ours?.stop('SIGKILL');
    await master?.stop();
    cleanup(dir, master?.dir);
  });

  test('a corrupt present shard beside missing ones is regenerated with them, every shard byte for byte', async () => {
    const vid = 21;
    const shards = await ecVolume(vid);
    for (const s of [1, 11]) rmSync(shardPath(vid, s));
    flipByte(shardPath(vid, 3), 1_500_000);
    const r = await c.call<{ rebuilt_shard_ids: number[] }>('VolumeEcShardsRebuild', { volume_id: vid, collection: '' }, 60_000);
    assert.deepEqual(r.rebuilt_shard_ids, [1, 11, 3]);
    for (const s of ALL) assert.ok(readFileSync(shardPath(vid, s)).equals(shards[s]), `shard ${s} byte for byte`);
    assert.deepEqual(tempFiles(), []);
    await c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: ALL });
    for (let i = 0; i < bodies.length; i++) {
      const g = await rawRequest('GET', `${ours.url}/${fid(vid, i + 1)}`);
      assert.equal(g.status, 200, g.body.toString());
      assert.ok(g.body.equals(bodies[i]), `needle ${i + 1}`);
    }
  });

  test('a corrupt input when exactly D are present: refused, no shard written, the inputs untouched', async () => {
    const vid = 22;
    await ecVolume(vid);
    const lost = [1, 5, 10, 12];
    for (const s of lost) rmSync(shardPath(vid, s));
    flipByte(shardPath(vid, 0), 2_000_000);
    const before = ALL.filter((s) => !lost.includes(s)).map((s) => readFileSync(shardPath(vid, s)));
    await assert.rejects(
      c.call('VolumeEcShardsRebuild', { volume_id: vid, collection: '' }, 60_000),
      /RebuildEcFiles .*22: bitrot: only 9 verified-good shards for .*22, need 10 data shards; sidecar may be stale \(pass unsafeIgnoreSidecar to override\)/,
    );
    for (const s of lost) assert.ok(!existsSync(shardPath(vid, s)), `no shard ${s} from a corrupt input`);
    assert.deepEqual(tempFiles(), []);
    ALL.filter((s) => !lost.includes(s)).forEach((s, k) => assert.ok(readFileSync(shardPath(vid, s)).equals(before[k]), `shard ${s} untouched`));
    // Forced, the rebuild uses what is there (Go's unsafeIgnoreSidecar).
    const forced = await c.call<{ rebuilt_shard_ids: number[] }>('VolumeEcShardsRebuild', { volume_id: vid, collection: '', unsafe_ignore_sidecar: true }, 60_000);
    assert.deepEqual(forced.rebuilt_shard_ids, lost);
    for (const s of lost) assert.ok(existsSync(shardPath(vid, s)), `shard ${s} forced`);
  });

  test('a sidecar that disowns a regenerated shard: refused, nothing published', async () => {
    const vid = 23;
    const shards = await ecVolume(vid);
    rmSync(shardPath(vid, 2));
    // The sidecar's checksum of shard 2 is wrong (stale): the good inputs rebuild bytes it disowns.
    const sumPath = join(dir, `${vid}.ecsum`);
    const prot = await loadSidecar(sumPath);
    prot.shards.find((s) => s.shardId === 2)!.blockCrc32c[0] ^= 0xff;
    await saveSidecar(sumPath, prot);
    await assert.rejects(
      c.call('VolumeEcShardsRebuild', { volume_id: vid, collection: '' }, 60_000),
      /bitrot: regenerated shard 2 for .*23 does not match sidecar \(1 blocks differ\); sidecar likely stale — aborting/,
    );
    assert.ok(!existsSync(shardPath(vid, 2)), 'no shard 2 the sidecar disowns');
    assert.deepEqual(tempFiles(), []);
    for (const s of ALL.filter((s) => s !== 2)) assert.ok(readFileSync(shardPath(vid, s)).equals(shards[s]), `shard ${s} untouched`);
  });
});
