// A large compressible upload is stored gzipped; reading it back inflated (no Accept-Encoding) is
// streamed through gunzip with bounded server memory, as gzip it is served as stored, and Range
// reads of the inflated bytes are right.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createGunzip } from 'node:zlib';
import { volumeClient } from '../../../helpers/grpc.js';
import { cleanup, procStatusKb, startMaster, startVolumeServer, type Master, type VolumeServer } from '../../../helpers/processes.js';

const MiB = 1024 * 1024;
const CHUNKS = 300;
const SIZE = CHUNKS * MiB;
const RSS_BOUND_KB = 150 * 1024;
const VID = 7;
const FID = `${VID},01cafe0001`;

/** Chunk i of the body: a 16 KiB pseudo-random text block (seeded by i) repeated to 1 MiB. */
function chunk(i: number): Buffer {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n0123456789';
  const block = Buffer.alloc(16 * 1024);
  let x = (i + 1) * 2654435761;
  for (let j = 0; j < block.length; j++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[j] = alphabet.charCodeAt((x >>> 0) % alphabet.length);
  }
  const out = Buffer.allocUnsafe(MiB);
  for (let o = 0; o < MiB; o += block.length) block.copy(out, o);
  return out;
}

/** The original bytes [start, start+length). */
function original(start: number, length: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = Math.floor(start / MiB); i * MiB < start + length; i++) parts.push(chunk(i));
  const first = Math.floor(start / MiB) * MiB;
  return Buffer.concat(parts).subarray(start - first, start - first + length);
}

interface Head {
  status: number;
  headers: IncomingMessage['headers'];
}

/** A GET/HEAD whose body is handed to `sink` chunk by chunk (never held whole). */
function fetchTo(url: string, method: string, headers: Record<string, string>, sink?: (res: IncomingMessage) => Promise<void>): Promise<Head> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const done = sink ? sink(res) : new Promise<void>((r) => res.on('end', r).resume());
      done.then(() => resolve({ status: res.statusCode ?? 0, headers: res.headers }), reject);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function hashInto(hash: ReturnType<typeof createHash>, counter: { n: number }) {
  return async (src: NodeJS.ReadableStream) => {
    for await (const c of src) {
      counter.n += (c as Buffer).length;
      hash.update(c as Buffer);
    }
  };
}

function collect(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.on('end', () => resolve(Buffer.concat(parts)));
    res.on('error', reject);
  });
}

