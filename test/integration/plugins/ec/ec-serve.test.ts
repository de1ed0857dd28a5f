// Fids of EC volumes served over HTTP and gRPC by our server (Go's ReadEcShardNeedle /
// DeleteEcShardNeedle, weed/storage/store_ec.go): a volume written, EC-encoded and mounted, its
// normal volume unmounted; every needle read back byte-exact (whole, range, HEAD, stored gzip),
// deletes journalled, BatchDelete and VolumeNeedleStatus answered. Then two of our servers on a
// real Go master hold different shards: reads that need the peer's shards, reads reconstructed
// when shards are gone, a delete that reaches the peer holding the needle's shard, and a clear
// 500 when too few shards are left anywhere.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, unary } from '../../../../core/grpc/client-pool.js';
import { masterClientConstructor } from '../../../../core/grpc/proto-loader.js';
import { readIdxEntry } from '../../../../core/storage/idx.js';
import { indexEntrySize } from '../../../../core/storage/types.js';
import { volumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import {
  cleanup,
  startGoVolumeServer,
  startMaster,
  startVolumeServer,
  tempDir,
  waitFor,
  waitRegistered,
  type Master,
  type VolumeServer,
} from '../../../helpers/processes.js';

const VID = 9;
const MiB = 1024 * 1024;
const COOKIE = '5e6f7a8b';
const shardExt = (i: number) => `.ec${String(i).padStart(2, '0')}`;

interface Stored {
  fid: string;
  key: bigint;
  body: Buffer;
  /** Stored gzip: `body` is the uncompressed text. */
  gzip?: boolean;
  /** Byte offset of the record in the .dat (from the .ecx). */
  offset?: number;
}

/** The shard ids the master lists for VID, with the servers (http ports) of each. */
async function masterShards(master: Master): Promise<Map<number, number[]>> {
  const Ctor = masterClientConstructor();
  const client = new Ctor(`127.0.0.1:${master.grpcPort}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  try {
    const resp = await unary<object, { shard_id_locations: { shard_id: number; locations: { url: string }[] }[] }>(client, 'LookupEcVolume', { volume_id: VID }, 5000);
    // The master lists every possible shard id, those nobody holds with no locations.
    const held = resp.shard_id_locations.filter((l) => l.locations.length > 0);
    return new Map(held.map((l) => [l.shard_id, l.locations.map((x) => Number(x.url.split(':')[1]))]));
  } catch {
    return new Map();
  } finally {
    client.close();
  }
}

async function waitShards(master: Master, want: (m: Map<number, number[]>) => boolean, what: string): Promise<void> {
  let last = new Map<number, number[]>();
  try {
    await waitFor(async () => want((last = await masterShards(master))), 20_000, what);
  } catch (e) {
    throw new Error(`${(e as Error).message}; the master lists ${JSON.stringify([...last])}`, { cause: e });
  }
}

function sameSet(a: number[] | undefined, b: number[]): boolean {
  return !!a && a.length === b.length && b.every((x) => a.includes(x));
}

describe('EC volumes serve their fids', { timeout: 240_000 }, () => {
  let master: Master;
  let a: VolumeServer;
  let b: VolumeServer | undefined;
  const dirA = tempDir('ts-weed-ec-serve-a-');
  const dirB = tempDir('ts-weed-ec-serve-b-');
  const needles: Stored[] = [];

  before(async () => {
    master = await startMaster(100, 5);
    a = await startVolumeServer({ master: master.address, dir: dirA, env: { WEED_OFFSET_BYTES: '5' } });
    await waitRegistered(master, a.port);
  });
  after(async () => {
    await b?.stop('SIGKILL');
    await a?.stop('SIGKILL');
    await master.stop();
    cleanup(dirA, dirB, master.dir);
  });

  async function get(server: VolumeServer, n: Stored, headers: Record<string, string> = {}) {
    return rawRequest('GET', `${server.url}/${n.fid}`, headers);
  }

  async function assertAllReadable(server: VolumeServer, skip: Set<bigint> = new Set()): Promise<void> {
    for (const n of needles) {
      if (skip.has(n.key)) continue;
      const r = await get(server, n);
      assert.equal(r.status, 200, `${n.fid} on ${server.port}: ${r.body.toString().slice(0, 300)}`);
      assert.ok(r.body.equals(n.body), `${n.fid} on ${server.port}: body differs`);
    }
  }

  test('write, encode, mount, unmount the normal volume: every needle reads back byte-exact', async () => {
    const ac = volumeClient(a.grpcAddress);
    try {
      await ac.call('AllocateVolume', { volume_id: VID, collection: '', replication: '000', version: 3 });
      // ~3.6 MB: 1 MiB shard blocks, needles in data shards 0..3, some across block boundaries.
      const sizes = [1, 5_000, 40_000, 1_200_000, 300_000, 333_333, 700_000, 17, 600_000, 250_000];
      for (let i = 0; i < sizes.length; i++) {
        const key = BigInt(0x100 + i);
        needles.push({ fid: `${VID},${key.toString(16)}${COOKIE}`, key, body: randomBytes(sizes[i]) });
      }
      const text = Buffer.from('an ec needle stored gzip-compressed\n'.repeat(4000));
      needles.push({ fid: `${VID},${(0x200).toString(16)}${COOKIE}`, key: 0x200n, body: text, gzip: true });
      for (const n of needles) {
        const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
        let body = n.body;
        if (n.gzip) {
          headers['Content-Encoding'] = 'gzip';
          headers['Content-Type'] = 'text/plain';
          body = gzipSync(n.body);
        }
        const r = await rawRequest('POST', `${a.url}/${n.fid}`, headers, body);
        assert.equal(r.status, 201, r.body.toString());
      }
      await ac.call('VolumeMarkReadonly', { volume_id: VID, persist: true });
      await ac.call('VolumeEcShardsGenerate', { volume_id: VID, collection: '' }, 60_000);
      await ac.call('VolumeEcShardsMount', { volume_id: VID, collection: '', shard_ids: [...Array(14).keys()] });
      await ac.call('VolumeUnmount', { volume_id: VID });
    } finally {
      ac.close();
    }
    const ecx = readFileSync(join(dirA, `${VID}.ecx`));
    const es = indexEntrySize(5);
    for (let p = 0; p + es <= ecx.length; p += es) {
      const e = readIdxEntry(ecx, p, 5);
      const n = needles.find((x) => x.key === e.id);
      if (n) n.offset = e.offset;
    }
    assert.ok(needles.every((n) => n.offset !== undefined));
    assert.equal(readFileSync(join(dirA, `${VID}.ec00`)).length, MiB);

    await assertAllReadable(a);
    // A range of the big (streamed) needle across a shard block boundary.
    const big = needles[3];
    const from = MiB - big.offset! - 20 - 100;
    const ranged = await get(a, big, { Range: `bytes=${from}-${from + 999}` });
    assert.equal(ranged.status, 206);
    assert.ok(ranged.body.equals(big.body.subarray(from, from + 1000)));
    const head = await rawRequest('HEAD', `${a.url}/${big.fid}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(big.body.length));
    assert.equal(head.body.length, 0);
    // Stored gzip: inflated for a client without gzip, as stored for one that accepts it.
    const gz = needles.find((n) => n.gzip)!;
    const zipped = await get(a, gz, { 'Accept-Encoding': 'gzip' });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(zipped.body).equals(gz.body));
    // A wrong cookie and an id not in the index are 404s; an unknown volume too.
    assert.equal((await rawRequest('GET', `${a.url}/${VID},${needles[1].key.toString(16)}00000001`)).status, 404);
    assert.equal((await rawRequest('GET', `${a.url}/${VID},ffff${COOKIE}`)).status, 404);
    assert.equal((await rawRequest('GET', `${a.url}/${VID + 1},ffff${COOKIE}`)).status, 404);

    const ac2 = volumeClient(a.grpcAddress);
    try {
      const st = await ac2.call<{ needle_id: string; cookie: number; size: number }>('VolumeNeedleStatus', { volume_id: VID, needle_id: needles[2].key.toString() });
      assert.equal(st.needle_id, needles[2].key.toString());
      assert.equal(st.cookie, parseInt(COOKIE, 16));
      assert.ok(st.size > needles[2].body.length);
      await assert.rejects(ac2.call('VolumeNeedleStatus', { volume_id: VID, needle_id: '999999' }), /needle not found 999999/);
    } finally {
      ac2.close();
    }
  });

  test('DELETE and BatchDelete of EC fids journal the delete', async () => {
    const victim = needles[1];
    const del = await rawRequest('DELETE', `${a.url}/${victim.fid}`);
    assert.equal(del.status, 202, del.body.toString());
    // Go answers the length of the whole record: header, body fields, checksum, timestamp, padding.
    const size = (JSON.parse(del.body.toString()) as { size: number }).size;
    assert.ok(size > victim.body.length && size % 8 === 0, `size ${size}`);
    assert.equal((await get(a, victim)).status, 404);
    const again = await rawRequest('DELETE', `${a.url}/${victim.fid}`);
    assert.equal(again.status, 404);
    assert.deepEqual(JSON.parse(again.body.toString()), { size: 0 });
    const ecj = readFileSync(join(dirA, `${VID}.ecj`));
    assert.equal(ecj.length, 8);
    assert.equal(ecj.readBigUInt64BE(0), victim.key);

    const ac = volumeClient(a.grpcAddress);
    try {
      const wrongCookie = `${VID},${needles[4].key.toString(16)}00000001`;
      const r = await ac.call<{ results: { file_id: string; status: number; error: string; size: number }[] }>('BatchDelete', {
        file_ids: [needles[7].fid, wrongCookie, victim.fid, `${VID},zz`],
      });
      assert.deepEqual(
        r.results.map((x) => [x.file_id, x.status]),
        [
          [needles[7].fid, 202],
          [wrongCookie, 400],
          [victim.fid, 404],
          [`${VID},zz`, 400],
        ],
      );
      assert.ok(r.results[0].size > 17);
      assert.equal(r.results[1].error, 'File Random Cookie does not match.');
      assert.match(r.results[2].error, /already deleted/);
      const skip = await ac.call<{ results: { status: number }[] }>('BatchDelete', { file_ids: [victim.fid], skip_cookie_check: true });
      assert.equal(skip.results[0].status, 304);
    } finally {
      ac.close();
    }
    assert.equal((await get(a, needles[7])).status, 404);
    assert.equal((await get(a, needles[4])).status, 200);
    assert.equal(readFileSync(join(dirA, `${VID}.ecj`)).length, 16);
  });

  test('the fast path (bare fid) answers EC fids exactly as the routed path (same fid with a query)', async () => {
    // A query string always takes the routed read handler; an unknown parameter changes nothing.
    const ignored = new Set(['date', 'x-amz-request-id', 'connection', 'keep-alive']);
    const ask = (url: string, method: string, headers: Record<string, string>) =>
      new Promise<IncomingMessage>((resolve, reject) => httpRequest(url, { method, headers }, resolve).on('error', reject).end());
    const collect = async (m: IncomingMessage) => {
      const parts: Buffer[] = [];
      for await (const c of m) parts.push(c as Buffer);
      const headers: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(m.headers)) if (!ignored.has(k)) headers[k] = v;
      return { status: m.statusCode, headers, body: Buffer.concat(parts), fast: m.rawHeaders.includes('Accept-Ranges') };
    };
    const gz = needles.find((n) => n.gzip)!;
    const cases: [string, Record<string, string>, string, boolean][] = [
      [needles[0].fid, {}, 'GET', true], // 1 byte
      [needles[2].fid, {}, 'GET', true], // 40 KB
      [needles[2].fid, {}, 'HEAD', true],
      [needles[4].fid, {}, 'GET', false], // 300 KB: past the synchronous read limit
      [gz.fid, { 'Accept-Encoding': 'gzip' }, 'GET', true],
      [gz.fid, {}, 'GET', false], // inflation: declined
      [needles[1].fid, {}, 'GET', false], // deleted (.ecj): declined, 404
      [`${VID},${needles[0].key.toString(16)}00000001`, {}, 'GET', false], // wrong cookie: declined, 404
      [`${VID},ffff${COOKIE}`, {}, 'GET', false], // not in the .ecx: declined, 404
    ];
    for (const [fid, headers, method, viaFast] of cases) {
      const fast = await collect(await ask(`${a.url}/${fid}`, method, headers));
      const routed = await collect(await ask(`${a.url}/${fid}?unused=1`, method, headers));
      // Node keeps the fast path's header-name case, fastify lower-cases: both paths really ran.
      assert.equal(fast.fast, viaFast, `${method} ${fid}: fast path taken`);
      assert.equal(routed.fast, false);
      assert.deepEqual({ ...fast, fast: true }, { ...routed, fast: true }, `${method} ${fid} ${JSON.stringify(headers)}`);
    }
  });

  test('a second server without the data shards reads them from the peer, and deletes reach it', async () => {
    // B gets shards 4..12: nine, too few to reconstruct alone; every needle's bytes are on A.
    const onB = [4, 5, 6, 7, 8, 9, 10, 11, 12];
    for (const i of onB) copyFileSync(join(dirA, `${VID}${shardExt(i)}`), join(dirB, `${VID}${shardExt(i)}`));
    for (const ext of ['.ecx', '.ecj', '.vif']) copyFileSync(join(dirA, `${VID}${ext}`), join(dirB, `${VID}${ext}`));
    b = await startVolumeServer({ master: master.address, dir: dirB, env: { WEED_OFFSET_BYTES: '5' } });
    await waitRegistered(master, b.port);
    await waitShards(master, (m) => m.size === 14 && onB.every((i) => sameSet(m.get(i), [a.port, b!.port])), 'both servers listed as shard holders');

    const deleted = new Set([needles[1].key, needles[7].key]);
    await assertAllReadable(b, deleted);
    assert.equal((await get(b, needles[1])).status, 404);

    // A needle whose bytes are in shard 0, which only A holds: B journals it and A learns it.
    const inShard0 = needles.find((n) => !deleted.has(n.key) && n.offset! + n.body.length + 64 < MiB && n.offset! > 0)!;
    const del = await rawRequest('DELETE', `${b.url}/${inShard0.fid}`);
    assert.equal(del.status, 202, del.body.toString());
    deleted.add(inShard0.key);
    assert.equal((await get(b, inShard0)).status, 404);
    assert.equal((await get(a, inShard0)).status, 404);
    const ecjA = readFileSync(join(dirA, `${VID}.ecj`));
    assert.equal(ecjA.readBigUInt64BE(ecjA.length - 8), inShard0.key);
    const ecjB = readFileSync(join(dirB, `${VID}.ecj`));
    assert.equal(ecjB.readBigUInt64BE(ecjB.length - 8), inShard0.key);

    // Shards 1 and 2 gone from A: B and A rebuild their intervals from ten others.
    const ac = volumeClient(a.grpcAddress);
    try {
      await ac.call('VolumeEcShardsUnmount', { volume_id: VID, shard_ids: [1, 2] });
    } finally {
      ac.close();
    }
    await waitShards(master, (m) => !m.has(1) && !m.has(2), 'shards 1 and 2 unlisted');
    await assertAllReadable(b, deleted);
    await assertAllReadable(a, deleted);
    const big = needles[3];
    const ranged = await get(b, big, { Range: 'bytes=1000-1199999' });
    assert.equal(ranged.status, 206);
    assert.ok(ranged.body.equals(big.body.subarray(1000, 1_200_000)));
  });

  test('with too few shards left anywhere a read answers 500 with the reason, not a hang', async () => {
    assert.ok(b);
    const ac = volumeClient(a.grpcAddress);
    try {
      await ac.call('VolumeEcShardsUnmount', { volume_id: VID, shard_ids: [...Array(14).keys()] });
    } finally {
      ac.close();
    }
    await waitShards(master, (m) => [...m.values()].every((ports) => !ports.includes(a.port)), 'A holds no shard');
    const n = needles[4];
    const r = await get(b, n);
    assert.equal(r.status, 500);
    assert.match(r.body.toString(), /cannot recover shard 9\.\d+: only 9 shards available/);
    const head = await rawRequest('HEAD', `${b.url}/${n.fid}`);
    assert.equal(head.status, 500);
    // A deleted needle is still a 404: the journal answers before any shard is read.
    assert.equal((await get(b, needles[1])).status, 404);
    const bc = volumeClient(b.grpcAddress);
    try {
      await assert.rejects(bc.call('VolumeNeedleStatus', { volume_id: VID, needle_id: n.key.toString() }), /cannot recover shard/);
    } finally {
      bc.close();
    }
  });
});

