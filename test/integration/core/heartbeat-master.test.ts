// Heartbeat deltas against the real Go master (Go's weed/server/volume_grpc_client_to_master.go and
// weed/storage/store.go CollectHeartbeat with its new/deleted volume and EC shard channels): each
// change on our server — a new volume (allocated, or grown by the master for an assign), a write,
// read-only and back, unmount and mount, EC shards mounted and unmounted, a deleted volume — shows
// in the master's own view (/dir/lookup, /vol/status, /dir/status, LookupEcVolume), and that view
// comes back when the master restarts and when the leader of three masters changes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { masterGrpcClient, volumeClient } from '../../helpers/grpc.js';
import { fileId, lookupUrls, masterDataNode, masterVolumes } from '../../helpers/master-view.js';
import { cleanup, freePort, startMaster, startVolumeServer, tempDir, waitFor, type Master, type VolumeServer } from '../../helpers/processes.js';

/** A full heartbeat goes every 5 s (PULSE_MS); a delta at once. Bounded generously for a loaded box. */
const SEEN_MS = 30_000;
const ALL_SHARDS = [...Array(14).keys()];
/** Above the ids the master hands out when it grows volumes for the assign. */
const EC_VID = 50;

async function grpc<T = Record<string, unknown>>(s: VolumeServer, rpc: string, req: object, timeoutMs?: number): Promise<T> {
  const c = volumeClient(s.grpcAddress);
  try {
    return await c.call<T>(rpc, req, timeoutMs);
  } finally {
    c.close();
  }
}

async function allocate(s: VolumeServer, vid: number): Promise<void> {
  await grpc(s, 'AllocateVolume', { volume_id: vid, collection: '', replication: '000', ttl: '', preallocate: 0, disk_type: '', version: 3 });
}