describe('large gzip-stored needle reads', () => {
  let master: Master;
  let vs: VolumeServer;
  let sha = '';

  const resetPeak = () => writeFileSync(`/proc/${vs.proc.pid}/clear_refs`, '5');
  const rssKb = () => procStatusKb(vs.proc.pid!, 'VmRSS');
  const peakKb = () => procStatusKb(vs.proc.pid!, 'VmHWM');

  before(async () => {
    master = await startMaster(2048);
    vs = await startVolumeServer({ master: master.address, extraArgs: ['--fileSizeLimitMB', '1024'] });
    const c = volumeClient(vs.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: VID, replication: '000', version: 3 });
    } finally {
      c.close();
    }
    const sent = createHash('sha256');
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${vs.url}/${FID}`, { method: 'POST', headers: { 'Content-Type': 'text/plain' } });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      let i = 0;
      const pump = () => {
        while (i < CHUNKS) {
          const b = chunk(i++);
          sent.update(b);
          if (!req.write(b)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(status, 201);
    sha = sent.digest('hex');
  });

  after(async () => {
    await vs?.stop();
    await master?.stop();
    cleanup(master.dir, vs.dir);
  });

  test('the body is stored gzipped, much smaller than sent but past the paged-read limit', async (t) => {
    const c = volumeClient(vs.grpcAddress);
    try {
      const st = await c.call<{ volume_size: string }>('VolumeStatus', { volume_id: VID });
      const stored = Number(st.volume_size);
      t.diagnostic(`sent ${SIZE} bytes, volume size ${stored} bytes`);
      assert.ok(stored < SIZE / 8, `stored ${stored} bytes`);
      assert.ok(stored > 2 * MiB, `stored ${stored} bytes`);
    } finally {
      c.close();
    }
  });

  test('GET without Accept-Encoding streams the inflated bytes with bounded memory', async (t) => {
    resetPeak();
    const base = rssKb();
    const got = createHash('sha256');
    const count = { n: 0 };
    const h = await fetchTo(`${vs.url}/${FID}`, 'GET', {}, hashInto(got, count));
    const growth = peakKb() - base;
    t.diagnostic(`inflated GET: ${count.n} bytes, peak RSS growth ${growth} kB`);
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-encoding'], undefined);
    assert.equal(h.headers['content-type'], 'text/plain');
    assert.equal(count.n, SIZE);
    assert.equal(got.digest('hex'), sha);
    assert.ok(growth < RSS_BOUND_KB, `peak RSS grew by ${growth} kB`);
  });

  test('HEAD without Accept-Encoding answers the headers without a body', async () => {
    const h = await fetchTo(`${vs.url}/${FID}`, 'HEAD', {});
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-encoding'], undefined);
    assert.equal(h.headers['content-type'], 'text/plain');
    assert.equal(h.headers['accept-ranges'], 'bytes');
  });

  test('GET with Accept-Encoding: gzip serves the stored gzip, which inflates to the original', async (t) => {
    resetPeak();
    const base = rssKb();
    const got = createHash('sha256');
    const count = { n: 0 };
    let wire = 0;
    const h = await fetchTo(`${vs.url}/${FID}`, 'GET', { 'Accept-Encoding': 'gzip' }, (res) => {
      res.on('data', (c: Buffer) => (wire += c.length));
      return hashInto(got, count)(res.pipe(createGunzip()));
    });
    const growth = peakKb() - base;
    t.diagnostic(`gzip GET: ${wire} bytes on the wire, peak RSS growth ${growth} kB`);
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-encoding'], 'gzip');
    assert.equal(Number(h.headers['content-length']), wire);
    assert.equal(count.n, SIZE);
    assert.equal(got.digest('hex'), sha);
    assert.ok(growth < RSS_BOUND_KB, `peak RSS grew by ${growth} kB`);
  });

  test('Range reads without gzip return the right inflated bytes', async (t) => {
    resetPeak();
    const base = rssKb();
    for (const [range, start, length] of [
      ['bytes=157286395-157386394', 157286395, 100000],
      ['bytes=0-99', 0, 100],
      [`bytes=-1000`, SIZE - 1000, 1000],
      [`bytes=${SIZE - 10}-`, SIZE - 10, 10],
    ] as const) {
      let body: Buffer = Buffer.alloc(0);
      const h = await fetchTo(`${vs.url}/${FID}`, 'GET', { Range: range }, async (res) => {
        body = await collect(res);
      });
      assert.equal(h.status, 206, range);
      assert.equal(h.headers['content-range'], `bytes ${start}-${start + length - 1}/${SIZE}`, range);
      assert.equal(Number(h.headers['content-length']), length, range);
      assert.equal(h.headers['content-encoding'], undefined);
      assert.ok(body.equals(original(start, length)), range);
    }
    const h = await fetchTo(`${vs.url}/${FID}`, 'GET', { Range: `bytes=${SIZE}-` });
    assert.equal(h.status, 416);
    assert.equal(h.headers['content-range'], `bytes */${SIZE}`);
    const growth = peakKb() - base;
    t.diagnostic(`range GETs: peak RSS growth ${growth} kB`);
    assert.ok(growth < RSS_BOUND_KB, `peak RSS grew by ${growth} kB`);
  });

  test('a small stored gzip that inflates hugely is streamed too, not inflated in memory', async (t) => {
    const size = 200 * MiB;
    const fid = `${VID},02cafe0002`;
    const block = Buffer.alloc(MiB, 'a');
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${vs.url}/${fid}`, { method: 'POST', headers: { 'Content-Type': 'text/plain' } });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      let i = 0;
      const pump = () => {
        while (i < size / MiB) {
          i++;
          if (!req.write(block)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(status, 201);
    const expected = createHash('sha256');
    for (let i = 0; i < size / MiB; i++) expected.update(block);
    resetPeak();
    const base = rssKb();
    const got = createHash('sha256');
    const count = { n: 0 };
    const h = await fetchTo(`${vs.url}/${fid}`, 'GET', {}, hashInto(got, count));
    assert.equal(h.status, 200);
    assert.equal(count.n, size);
    assert.equal(got.digest('hex'), expected.digest('hex'));
    let body: Buffer = Buffer.alloc(0);
    const r = await fetchTo(`${vs.url}/${fid}`, 'GET', { Range: 'bytes=-5' }, async (res) => {
      body = await collect(res);
    });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes ${size - 5}-${size - 1}/${size}`);
    assert.equal(body.toString(), 'aaaaa');
    const growth = peakKb() - base;
    t.diagnostic(`small stored gzip, ${size} bytes inflated: peak RSS growth ${growth} kB`);
    assert.ok(growth < RSS_BOUND_KB, `peak RSS grew by ${growth} kB`);
  });

  test('a Range read with Accept-Encoding: gzip refers to the stored bytes', async () => {
    let body: Buffer = Buffer.alloc(0);
    const h = await fetchTo(`${vs.url}/${FID}`, 'GET', { Range: 'bytes=0-9', 'Accept-Encoding': 'gzip' }, async (res) => {
      body = await collect(res);
    });
    assert.equal(h.status, 206);
    assert.equal(h.headers['content-encoding'], 'gzip');
    assert.equal(body[0], 0x1f);
    assert.equal(body[1], 0x8b);
  });
});
