// Erasure coding across a mixed cluster, driven by the real `weed shell`, in both offset widths:
// a volume EC-encoded by the Go volume server is spread onto our servers, served by them, and —
// once the Go server is gone — rebuilt and decoded by them; and the other way round, a volume our
// server encodes is served, rebuilt and decoded by Go volume servers. Every step reads every needle
// back byte-exact through every live server; deleted needles stay 404.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  assertReadsEverywhere,
  assertRebuiltShardsEqual,
  assertShardsSpread,
  eachLimited,
  fidOf,
  primaryShardOf,
  shardFilesIn,
  startGoVolumeServerWith,
  uploadNeedle,
  waitUnregistered,
  waitVolumeKnown,
  weedShellOk,
  type Needle,
} from '../../../helpers/cluster.js';
import { volumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import {
  cleanup,
  startMaster,
  startVolumeServer,
  tempDir,
  waitRegistered,
  type Master,
  type VolumeServer,
} from '../../../helpers/processes.js';

const VID = 17;
const NEEDLES = 60;
const COOKIE = '5eed1e55';

type Kind = 'go' | 'ours';

interface Cluster {
  master: Master;
  servers: VolumeServer[];
  dirs: string[];
}

const clusters: Cluster[] = [];

async function stopCluster(c: Cluster): Promise<void> {
  for (const s of c.servers) await s.stop('SIGKILL');
  await c.master.stop();
  cleanup(c.master.dir, ...c.dirs);
}

after(async () => {
  for (const c of clusters.splice(0)) await stopCluster(c);
});

/**
 * One server of `encoder`'s kind holding the volume, three of the other kind. The three get more
 * volume slots, so the shell's rebuilder and decode target (the nodes with the most free EC slots
 * and the most shards) are theirs once the encoder is stopped — they are the only ones left.
 * Every server is on 127.0.0.1, so all accept loopback peers (Go refuses them by default:
 * weed/server/volume_grpc_remote.go checkBlockedIPPolicy).
 */
async function startMixed(width: 4 | 5, encoder: Kind): Promise<{ c: Cluster; source: VolumeServer; others: VolumeServer[] }> {
  const master = await startMaster(100, width);
  const c: Cluster = { master, servers: [], dirs: [] };
  clusters.push(c);
  const start = async (kind: Kind, max: number): Promise<VolumeServer> => {
    const dir = tempDir(`ts-weed-ecmix-${kind}-`);
    c.dirs.push(dir);
    const s =
      kind === 'go'
        ? await startGoVolumeServerWith({ master: master.address, dir, width, max, extraArgs: ['-volume.allowUntrustedRemoteEndpoints'] })
        : await startVolumeServer({
            master: master.address,
            dir,
            extraArgs: ['--max', String(max), '--volume.allowUntrustedRemoteEndpoints'],
            env: { WEED_OFFSET_BYTES: String(width) },
          });
    c.servers.push(s);
    await waitRegistered(master, s.port);
    return s;
  };
  const source = await start(encoder, 10);
  const others: VolumeServer[] = [];
  for (let i = 0; i < 3; i++) others.push(await start(encoder === 'go' ? 'ours' : 'go', 30));
  return { c, source, others };
}

/** Allocates the volume on `source` and writes the needles through its HTTP port. */
async function fill(source: VolumeServer): Promise<Needle[]> {
  const vc = volumeClient(source.grpcAddress);
  try {
    await vc.call('AllocateVolume', { volume_id: VID, collection: '', replication: '000', version: 3 });
  } finally {
    vc.close();
  }
  const needles: Needle[] = [];
  for (let i = 0; i < NEEDLES; i++) {
    const size = i % 25 === 12 ? 1024 * 1024 + 4097 * i : i % 17 === 3 ? 0 : ((i * 7919) % 40_000) + 1;
    needles.push({ fid: fidOf(VID, BigInt(i + 1), COOKIE), body: randomBytes(size), deleted: false });
  }
  await eachLimited(needles, 4, (n) => uploadNeedle(source, n.fid, n.body));
  return needles;
}

async function deleteThrough(server: VolumeServer, n: Needle): Promise<void> {
  const r = await rawRequest('DELETE', `${server.url}/${n.fid}`);
  assert.equal(r.status, 202, `delete ${n.fid} through ${server.port}: ${r.status} ${r.body.toString()}`);
  n.deleted = true;
}

async function encodeRebuildDecode(width: 4 | 5, encoder: Kind): Promise<void> {
  const { c, source, others } = await startMixed(width, encoder);
  const needles = await fill(source);
  await assertReadsEverywhere([source], needles, `written on the ${encoder} server`);
  await waitVolumeKnown(c.master, VID);

  // ec.encode: the volume's only holder generates the shards, the balance spreads them.
  const out = await weedShellOk(c.master, [`ec.encode -volumeId=${VID} -force`], { width });
  assert.match(out, new RegExp(`generateEcShards ${VID} \\(collection ""\\) on 127\\.0\\.0\\.1:${source.port}`), out);
  assert.equal(existsSync(join(source.dir, `${VID}.dat`)), false, 'the encoded volume is deleted');
  const layout = assertShardsSpread(c.servers, VID);
  for (const s of others) assert.ok(layout.get(s)!.length > 0, `${s.port} got shards: ${out}`);
  const kept = layout.get(source)!.length;
  assert.ok(14 - kept >= 10, `the encoder keeps ${kept} shards`);

  // Deletes through either kind. Each is journalled on the holder of the needle's first shard (as
  // Go does): needles whose first shard stays on the encoder, which goes away below, are spared.
  const holderOf = (shard: number) => [...layout].find(([, ids]) => ids.includes(shard))![0];
  const spared = (n: Needle) => holderOf(primaryShardOf(c.servers.map((s) => s.dir), n.fid, width)) === source;
  const doomed = [...needles].sort((a, b) => b.body.length - a.body.length).filter((n) => !spared(n));
  await deleteThrough(others[0], doomed[0]);
  await deleteThrough(source, doomed[1]);
  await assertReadsEverywhere(c.servers, needles, 'after ec.encode');

  // The encoder goes away with its shards; the other kind rebuilds them from the rest.
  await source.stop();
  await waitUnregistered(c.master, source.port);
  const rebuilt = await weedShellOk(c.master, ['ec.rebuild -apply'], { width });
  assert.match(rebuilt, new RegExp(`rebuildOneEcVolume\\s+${VID}`), rebuilt);
  assertShardsSpread(others, VID);
  assertRebuiltShardsEqual(source, layout.get(source)!, others, VID);
  await deleteThrough(others[1], needles.slice(30).find((n) => !n.deleted)!);
  await assertReadsEverywhere(others, needles, 'after ec.rebuild');

  // ec.decode: the other kind turns the shards back into a normal volume.
  await weedShellOk(c.master, [`ec.decode -volumeId=${VID}`], { width });
  const holders = others.filter((s) => existsSync(join(s.dir, `${VID}.dat`)));
  assert.equal(holders.length, 1, 'one server holds the decoded volume');
  for (const s of others) assert.deepEqual(shardFilesIn(s.dir, VID), [], `${s.port} keeps no shards`);
  // Through the holder, and through the others, which relay the read to it.
  await assertReadsEverywhere(others, needles, `after ec.decode (volume on ${holders[0].port})`);
}

for (const width of [5, 4] as const) {
  describe(`EC in a mixed Go + ours cluster, ${width}-byte offsets`, { timeout: 170_000 }, () => {
    test('Go encodes; our servers serve, rebuild and decode', async () => {
      await encodeRebuildDecode(width, 'go');
      await stopCluster(clusters.pop()!);
    });
    test('we encode; Go servers serve, rebuild and decode', async () => {
      await encodeRebuildDecode(width, 'ours');
      await stopCluster(clusters.pop()!);
    });
  });
}
