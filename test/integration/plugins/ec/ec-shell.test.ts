// Erasure coding driven by the real `weed shell` against a Go master and four of our servers: a
// volume filled through the master's assign is encoded (ec.encode), its needles read back
// byte-exact through every server, some deleted, one server stopped and its shards rebuilt
// (ec.rebuild), the shards balanced (ec.balance), and the volume decoded back (ec.decode) — after
// each step every needle is read again through every live server, deleted ones answering 404.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  assignBatch,
  assertReadsEverywhere,
  assertRebuiltShardsEqual,
  assertShardsSpread,
  mixedBodies,
  primaryShardOf,
  uploadNeedle,
  eachLimited,
  fidOf,
  shardFilesIn,
  waitUnregistered,
  weedShellOk,
  type Needle,
} from '../../../helpers/cluster.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, waitRegistered, type Master, type VolumeServer } from '../../../helpers/processes.js';

const SERVERS = 4;
const NEEDLES = 300;
// Every server is on 127.0.0.1: peers may pull shards from loopback addresses (Go's default
// refuses them, weed/server/volume_grpc_remote.go checkBlockedIPPolicy).
const OUR_ARGS = ['--volume.allowUntrustedRemoteEndpoints'];
const OUR_ENV = { WEED_OFFSET_BYTES: '5' };

