// Large writes through our server (bodies past the 4 MiB spool threshold): raw, chunked and
// multipart bodies, Content-MD5, compression, gzip bodies, unchanged rewrites, limits, aborted
// uploads and replication — every one reads back intact and leaves no spool file behind.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from '../../../../core/storage/crc32c.js';
import { volumeClient } from '../../../helpers/grpc.js';
import { sendStream, type RawResponse } from '../../../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, waitFor, type Master, type VolumeServer } from '../../../helpers/processes.js';

const MiB = 1024 * 1024;

type Answer = RawResponse;
const send = sendStream;

function* slices(data: Buffer, size = 256 * 1024): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return send(url, 'GET', headers, []);
}

function fid(vid: number, key: number, cookie: number): string {
  return `${vid},${key.toString(16)}${cookie.toString(16).padStart(8, '0')}`;
}

function md5(b: Buffer): string {
  return createHash('md5').update(b).digest('base64');
}

function spoolFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('.upload-'));
}

/** Spool files are removed right after the answer is sent: allow a moment. */
async function noSpoolFiles(...dirs: string[]): Promise<void> {
  await waitFor(async () => dirs.every((d) => spoolFiles(d).length === 0), 5_000, 'spool files to be removed');
}

async function fileCount(vs: VolumeServer, vid: number): Promise<number> {
  const c = volumeClient(vs.grpcAddress);
  try {
    return Number((await c.call<{ file_count: string }>('VolumeStatus', { volume_id: vid })).file_count);
  } finally {
    c.close();
  }
}

