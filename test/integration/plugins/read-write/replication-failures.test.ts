// Replication when a replica is read-only, down or slow (Go's weed/topology/store_replicate.go
// ReplicatedWrite / ReplicatedDelete). The same steps run against a pair of our servers and a pair
// of Go volume servers under one real Go master, each pair holding one volume with replication 001
// (both servers in the default rack); the answers and what stays on the primary are compared.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { volumeClient } from '../../../helpers/grpc.js';
import { fileId, lookupUrls } from '../../../helpers/master-view.js';
import {
  cleanup,
  startGoVolumeServer,
  startMaster,
  startVolumeServer,
  tempDir,
  waitFor,
  type Master,
  type VolumeServer,
} from '../../../helpers/processes.js';

const COOKIE = 0xfeed;

interface Pair {
  name: 'ours' | 'go';
  vid: number;
  primary: VolumeServer;
  replica: VolumeServer;
}

/** An answer with the servers' addresses and the volume id replaced, so ours and Go's compare. */
interface Answer {
  status: number;
  error: string;
}

describe('replication when a replica is read-only, down or slow: ours answers as Go', () => {
  let master: Master;
  const root = tempDir('ts-weed-repl-fail-');
  const pairs: Pair[] = [];

  async function startServer(name: Pair['name'], dir: string, port?: number): Promise<VolumeServer> {
    return name === 'ours'
      ? startVolumeServer({ master: master.address, dir, port })
      : startGoVolumeServer({ master: master.address, dir, width: 5, port });
  }

  function normalize(p: Pair, text: string): string {
    return text
      .replaceAll(`127.0.0.1:${p.primary.port}`, '<primary>')
      .replaceAll(`127.0.0.1:${p.replica.port}`, '<replica>')
      .replaceAll(`volume ${p.vid}`, 'volume <vid>');
  }

  async function answer(p: Pair, r: Response): Promise<Answer> {
    const text = await r.text();
    let error: string;
    try {
      error = String((JSON.parse(text) as { error?: unknown }).error ?? '');
    } catch {
      error = text;
    }
    return { status: r.status, error: normalize(p, error) };
  }

  const url = (s: VolumeServer, p: Pair, key: number) => `${s.url}/${fileId(p.vid, key, COOKIE)}`;
  /** The answer, or status 0 with the transport's words when the server closed without one. */
  async function send(p: Pair, key: number, init: RequestInit): Promise<Answer> {
    let r: Response;
    try {
      r = await fetch(url(p.primary, p, key), init);
    } catch (e) {
      return { status: 0, error: String((e as { cause?: unknown }).cause ?? e) };
    }
    return answer(p, r);
  }
  const write = (p: Pair, key: number) => send(p, key, { method: 'POST', body: `needle ${key}` });
  const remove = (p: Pair, key: number) => send(p, key, { method: 'DELETE' });
  const readStatus = async (s: VolumeServer, p: Pair, key: number) => {
    const r = await fetch(url(s, p, key));
    await r.arrayBuffer();
    return r.status;
  };

  async function waitLocations(p: Pair, servers: VolumeServer[]): Promise<void> {
    const want = servers.map((s) => `127.0.0.1:${s.port}`).sort();
    await waitFor(async () => JSON.stringify(await lookupUrls(master, p.vid)) === JSON.stringify(want), 30_000, `${p.name}: master lists ${want.join(' ')}`);
  }

  async function grpc<T>(s: VolumeServer, rpc: string, req: object): Promise<T> {
    const c = volumeClient(s.grpcAddress);
    try {
      return await c.call<T>(rpc, req);
    } finally {
      c.close();
    }
  }

  before(async () => {
    master = await startMaster(100);
    let vid = 1;
    for (const name of ['ours', 'go'] as const) {
      const dirs = [join(root, `${name}-p`), join(root, `${name}-r`)];
      for (const d of dirs) mkdirSync(d);
      const primary = await startServer(name, dirs[0]);
      const replica = await startServer(name, dirs[1]);
      const p: Pair = { name, vid: vid++, primary, replica };
      for (const s of [primary, replica]) {
        await grpc(s, 'AllocateVolume', { volume_id: p.vid, collection: '', replication: '001', ttl: '', preallocate: 0, disk_type: '', version: 3 });
      }
      await waitLocations(p, [primary, replica]);
      pairs.push(p);
    }
  });

  after(async () => {
    for (const p of pairs) {
      p.replica.proc.kill('SIGCONT');
      await Promise.all([p.primary.stop(), p.replica.stop()]);
    }
    await master?.stop('SIGKILL');
    cleanup(root);
    if (master) cleanup(master.dir);
  });

  test('a healthy pair: the write reaches the replica', async () => {
    assert.equal(pairs.length, 2);
    for (const p of pairs) {
      assert.deepEqual(await write(p, 1), { status: 201, error: '' }, p.name);
      assert.equal(await readStatus(p.replica, p, 1), 200, `${p.name}: replicated`);
    }
  });

  test('a read-only replica: the write is refused before the primary appends it', async () => {
    const seen: Record<string, { write: Answer; onPrimary: number; del: Answer }> = {};
    for (const p of pairs) {
      await grpc(p.replica, 'VolumeMarkReadonly', { volume_id: p.vid, persist: false });
      seen[p.name] = { write: await write(p, 2), onPrimary: await readStatus(p.primary, p, 2), del: await remove(p, 1) };
      await grpc(p.replica, 'VolumeMarkWritable', { volume_id: p.vid });
    }
    assert.equal(seen.go.write.status, 500);
    assert.deepEqual(seen.ours, seen.go);
  });

  test('a replica that is down (SIGKILL): the answer, the primary and the replica after it returns', async () => {
    const seen: Record<string, { write: Answer; onPrimary: number; del: Answer; afterDel: number; k1OnReplica: number; again: Answer; k5OnReplica: number }> = {};
    for (const p of pairs) {
      assert.deepEqual(await write(p, 3), { status: 201, error: '' }, `${p.name}: write before the kill`);
      p.replica.proc.kill('SIGKILL');
      await p.replica.exited;
      await waitLocations(p, [p.primary]);
      const w = await write(p, 4);
      const onPrimary = await readStatus(p.primary, p, 4);
      const del = await remove(p, 3);
      const afterDel = await readStatus(p.primary, p, 3);
      p.replica = await startServer(p.name, p.replica.dir, p.replica.port);
      await waitLocations(p, [p.primary, p.replica]);
      seen[p.name] = {
        write: w,
        onPrimary,
        del,
        afterDel,
        k1OnReplica: await readStatus(p.replica, p, 1),
        again: await write(p, 5),
        k5OnReplica: await readStatus(p.replica, p, 5),
      };
    }
    assert.equal(seen.go.write.status, 500);
    assert.equal(seen.go.k1OnReplica, 200, 'what the replica held before is served again');
    assert.deepEqual(seen.go.again, { status: 201, error: '' });
    assert.deepEqual(seen.ours, seen.go);
  });

  test('a replica that is slow (SIGSTOP): writes and deletes end with an error within the replica timeouts', async () => {
    assert.equal(pairs.length, 2);
    type Seen = { write: Answer; onPrimary: number; del: Answer; afterDel: number; k5OnReplica: number };
    // The pairs are independent: both wait out their replica timeouts (10 s for a write, 30 s for a
    // delete, Go's replicaRequestTimeout and the HTTP client's response header timeout) at once.
    const seen = Object.fromEntries(
      await Promise.all(
        pairs.map(async (p): Promise<[string, Seen]> => {
          p.replica.proc.kill('SIGSTOP');
          let w: Answer, onPrimary: number, del: Answer, afterDel: number;
          try {
            [w, del] = await Promise.all([write(p, 6), remove(p, 3)]);
            onPrimary = await readStatus(p.primary, p, 6);
            afterDel = await readStatus(p.primary, p, 3);
          } finally {
            p.replica.proc.kill('SIGCONT');
          }
          // k5 reached both before the stop; the requests queued while stopped may land now, so
          // only what was settled before is read back.
          return [p.name, { write: w, onPrimary, del, afterDel, k5OnReplica: await readStatus(p.replica, p, 5) }];
        }),
      ),
    ) as Record<'ours' | 'go', Seen>;
    assert.equal(seen.go.write.status, 500);
    assert.equal(seen.go.del.status, 500);
    // Go names the replica; the transport's own words after it differ.
    const cut = (a: Answer) => ({ ...a, error: a.error.slice(0, a.error.indexOf('<replica>') + '<replica>'.length) });
    assert.match(seen.go.write.error, /^failed to write to replicas for volume <vid>: \[<replica>\]: /);
    assert.match(seen.go.del.error, /^Deletion Failed: \[<replica>\]: /);
    assert.deepEqual(
      { ...seen.ours, write: cut(seen.ours.write), del: cut(seen.ours.del) },
      { ...seen.go, write: cut(seen.go.write), del: cut(seen.go.del) },
    );
    assert.equal(seen.go.k5OnReplica, 200);
  });
});