describe('EC through weed shell on a cluster of our servers', { timeout: 170_000 }, () => {
  let master: Master;
  const servers: VolumeServer[] = [];
  let live: VolumeServer[] = [];
  let vid = 0;
  let source: VolumeServer;
  let victim: VolumeServer;
  const needles: Needle[] = [];

  before(async () => {
    master = await startMaster(100, 5);
    for (let i = 0; i < SERVERS; i++) {
      servers.push(await startVolumeServer({ master: master.address, extraArgs: OUR_ARGS, env: OUR_ENV }));
    }
    for (const s of servers) await waitRegistered(master, s.port);
    live = [...servers];
  });
  after(async () => {
    for (const s of servers) await s.stop('SIGKILL');
    await master?.stop();
    cleanup(...servers.map((s) => s.dir), ...(master ? [master.dir] : []));
  });

  test('a volume filled through the master assign', async () => {
    const a = await assignBatch(master, NEEDLES);
    vid = a.vid;
    const target = servers.find((s) => a.url === `127.0.0.1:${s.port}`);
    assert.ok(target, `assigned to ${a.url}`);
    source = target;
    const bodies = mixedBodies(NEEDLES);
    bodies.forEach((body, i) => needles.push({ fid: fidOf(vid, a.firstKey + BigInt(i), a.cookie), body, deleted: false }));
    await eachLimited(needles, 4, (n) => uploadNeedle(target, n.fid, n.body));
    assert.ok(needles.filter((n) => n.body.length > 1024 * 1024).length >= 5);
    assert.ok(existsSync(join(target.dir, `${vid}.dat`)));
    // Only through the holder: a server that proxies a read caches the volume's locations for 10
    // minutes (as Go's operation.LookupVolumeIds does), which would still point here after
    // ec.decode puts the volume elsewhere.
    await assertReadsEverywhere([target], needles, 'before encoding');
  });

  test('ec.encode spreads the shards over the servers, every needle reads back everywhere', async () => {
    const out = await weedShellOk(master, [`ec.encode -volumeId=${vid} -force`]);
    assert.match(out, new RegExp(`generateEcShards ${vid} \\(collection ""\\) on 127\\.0\\.0\\.1:${source.port}`), out);
    for (const s of servers) {
      assert.equal(existsSync(join(s.dir, `${vid}.dat`)), false, `${s.port} still has ${vid}.dat`);
    }
    const layout = assertShardsSpread(servers, vid);
    const holders = [...layout.values()].filter((ids) => ids.length > 0).length;
    assert.equal(holders, SERVERS, 'ec.encode balances the shards onto every server');
    await assertReadsEverywhere(servers, needles, 'after ec.encode');
  });

  test('deletes through any server stay deleted', async () => {
    const layout = assertShardsSpread(servers, vid);
    // The server stopped later: the holder of the fewest shards, so the others keep at least the
    // 10 a rebuild needs.
    victim = [...layout].filter(([, ids]) => ids.length > 0).sort((a, b) => a[1].length - b[1].length)[0][0];
    assert.ok(14 - layout.get(victim)!.length >= 10);
    // A delete is journalled on the holder of the needle's first shard (as Go does): deleting
    // needles whose first shard the victim holds would lose the delete with it.
    const holderOf = (shard: number) => [...layout].find(([, ids]) => ids.includes(shard))![0];
    const survives = (n: Needle) => holderOf(primaryShardOf(servers.map((s) => s.dir), n.fid, 5)) !== victim;
    const doomed = [
      ...needles.filter((n) => n.body.length > 1024 * 1024 && survives(n)).slice(0, 2),
      ...needles.filter((n, i) => i % 7 === 0 && n.body.length <= 1024 * 1024 && survives(n)).slice(0, 4),
    ];
    assert.equal(doomed.length, 6);
    for (const [i, n] of doomed.entries()) {
      const r = await rawRequest('DELETE', `${servers[i % SERVERS].url}/${n.fid}`);
      assert.equal(r.status, 202, `delete ${n.fid}: ${r.status} ${r.body.toString()}`);
      n.deleted = true;
    }
    await assertReadsEverywhere(servers, needles, 'after deletes');
  });

  test('the encoding server restarts: its shards load from disk and serve as before', async () => {
    const old = source;
    const i = servers.indexOf(old);
    assert.equal(await old.stop(), 0);
    await waitUnregistered(master, source.port);
    source = await startVolumeServer({ master: master.address, dir: source.dir, port: source.port, extraArgs: OUR_ARGS, env: OUR_ENV });
    servers[i] = source;
    if (victim === old) victim = source;
    await waitRegistered(master, source.port);
    assertShardsSpread(servers, vid);
    await assertReadsEverywhere(servers, needles, 'after the restart');
  });

  test('a server stops; ec.rebuild regenerates its shards on the others', async () => {
    const layout = assertShardsSpread(servers, vid);
    await victim.stop();
    live = servers.filter((s) => s !== victim);
    await waitUnregistered(master, victim.port);
    await weedShellOk(master, ['ec.rebuild -apply']);
    assertShardsSpread(live, vid);
    assertRebuiltShardsEqual(victim, layout.get(victim)!, live, vid);
    await assertReadsEverywhere(live, needles, 'after ec.rebuild');
  });

  test('ec.balance keeps every shard once, reads still right', async () => {
    await weedShellOk(master, ['ec.balance -apply']);
    const layout = assertShardsSpread(live, vid);
    // Go's balancer spreads a volume's data and parity shards each evenly over the nodes of a rack
    // (weed/storage/erasure_coding/ecbalancer/balancer.go detectWithinRackImbalance; every server
    // here is one rack): no server keeps more than its share of either.
    for (const [s, ids] of layout) {
      const data = ids.filter((id) => id < 10).length;
      assert.ok(data <= Math.ceil(10 / live.length), `${s.port} keeps ${data} data shards: ${ids.join(',')}`);
      assert.ok(ids.length - data <= Math.ceil(4 / live.length), `${s.port} keeps ${ids.length - data} parity shards: ${ids.join(',')}`);
    }
    await assertReadsEverywhere(live, needles, 'after ec.balance');
  });

  test('ec.decode turns the shards back into a normal volume', async () => {
    await weedShellOk(master, [`ec.decode -volumeId=${vid}`]);
    const withDat = live.filter((s) => existsSync(join(s.dir, `${vid}.dat`)));
    assert.equal(withDat.length, 1, 'one server holds the decoded volume');
    assert.ok(existsSync(join(withDat[0].dir, `${vid}.idx`)));
    for (const s of live) {
      assert.deepEqual(shardFilesIn(s.dir, vid), [], `${s.port} keeps no shards`);
      assert.equal(existsSync(join(s.dir, `${vid}.ecx`)), false, `${s.port} keeps no .ecx`);
    }
    const status = (await (await fetch(`${withDat[0].url}/status`)).json()) as { Volumes: { Id: number }[]; EcVolumes: unknown[] };
    assert.ok(status.Volumes.some((v) => v.Id === vid), 'the decoded volume is mounted');
    assert.equal(status.EcVolumes.length, 0);
    await assertReadsEverywhere(live, needles, `after ec.decode (volume on ${withDat[0].port})`);
  });
});