describe('large writes (spooled bodies)', () => {
  let master: Master;
  let a: VolumeServer;
  let b: VolumeServer;

  before(async () => {
    master = await startMaster(1024);
    [a, b] = await Promise.all([
      startVolumeServer({ master: master.address, extraArgs: ['--fileSizeLimitMB', '64'] }),
      startVolumeServer({ master: master.address, extraArgs: ['--fileSizeLimitMB', '64'] }),
    ]);
    for (const [vs, vid, replication, version] of [
      [a, 41, '000', 3],
      [a, 42, '000', 2],
      [a, 43, '001', 3],
      [b, 43, '001', 3],
    ] as const) {
      const c = volumeClient(vs.grpcAddress);
      try {
        await c.call('AllocateVolume', { volume_id: vid, replication, version });
      } finally {
        c.close();
      }
    }
  });

  after(async () => {
    await Promise.all([a, b].map((s) => s?.stop()));
    await master?.stop();
    cleanup(master.dir, ...[a, b].filter(Boolean).map((s) => s.dir));
  });

  test('around the 4 MiB threshold (in memory / spooled), v3 and v2 volumes: same answers, data intact', async () => {
    let key = 1;
    for (const vid of [41, 42]) {
      for (const size of [4 * MiB, 4 * MiB + 1, 9 * MiB + 3]) {
        const data = randomBytes(size);
        const url = `${a.url}/${fid(vid, key++, 0x1234)}`;
        const r = await send(url, 'PUT', { 'Content-Type': 'image/png', 'Content-Length': String(size) }, slices(data));
        assert.equal(r.status, 201, r.body.toString());
        const etag = crc32c(data).toString(16).padStart(8, '0');
        assert.deepEqual(JSON.parse(r.body.toString()), { name: url.slice(url.lastIndexOf('/') + 1), size, eTag: etag, mime: 'image/png' });
        const g = await get(url);
        assert.equal(g.status, 200);
        assert.equal(g.headers.etag, `"${etag}"`);
        assert.ok(g.body.equals(data), `vid ${vid} size ${size} reads back`);
      }
    }
    await noSpoolFiles(a.dir);
  });

  test('a chunked body crossing the threshold, with Content-MD5', async () => {
    const data = randomBytes(20 * MiB + 17);
    const url = `${a.url}/${fid(41, 100, 0x55)}`;
    const r = await send(url, 'POST', { 'Content-Type': 'application/octet-stream', 'Content-MD5': md5(data) }, slices(data));
    assert.equal(r.status, 201, r.body.toString());
    const json = JSON.parse(r.body.toString()) as Record<string, unknown>;
    assert.equal(json.size, data.length);
    assert.equal(json.contentMd5, md5(data));
    assert.equal(r.headers['content-md5'], md5(data));
    assert.ok((await get(url)).body.equals(data));
    await noSpoolFiles(a.dir);
  });

  test('a Content-MD5 mismatch on a large body is refused with 400 and nothing is stored', async () => {
    const before = await fileCount(a, 41);
    const data = randomBytes(10 * MiB);
    const r = await send(`${a.url}/${fid(41, 101, 0x55)}`, 'PUT', { 'Content-Type': 'image/png', 'Content-Length': String(data.length), 'Content-MD5': 'AAAAAAAAAAAAAAAAAAAAAA==' }, slices(data));
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body.toString()), {
      error: `Content-MD5 did not match md5 of file data expected [AAAAAAAAAAAAAAAAAAAAAA==] received [${md5(data)}] size ${data.length}`,
    });
    assert.equal(await fileCount(a, 41), before);
    await noSpoolFiles(a.dir);
  });

  test('multipart: a large file part after a control field, with name, type, pairs and part Content-MD5', async () => {
    const data = randomBytes(12 * MiB + 5);
    const boundary = 'b0undary' + randomBytes(8).toString('hex');
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="ts"\r\n\r\n1700000000\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: image/gif\r\nContent-MD5: ${md5(data)}\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const url = `${a.url}/${fid(41, 102, 0x66)}`;
    const r = await send(url, 'POST', { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Seaweed-Owner': 'me' }, [head, ...slices(data), tail]);
    assert.equal(r.status, 201, r.body.toString());
    const json = JSON.parse(r.body.toString()) as Record<string, unknown>;
    assert.deepEqual(json, { name: 'big.bin', size: data.length, eTag: crc32c(data).toString(16).padStart(8, '0'), mime: 'image/gif', contentMd5: md5(data) });
    const g = await get(url);
    assert.ok(g.body.equals(data));
    assert.equal(g.headers.owner, 'me', 'pairs come back as headers without the Seaweed- prefix');
    assert.equal(g.headers['last-modified'], new Date(1_700_000_000_000).toUTCString());
    await noSpoolFiles(a.dir);
  });

  test('a large compressible text body is stored gzipped (streamed), served inflated or as gzip', async () => {
    const line = 'the quick brown fox jumps over the lazy dog 0123456789\n';
    const text = Buffer.from(line.repeat(Math.ceil((8 * MiB) / line.length)));
    const url = `${a.url}/${fid(41, 103, 0x77)}`;
    const r = await send(url, 'PUT', { 'Content-Type': 'text/plain', 'Content-MD5': md5(text) }, slices(text));
    assert.equal(r.status, 201, r.body.toString());
    const json = JSON.parse(r.body.toString()) as Record<string, unknown>;
    assert.equal(json.size, text.length);
    assert.equal(json.contentMd5, md5(text));
    const stored = gzipSync(text);
    assert.equal(json.eTag, crc32c(stored).toString(16).padStart(8, '0'), 'the checksum is of the stored gzip bytes');
    const plain = await get(url);
    assert.ok(plain.body.equals(text));
    const gz = await get(url, { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(gz.body).equals(text));
    await noSpoolFiles(a.dir);
  });

  test('a large gzip body is stored as sent; its size comes from the trailer or the inflated stream', async () => {
    const raw = Buffer.concat([randomBytes(5 * MiB), Buffer.alloc(6 * MiB, 'z')]);
    const gz = gzipSync(raw, { level: 1 });
    assert.ok(gz.length > 4 * MiB);
    for (const [key, withMd5] of [
      [104, false],
      [105, true],
    ] as const) {
      const url = `${a.url}/${fid(41, key, 0x88)}`;
      const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'gzip', 'Content-Length': String(gz.length) };
      if (withMd5) headers['Content-MD5'] = md5(raw);
      const r = await send(url, 'PUT', headers, slices(gz));
      assert.equal(r.status, 201, r.body.toString());
      const json = JSON.parse(r.body.toString()) as Record<string, unknown>;
      assert.equal(json.size, raw.length);
      assert.equal(json.eTag, crc32c(gz).toString(16).padStart(8, '0'));
      if (withMd5) assert.equal(json.contentMd5, md5(raw));
      const g = await get(url, { 'Accept-Encoding': 'gzip' });
      assert.ok(g.body.equals(gz));
    }
    await noSpoolFiles(a.dir);
  });

  test('a large unchanged rewrite answers 204, a changed one 201, a wrong cookie 500', async () => {
    const data = randomBytes(6 * MiB);
    const url = `${a.url}/${fid(41, 106, 0x99)}`;
    const put = (body: Buffer, u = url) => send(u, 'PUT', { 'Content-Type': 'image/png', 'Content-Length': String(body.length) }, slices(body));
    assert.equal((await put(data)).status, 201);
    const again = await put(data);
    assert.equal(again.status, 204);
    assert.equal(again.headers.etag, `"${crc32c(data).toString(16).padStart(8, '0')}"`);
    const changed = Buffer.from(data);
    changed[12345] ^= 0xff;
    assert.equal((await put(changed)).status, 201);
    assert.ok((await get(url)).body.equals(changed));
    const wrong = await put(data, `${a.url}/${fid(41, 106, 0x98)}`);
    assert.equal(wrong.status, 500);
    assert.deepEqual(JSON.parse(wrong.body.toString()), { error: 'failed to write to local disk: mismatching cookie 98' });
    await noSpoolFiles(a.dir);
  });

  test('over the file size limit while spooling: 400, nothing kept', async () => {
    const before = await fileCount(a, 41);
    const chunk = Buffer.alloc(MiB, 7);
    const r = await send(`${a.url}/${fid(41, 107, 0x11)}`, 'PUT', { 'Content-Type': 'image/png' }, Array.from({ length: 80 }, () => chunk));
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body.toString()), { error: `file over the limited ${64 * MiB} bytes` });
    assert.equal(await fileCount(a, 41), before);
    await noSpoolFiles(a.dir);
  });

  test('a client that goes away mid-upload leaves no spool file and no record', async () => {
    const before = await fileCount(a, 41);
    const datBefore = readdirSync(a.dir).length;
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${a.url}/${fid(41, 108, 0x22)}`, { method: 'PUT', headers: { 'Content-Type': 'image/png', 'Content-Length': String(50 * MiB) } });
      req.on('error', () => resolve());
      let sent = 0;
      const chunk = Buffer.alloc(MiB, 3);
      const pump = () => {
        while (sent < 12) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 200);
      };
      pump();
    });
    await noSpoolFiles(a.dir);
    assert.equal(await fileCount(a, 41), before);
    assert.equal(readdirSync(a.dir).length, datBefore);
    // the server keeps serving
    const ok = await send(`${a.url}/${fid(41, 109, 0x22)}`, 'PUT', { 'Content-Type': 'image/png' }, [Buffer.from('after')]);
    assert.equal(ok.status, 201);
  });

  test('a large replicated write is streamed to the other server from the spool file', async () => {
    await waitFor(
      async () => {
        const r = (await (await fetch(`${master.url}/dir/lookup?volumeId=43`)).json()) as { locations?: unknown[] };
        return (r.locations?.length ?? 0) >= 2;
      },
      15_000,
      'master to know both replicas of volume 43',
    );
    const data = randomBytes(24 * MiB + 9);
    const url = `/${fid(43, 1, 0x4343)}`;
    const r = await send(`${a.url}${url}`, 'PUT', { 'Content-Type': 'image/png', 'Content-Length': String(data.length), 'Seaweed-Tag': 't1' }, slices(data));
    assert.equal(r.status, 201, r.body.toString());
    const replica = await get(`${b.url}${url}`);
    assert.equal(replica.status, 200);
    assert.ok(replica.body.equals(data), 'the replica serves the same bytes');
    assert.equal(replica.headers.tag, 't1');
    assert.equal(replica.headers.etag, r.headers.etag);
    assert.equal(await fileCount(b, 43), 1);
    await noSpoolFiles(a.dir, b.dir);
  });
});