describe('EC reads and deletes across our server and a Go peer', { timeout: 240_000 }, () => {
  let master: Master;
  let go: VolumeServer;
  let ours: VolumeServer;
  const goDir = tempDir('ts-weed-ec-serve-go-');
  const ourDir = tempDir('ts-weed-ec-serve-ours-');
  const needles: Stored[] = [];
  const onGo = [0, 1, 2, 3, 13];
  const onOurs = [4, 5, 6, 7, 8, 9, 10, 11, 12];

  before(async () => {
    master = await startMaster(100, 5);
    go = await startGoVolumeServer({ master: master.address, dir: goDir, width: 5 });
    await waitRegistered(master, go.port);
  });
  after(async () => {
    await ours?.stop('SIGKILL');
    await go?.stop('SIGKILL');
    await master.stop();
    cleanup(goDir, ourDir, master.dir);
  });

  async function readsBack(server: VolumeServer, deleted: Set<bigint>): Promise<void> {
    for (const n of needles) {
      const r = await rawRequest('GET', `${server.url}/${n.fid}`);
      if (deleted.has(n.key)) {
        assert.equal(r.status, 404, `${n.fid} on ${server.port}`);
        continue;
      }
      assert.equal(r.status, 200, `${n.fid} on ${server.port}: ${r.body.toString().slice(0, 300)}`);
      assert.ok(r.body.equals(n.body), `${n.fid} on ${server.port}: body differs`);
    }
  }

  test('our server reads the data shards the Go server holds, and its deletes reach it', async () => {
    const gc = volumeClient(go.grpcAddress);
    try {
      await gc.call('AllocateVolume', { volume_id: VID, collection: '', replication: '000', version: 3 });
      for (const [i, size] of [400_000, 1_300_000, 7, 650_000, 900_000, 333].entries()) {
        const key = BigInt(0x300 + i);
        const n: Stored = { fid: `${VID},${key.toString(16)}${COOKIE}`, key, body: randomBytes(size) };
        const r = await rawRequest('POST', `${go.url}/${n.fid}`, { 'Content-Type': 'application/octet-stream' }, n.body);
        assert.equal(r.status, 201, r.body.toString());
        needles.push(n);
      }
      await gc.call('VolumeMarkReadonly', { volume_id: VID, persist: true });
      await gc.call('VolumeEcShardsGenerate', { volume_id: VID, collection: '' }, 60_000);
      for (const i of onOurs) copyFileSync(join(goDir, `${VID}${shardExt(i)}`), join(ourDir, `${VID}${shardExt(i)}`));
      for (const ext of ['.ecx', '.vif']) copyFileSync(join(goDir, `${VID}${ext}`), join(ourDir, `${VID}${ext}`));
      await gc.call('VolumeEcShardsMount', { volume_id: VID, collection: '', shard_ids: onGo });
      await gc.call('VolumeUnmount', { volume_id: VID });
    } finally {
      gc.close();
    }
    ours = await startVolumeServer({ master: master.address, dir: ourDir, env: { WEED_OFFSET_BYTES: '5' } });
    await waitRegistered(master, ours.port);
    await waitShards(
      master,
      (m) => onGo.every((i) => sameSet(m.get(i), [go.port])) && onOurs.every((i) => sameSet(m.get(i), [ours.port])),
      'the shards of both servers listed',
    );
    const ecx = readFileSync(join(ourDir, `${VID}.ecx`));
    for (let p = 0; p + indexEntrySize(5) <= ecx.length; p += indexEntrySize(5)) {
      const e = readIdxEntry(ecx, p, 5);
      const n = needles.find((x) => x.key === e.id);
      if (n) n.offset = e.offset;
    }

    const deleted = new Set<bigint>();
    await readsBack(ours, deleted);
    await readsBack(go, deleted);

    // The first needle lies in shard 0, on the Go server: our delete journals it there too.
    const first = needles[0];
    assert.ok(first.offset! + first.body.length < MiB);
    const del = await rawRequest('DELETE', `${ours.url}/${first.fid}`);
    assert.equal(del.status, 202, del.body.toString());
    deleted.add(first.key);
    assert.equal(readFileSync(join(goDir, `${VID}.ecj`)).readBigUInt64BE(0), first.key);
    await readsBack(go, deleted);
    await readsBack(ours, deleted);
  });

  test('each side rebuilds intervals of a shard gone from the Go server from the other side', async () => {
    const gc = volumeClient(go.grpcAddress);
    try {
      await gc.call('VolumeEcShardsUnmount', { volume_id: VID, shard_ids: [1] });
    } finally {
      gc.close();
    }
    await waitShards(master, (m) => !m.has(1), 'shard 1 unlisted');
    const deleted = new Set([needles[0].key]);
    // The Go server reconstructs with our shards (our VolumeEcShardRead), we with its.
    await readsBack(go, deleted);
    await readsBack(ours, deleted);
  });
});