async function write(s: VolumeServer, vid: number, key: number, body: Buffer): Promise<void> {
  const r = await fetch(`${s.url}/${fileId(vid, key, 0xc0de)}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: new Uint8Array(body),
  });
  assert.equal(r.status, 201, `write ${vid}/${key}: ${await r.text()}`);
}

/** Our own view of a volume, from /status (Go's VolumeInfo shape). */
async function localVolume(s: VolumeServer, vid: number): Promise<{ FileCount: number } | undefined> {
  const body = (await (await fetch(`${s.url}/status`)).json()) as { Volumes: { Id: number; FileCount: number }[] };
  return body.Volumes.find((v) => v.Id === vid);
}

/** Shard ids the master lists at `nodeUrl` for an EC volume ([] when it knows none). */
async function masterEcShards(master: Master, vid: number, nodeUrl: string): Promise<number[]> {
  const c = masterGrpcClient(`127.0.0.1:${master.grpcPort}`);
  try {
    const r = await c.call<{ shard_id_locations: { shard_id: number; locations: { url: string }[] }[] }>('LookupEcVolume', { volume_id: vid });
    return r.shard_id_locations
      .filter((s) => s.locations.some((l) => l.url === nodeUrl))
      .map((s) => s.shard_id)
      .sort((a, b) => a - b);
  } catch {
    return []; // the master answers an error for an EC volume it does not know
  } finally {
    c.close();
  }
}

describe('heartbeat deltas against a real Go master', () => {
  let master: Master;
  let vs: VolumeServer;
  let node: string;
  const dir = tempDir('ts-weed-hb-master-');

  before(async () => {
    master = await startMaster(100);
    vs = await startVolumeServer({ master: master.address, dir, extraArgs: ['--max', '20'] });
    node = `127.0.0.1:${vs.port}`;
    await waitFor(async () => (await masterDataNode(master, node)) !== undefined, SEEN_MS, 'registered');
  });

  after(async () => {
    await vs?.stop();
    await master?.stop('SIGKILL');
    cleanup(dir);
    if (master) cleanup(master.dir);
  });

  test('a new volume, writes (size and file count), read-only and back, unmount and mount', async () => {
    await allocate(vs, 1);
    await waitFor(async () => (await lookupUrls(master, 1)).includes(node), SEEN_MS, 'volume 1 at the master');

    // Random bytes: a compressible body would be stored gzipped, smaller than sent.
    for (let k = 1; k <= 3; k++) await write(vs, 1, k, randomBytes(1000));
    assert.equal((await localVolume(vs, 1))?.FileCount, 3);
    // The heartbeat carries the .dat size (Go's CollectHeartbeat: v.FileStat), not the content size /status shows.
    const datSize = statSync(join(dir, '1.dat')).size;
    assert.ok(datSize > 3 * 1000, `size ${datSize}`);
    await waitFor(
      async () => {
        const v = (await masterVolumes(master, node)).get(1);
        return v?.FileCount === 3 && v.Size === datSize;
      },
      SEEN_MS,
      'the master counting 3 files and the .dat size of volume 1',
    );

    await grpc(vs, 'VolumeMarkReadonly', { volume_id: 1, persist: false });
    await waitFor(async () => (await masterVolumes(master, node)).get(1)?.ReadOnly === true, SEEN_MS, 'volume 1 read-only at the master');
    await grpc(vs, 'VolumeMarkWritable', { volume_id: 1 });
    await waitFor(async () => (await masterVolumes(master, node)).get(1)?.ReadOnly === false, SEEN_MS, 'volume 1 writable at the master');

    await grpc(vs, 'VolumeUnmount', { volume_id: 1 });
    await waitFor(async () => (await lookupUrls(master, 1)).length === 0, SEEN_MS, 'volume 1 gone from the master');
    assert.equal((await masterVolumes(master, node)).has(1), false);
    await grpc(vs, 'VolumeMount', { volume_id: 1 });
    await waitFor(async () => (await lookupUrls(master, 1)).includes(node), SEEN_MS, 'volume 1 back at the master');
    // The mount delta is a short message (no counts, as Go's NewVolumesChan); the next full heartbeat has them.
    await waitFor(async () => (await masterVolumes(master, node)).get(1)?.FileCount === 3, SEEN_MS, 'volume 1 counts 3 files again');
  });

  test('volumes the master grows for an assign reach it, and the assigned fid takes a write', async () => {
    type Assign = { fid?: string; url?: string; error?: string };
    let r: Assign = {};
    // The first assign starts the growth; the master answers a fid once a grown volume is writable.
    await waitFor(
      async () => {
        r = (await (await fetch(`${master.url}/dir/assign?collection=grown`)).json()) as Assign;
        return r.fid !== undefined;
      },
      SEEN_MS,
      'an assign in the grown collection',
    );
    assert.equal(r.url, node, `assign: ${JSON.stringify(r)}`);
    // The master may still be growing more volumes after it answered: wait until its view and our disk agree.
    const onDisk = () => readdirSync(dir).filter((f) => /^grown_\d+\.dat$/.test(f)).length;
    const atMaster = async () => [...(await masterVolumes(master, node)).values()].filter((v) => v.Collection === 'grown').length;
    await waitFor(async () => (await atMaster()) === onDisk(), SEEN_MS, 'the grown volumes at the master match our disk');
    assert.ok(onDisk() > 0, 'the master grew volumes here');
    const put = await fetch(`${vs.url}/${r.fid}`, { method: 'POST', body: 'assigned' });
    assert.equal(put.status, 201);
  });

  test('EC shards mounted and unmounted, then the encoded volume deleted', async () => {
    await allocate(vs, EC_VID);
    for (let k = 1; k <= 5; k++) await write(vs, EC_VID, k, randomBytes(500));
    await grpc(vs, 'VolumeMarkReadonly', { volume_id: EC_VID, persist: true });
    await grpc(vs, 'VolumeEcShardsGenerate', { volume_id: EC_VID, collection: '' }, 60_000);
    await grpc(vs, 'VolumeEcShardsMount', { volume_id: EC_VID, collection: '', shard_ids: ALL_SHARDS });
    await waitFor(async () => (await masterEcShards(master, EC_VID, node)).length === 14, SEEN_MS, '14 shards at the master');
    assert.equal((await masterDataNode(master, node))?.EcShards, 14);

    await grpc(vs, 'VolumeEcShardsUnmount', { volume_id: EC_VID, shard_ids: [0, 1, 2, 3, 4] });
    await waitFor(
      async () => JSON.stringify(await masterEcShards(master, EC_VID, node)) === JSON.stringify(ALL_SHARDS.slice(5)),
      SEEN_MS,
      'shards 5..13 at the master',
    );
    assert.equal((await masterDataNode(master, node))?.EcShards, 9);

    // ec.encode's last step: the source volume goes; the master drops it, the shards stay.
    await grpc(vs, 'VolumeDelete', { volume_id: EC_VID, only_empty: false });
    await waitFor(async () => !(await masterVolumes(master, node)).has(EC_VID), SEEN_MS, 'the encoded volume gone from the master');
    assert.equal((await masterEcShards(master, EC_VID, node)).length, 9);
  });

  test('after a master restart our server registers again and the view comes back', async () => {
    const before = await masterVolumes(master, node);
    assert.ok(before.size >= 2, `volumes at the master: ${before.size}`);
    await master.stop('SIGKILL');
    master = await startMaster(100, 5, [], { port: master.port, dir: master.dir });
    await waitFor(async () => (await masterVolumes(master, node)).size === before.size, 60_000, 'our volumes at the restarted master');
    const again = await masterVolumes(master, node);
    assert.deepEqual([...again.keys()].sort(), [...before.keys()].sort());
    assert.equal(again.get(1)?.FileCount, 3);
    await waitFor(async () => (await masterEcShards(master, EC_VID, node)).length === 9, SEEN_MS, 'EC shards at the restarted master');
    assert.deepEqual(await lookupUrls(master, 1), [node]);
  });
});

describe('heartbeat follows a leader change among three Go masters', () => {
  const masters: Master[] = [];
  let vs: VolumeServer;
  let node: string;
  const dir = tempDir('ts-weed-hb-leader-');

  async function leaderOf(m: Master): Promise<string> {
    const r = (await (await fetch(`${m.url}/cluster/status`)).json()) as { Leader?: string; IsLeader?: boolean };
    return (r.Leader ?? '').replace(/\.\d+$/, ''); // ip:port.grpcPort
  }

  before(async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const peers = ports.map((p) => `127.0.0.1:${p}`).join(',');
    masters.push(
      ...(await Promise.all(ports.map((port) => startMaster(100, 5, [`-peers=${peers}`], { port, dir: tempDir('ts-weed-master-') })))),
    );
    await waitFor(async () => (await leaderOf(masters[0])) !== '', 60_000, 'a leader elected');
    vs = await startVolumeServer({ master: peers, dir, extraArgs: ['--max', '5'] });
    node = `127.0.0.1:${vs.port}`;
  });

  after(async () => {
    await vs?.stop();
    await Promise.all(masters.map((m) => m.stop('SIGKILL')));
    cleanup(dir, ...masters.map((m) => m.dir));
  });

  test('the new leader learns our volumes', async () => {
    const leaderAddress = await leaderOf(masters[0]);
    const leader = masters.find((m) => m.address === leaderAddress);
    assert.ok(leader, `leader ${leaderAddress} is one of ours`);
    await allocate(vs, 7);
    await waitFor(async () => (await lookupUrls(leader, 7)).includes(node), SEEN_MS, 'volume 7 at the first leader');

    await leader.stop('SIGKILL');
    const rest = masters.filter((m) => m !== leader);
    let next: Master | undefined;
    await waitFor(
      async () => {
        const l = await leaderOf(rest[0]);
        next = rest.find((m) => m.address === l);
        return next !== undefined;
      },
      60_000,
      'a new leader among the two left',
    );
    await waitFor(async () => (await masterVolumes(next!, node)).has(7), 60_000, 'volume 7 at the new leader');
    assert.deepEqual(await lookupUrls(next!, 7), [node]);
    // A change after the move reaches the new leader too.
    await allocate(vs, 8);
    await waitFor(async () => (await lookupUrls(next!, 8)).includes(node), SEEN_MS, 'volume 8 at the new leader');
  });
});
