// The write/delete data path of our server against a real Go master: size limit without
// buffering, gzip bombs stored as sent, unchanged writes, Content-MD5, replication to a second
// server of ours.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { volumeClient } from '../../../helpers/grpc.js';
import { gzipZeros } from '../../../helpers/gzip-bomb.js';
import { sendStream } from '../../../helpers/http.js';
import { cleanup, procStatusKb, startMaster, startVolumeServer, waitFor, type Master, type VolumeServer } from '../../../helpers/processes.js';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** sendStream with the body as text, which is what these tests read. */
async function send(url: string, method: string, headers: Record<string, string>, chunks: Iterable<Buffer>): Promise<Answer> {
  const r = await sendStream(url, method, headers, chunks);
  return { ...r, body: r.body.toString('utf8') };
}

function* zeros(total: number, chunk = 1 << 20): Generator<Buffer> {
  const z = Buffer.alloc(chunk);
  for (let sent = 0; sent < total; sent += chunk) yield sent + chunk <= total ? z : z.subarray(0, total - sent);
}

function fid(vid: number, key: number, cookie: number): string {
  return `${vid},${key.toString(16)}${cookie.toString(16).padStart(8, '0')}`;
}

describe('write path', () => {
  let master: Master;
  let small: VolumeServer; // fileSizeLimitMB=1
  let a: VolumeServer;
  let b: VolumeServer;

  before(async () => {
    master = await startMaster();
    [small, a, b] = await Promise.all([
      startVolumeServer({ master: master.address, extraArgs: ['--fileSizeLimitMB', '1'] }),
      startVolumeServer({ master: master.address }),
      startVolumeServer({ master: master.address }),
    ]);
    for (const [vs, vid, replication] of [
      [small, 11, '000'],
      [a, 21, '000'],
      [a, 31, '001'],
      [b, 31, '001'],
    ] as const) {
      const c = volumeClient(vs.grpcAddress);
      try {
        await c.call('AllocateVolume', { volume_id: vid, replication, version: 3 });
      } finally {
        c.close();
      }
    }
  });

  after(async () => {
    await Promise.all([small, a, b].map((s) => s?.stop()));
    await master.stop();
    cleanup(master.dir, ...[small, a, b].filter(Boolean).map((s) => s.dir));
  });

  test('a 300 MB chunked upload over the 1 MB limit is refused with 400 without being buffered', async () => {
    const pid = small.proc.pid!;
    const rssBefore = procStatusKb(pid, 'VmRSS');
    const answer = await send(`${small.url}/${fid(11, 1, 0x1234)}`, 'POST', { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' }, zeros(300 << 20));
    assert.equal(answer.status, 400, answer.body);
    // The rest is not read (Go reads at most 256 KiB after an answer), so the connection closes.
    assert.equal(answer.headers.connection, 'close');
    assert.deepEqual(JSON.parse(answer.body), { error: 'file over the limited 1048576 bytes' });
    const peak = procStatusKb(pid, 'VmHWM');
    assert.ok(peak < rssBefore + 100 * 1024, `server peak RSS ${peak} kB grew from ${rssBefore} kB: the body was buffered`);
    // The connection and the server stay usable: a small upload goes through afterwards.
    const ok = await fetch(`${small.url}/${fid(11, 2, 0x1234)}`, { method: 'PUT', body: 'fits' });
    assert.equal(ok.status, 201, await ok.text());
  });

  test('a declared Content-Length over the limit is refused with 400 without reading the body, and the server stays usable', async () => {
    const pid = small.proc.pid!;
    const rssBefore = procStatusKb(pid, 'VmRSS');
    const total = 300 << 20;
    const answer = await send(`${small.url}/${fid(11, 3, 0x1234)}`, 'PUT', { 'Content-Length': String(total) }, zeros(total));
    assert.equal(answer.status, 400);
    assert.equal(answer.headers.connection, 'close');
    assert.deepEqual(JSON.parse(answer.body), { error: 'file over the limited 1048576 bytes' });
    const peak = procStatusKb(pid, 'VmHWM');
    assert.ok(peak < rssBefore + 100 * 1024, `server peak RSS ${peak} kB grew from ${rssBefore} kB`);
    const c = volumeClient(small.grpcAddress);
    try {
      // Only the small upload of the previous test is stored.
      assert.equal(Number((await c.call<{ file_count: string }>('VolumeStatus', { volume_id: 11 })).file_count), 1);
    } finally {
      c.close();
    }
  });

  test('the gzip stream generator is valid gzip', () => {
    const gz = Buffer.concat([...gzipZeros(3)]);
    const out = gunzipSync(gz);
    assert.equal(out.length, 3 << 20);
    assert.ok(out.every((b) => b === 0));
  });

  test('a gzip bomb (10 GiB of zeros) is stored as sent, never inflated', async () => {
    const pid = a.proc.pid!;
    const rssBefore = procStatusKb(pid, 'VmRSS');
    const blocks = 10 * 1024;
    let compressed = 0;
    const chunks = [...gzipZeros(blocks)].map((c) => c); // repeated views of one block: ~10 MB sent in total
    for (const c of chunks) compressed += c.length;
    const answer = await send(`${a.url}/${fid(21, 1, 0xbeef)}`, 'POST', { 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'gzip', 'Content-Length': String(compressed) }, chunks);
    assert.equal(answer.status, 201, answer.body);
    const result = JSON.parse(answer.body) as { size: number; eTag: string };
    // Go reports the original size as uint32: 10 GiB mod 2^32.
    assert.equal(result.size, (blocks * 2 ** 20) % 2 ** 32);
    const peak = procStatusKb(pid, 'VmHWM');
    assert.ok(peak < rssBefore + 150 * 1024, `server peak RSS ${peak} kB grew from ${rssBefore} kB`);
    const dat = statSync(join(a.dir, '21.dat')).size;
    assert.ok(dat >= compressed && dat < compressed + 4096, `.dat holds ${dat} bytes for ${compressed} compressed bytes`);
    const c = volumeClient(a.grpcAddress);
    try {
      const st = await c.call<{ file_count: string }>('VolumeStatus', { volume_id: 21 });
      assert.equal(Number(st.file_count), 1);
    } finally {
      c.close();
    }
  });

  test('an unchanged rewrite answers 204 with the ETag; a changed one 201', async () => {
    const url = `${a.url}/${fid(21, 2, 0xcafe)}`;
    const first = await fetch(url, { method: 'PUT', body: 'same bytes', headers: { 'Content-Type': 'image/png' } });
    assert.equal(first.status, 201);
    const json = (await first.json()) as { eTag: string; size: number; name: string; mime: string };
    assert.deepEqual(json, { name: fid(21, 2, 0xcafe), size: 10, eTag: json.eTag, mime: 'image/png' });
    assert.match(json.eTag, /^[0-9a-f]{8}$/);
    assert.equal(first.headers.get('etag'), `"${json.eTag}"`);
    const second = await fetch(url, { method: 'PUT', body: 'same bytes', headers: { 'Content-Type': 'image/png' } });
    assert.equal(second.status, 204);
    assert.equal(second.headers.get('etag'), `"${json.eTag}"`);
    assert.equal(await second.text(), '');
    const third = await fetch(url, { method: 'PUT', body: 'other bytes', headers: { 'Content-Type': 'image/png' } });
    assert.equal(third.status, 201);
    const wrongCookie = await fetch(`${a.url}/${fid(21, 2, 0xcaff)}`, { method: 'PUT', body: 'x', headers: { 'Content-Type': 'image/png' } });
    assert.equal(wrongCookie.status, 500);
    assert.deepEqual(await wrongCookie.json(), { error: 'failed to write to local disk: mismatching cookie caff' });
  });

  test('Content-MD5: a mismatch is refused with 400, a match is echoed', async () => {
    const body = 'md5 checked body';
    const good = createHash('md5').update(body).digest('base64');
    const bad = await fetch(`${a.url}/${fid(21, 3, 0x77)}`, { method: 'PUT', body, headers: { 'Content-MD5': 'AAAAAAAAAAAAAAAAAAAAAA==', 'Content-Type': 'image/png' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), {
      error: `Content-MD5 did not match md5 of file data expected [AAAAAAAAAAAAAAAAAAAAAA==] received [${good}] size ${body.length}`,
    });
    const ok = await fetch(`${a.url}/${fid(21, 3, 0x77)}`, { method: 'PUT', body, headers: { 'Content-MD5': good, 'Content-Type': 'image/png' } });
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get('content-md5'), good);
    assert.equal(((await ok.json()) as { contentMd5: string }).contentMd5, good);
  });

  test('multipart upload: file name, part type and Seaweed- pairs', async () => {
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('abc')], { type: 'image/gif' }), 'pic.gif');
    const r = await fetch(`${a.url}/${fid(21, 4, 0x99)}`, { method: 'POST', body: form, headers: { 'Seaweed-Owner': 'me' } });
    assert.equal(r.status, 201);
    const json = (await r.json()) as Record<string, unknown>;
    assert.equal(json.name, 'pic.gif');
    assert.equal(json.mime, 'image/gif');
    assert.equal(json.size, 3);
    const dat = readFileSync(join(a.dir, '21.dat'));
    assert.ok(dat.includes(Buffer.from('{"Owner":"me"}')), 'pairs stored as Go JSON');
  });

  test('unsupported methods: 400 JSON on the admin port', async () => {
    const r = await fetch(`${a.url}/${fid(21, 4, 0x99)}`, { method: 'PATCH' });
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), { error: 'unsupported method PATCH' });
  });

  test('a write and a delete to a 001 volume reach the other server', async () => {
    await waitFor(
      async () => {
        const r = (await (await fetch(`${master.url}/dir/lookup?volumeId=31`)).json()) as { locations?: unknown[] };
        return (r.locations?.length ?? 0) >= 2;
      },
      15_000,
      'master to know both replicas of volume 31',
    );
    const payload = Buffer.from(`replicated payload ${Date.now()}`);
    const r = await fetch(`${a.url}/${fid(31, 1, 0x4242)}`, { method: 'PUT', body: payload, headers: { 'Content-Type': 'image/png' } });
    assert.equal(r.status, 201, await r.clone().text());
    const replicaDat = readFileSync(join(b.dir, '31.dat'));
    assert.ok(replicaDat.includes(payload), 'the replica .dat holds the payload');
    const cb = volumeClient(b.grpcAddress);
    try {
      assert.equal(Number((await cb.call<{ file_count: string }>('VolumeStatus', { volume_id: 31 })).file_count), 1);
      const del = await fetch(`${a.url}/${fid(31, 1, 0x4242)}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      assert.ok(((await del.json()) as { size: number }).size > payload.length);
      assert.equal(Number((await cb.call<{ file_deleted_count: string }>('VolumeStatus', { volume_id: 31 })).file_deleted_count), 1);
    } finally {
      cb.close();
    }
    const again = await fetch(`${a.url}/${fid(31, 1, 0x4242)}`, { method: 'DELETE' });
    assert.equal(again.status, 404);
    assert.deepEqual(await again.json(), { size: 0 });
  });
});
