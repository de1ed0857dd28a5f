// Go ↔ TS interop on the same data directory, in both offset widths: what one server wrote, the
// other serves byte-identical with the same headers; what one deleted, the other answers 404.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { multipartBody, rawRequest } from '../helpers/http.js';
import { assignFid } from '../helpers/master-view.js';
import {
  cleanup,
  startGoVolumeServer,
  startMaster,
  startVolumeServer,
  tempDir,
  waitRegistered,
  type Master,
  type VolumeServer,
} from '../helpers/processes.js';

const COMPARED_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-disposition',
  'etag',
  'last-modified',
  'seaweed-color',
  'accept-ranges',
];

interface Written {
  fid: string;
  live: boolean;
}

const assign = assignFid;

async function upload(server: VolumeServer, fid: string, body: Buffer, headers: Record<string, string> = {}, query = '') {
  const r = await rawRequest('POST', `${server.url}/${fid}${query}`, headers, body);
  assert.ok(r.status === 201 || r.status === 204, `upload ${fid}: ${r.status} ${r.body.toString()}`);
}

/** Writes the needle set through `server` (assigned by the master), returns what was written. */
async function writeNeedleSet(master: Master, server: VolumeServer): Promise<Written[]> {
  const out: Written[] = [];
  const put = async (body: Buffer, headers: Record<string, string> = {}, query = '', assignQuery = '') => {
    const a = await assign(master, assignQuery);
    await upload(server, a.fid, body, headers, query);
    out.push({ fid: a.fid, live: true });
    return a.fid;
  };
  await put(Buffer.from('hello interop'), { 'Content-Type': 'text/plain' });
  await put(randomBytes(6 * 1024 * 1024 + 123), { 'Content-Type': 'application/octet-stream' });
  await put(Buffer.alloc(0), { 'Content-Type': 'application/octet-stream' });
  const mp = multipartBody('photo.png', 'image/png', randomBytes(3000));
  await put(mp.body, { 'Content-Type': mp.contentType, 'Seaweed-Color': 'blue' });
  // past the 4 MiB spool threshold: a multipart file part with name, type and pairs, and a text
  // body the writer stores gzipped
  const bigMp = multipartBody('big photo.png', 'image/png', randomBytes(5 * 1024 * 1024 + 7));
  await put(bigMp.body, { 'Content-Type': bigMp.contentType, 'Seaweed-Color': 'green' });
  await put(Buffer.from('a compressible line of text 0123456789\n'.repeat(150_000)), { 'Content-Type': 'text/plain' });
  await put(gzipSync(Buffer.from('compressible '.repeat(500))), { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' });
  await put(Buffer.from('short lived'), { 'Content-Type': 'text/plain' }, '?ttl=5m', '?ttl=5m');
  const gone = await put(Buffer.from('to be deleted'), { 'Content-Type': 'text/plain' });
  const del = await rawRequest('DELETE', `${server.url}/${gone}`);
  assert.ok(del.status === 202 || del.status === 200, `delete: ${del.status}`);
  out[out.length - 1].live = false;
  const over = await put(Buffer.from('first version'), { 'Content-Type': 'text/plain' });
  await upload(server, over, Buffer.from('second, longer version of the needle'), { 'Content-Type': 'text/plain' });
  return out;
}

interface Observed {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

async function observe(server: VolumeServer, fid: string, gzip: boolean): Promise<Observed> {
  const r = await rawRequest('GET', `${server.url}/${fid}`, gzip ? { 'Accept-Encoding': 'gzip' } : {});
  const headers: Record<string, string | undefined> = {};
  for (const h of COMPARED_HEADERS) headers[h] = r.headers[h] as string | undefined;
  return { status: r.status, headers, body: r.body.toString('base64') };
}

async function observeAll(server: VolumeServer, written: Written[]): Promise<Map<string, Observed>> {
  const m = new Map<string, Observed>();
  for (const w of written) {
    m.set(`${w.fid} plain`, await observe(server, w.fid, false));
    m.set(`${w.fid} gzip`, await observe(server, w.fid, true));
  }
  return m;
}

for (const width of [4, 5] as const) {
  describe(`interop with the Go volume server, ${width}-byte offsets`, () => {
    let master: Master;
    before(async () => {
      master = await startMaster(100, width);
    });
    after(async () => {
      await master.stop();
      cleanup(master.dir);
    });

    test('Go writes, we serve', async () => {
      const dir = tempDir('interop-go-first-');
      const go = await startGoVolumeServer({ master: master.address, dir, width });
      let ours: VolumeServer | undefined;
      try {
        await waitRegistered(master, go.port);
        const written = await writeNeedleSet(master, go);
        const expected = await observeAll(go, written);
        for (const w of written) assert.equal(expected.get(`${w.fid} plain`)!.status, w.live ? 200 : 404, w.fid);
        assert.equal(await go.stop(), 0);
        ours = await startVolumeServer({ master: master.address, dir, env: { WEED_OFFSET_BYTES: String(width) } });
        const actual = await observeAll(ours, written);
        for (const [key, exp] of expected) assert.deepEqual(actual.get(key), exp, key);
      } finally {
        await go.stop('SIGKILL');
        await ours?.stop();
        cleanup(dir);
      }
    });

    test('we write, Go serves', async () => {
      const dir = tempDir('interop-ts-first-');
      const ours = await startVolumeServer({ master: master.address, dir, env: { WEED_OFFSET_BYTES: String(width) } });
      let go: VolumeServer | undefined;
      try {
        await waitRegistered(master, ours.port);
        const written = await writeNeedleSet(master, ours);
        const expected = await observeAll(ours, written);
        for (const w of written) assert.equal(expected.get(`${w.fid} plain`)!.status, w.live ? 200 : 404, w.fid);
        assert.equal(await ours.stop(), 0);
        go = await startGoVolumeServer({ master: master.address, dir, width });
        const actual = await observeAll(go, written);
        for (const [key, exp] of expected) assert.deepEqual(actual.get(key), exp, key);
      } finally {
        await ours.stop('SIGKILL');
        await go?.stop();
        cleanup(dir);
      }
    });
  });
}
