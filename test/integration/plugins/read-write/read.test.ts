// The HTTP read path of our server, on needles written straight into a volume directory with the
// storage API before the server starts (no upload path involved): headers, conditional requests,
// ranges, HEAD, pairs, stored gzip, deleted needles, chunk manifests (with a Go master for the
// chunk lookups), and a 1 GiB needle streamed with bounded server memory and backpressure.
import assert from 'node:assert/strict';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { crc32c } from '../../../../core/storage/crc32c.js';
import { formatFileId } from '../../../../core/storage/file-id.js';
import {
  FLAG_HAS_LAST_MODIFIED_DATE,
  FLAG_HAS_MIME,
  FLAG_HAS_NAME,
  FLAG_HAS_PAIRS,
  FLAG_IS_CHUNK_MANIFEST,
  FLAG_IS_COMPRESSED,
  newNeedle,
} from '../../../../core/storage/needle.js';
import { ReplicaPlacement, Ttl } from '../../../../core/storage/types.js';
import { Volume } from '../../../../core/storage/volume.js';
import { cleanup, procStatusKb, startMaster, startVolumeServer, tempDir, waitFor, type Master, type VolumeServer } from '../../../helpers/processes.js';

const VID = 7;
const BIG_VID = 8;
const COOKIE = 0x637037d6;
const LAST_MODIFIED = 1700000000;
const GIB = 1024 * 1024 * 1024;
/** RSS growth allowed while serving the 1 GiB needle (4 MiB read chunks; GC slack included). */
const RSS_BOUND_BYTES = 160 * 1024 * 1024;

interface Stored {
  id: bigint;
  data: Uint8Array;
  name?: string;
  mime?: string;
  pairs?: string;
  flags?: number;
  cookie?: number;
}

async function writeNeedles(dir: string, vid: number, needles: Stored[], deleted: bigint[] = []): Promise<void> {
  const v = await Volume.create({
    dir,
    collection: '',
    id: vid,
    offsetWidth: 4,
    create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.EMPTY },
  });
  try {
    for (const s of needles) {
      let flags = FLAG_HAS_LAST_MODIFIED_DATE | (s.flags ?? 0);
      if (s.name !== undefined) flags |= FLAG_HAS_NAME;
      if (s.mime !== undefined) flags |= FLAG_HAS_MIME;
      if (s.pairs !== undefined) flags |= FLAG_HAS_PAIRS;
      await v.write(
        newNeedle({ cookie: s.cookie ?? COOKIE, id: s.id, data: s.data, flags, name: s.name, mime: s.mime, pairs: s.pairs, lastModified: LAST_MODIFIED }),
      );
    }
    for (const id of deleted) await v.delete(id, { cookie: COOKIE });
  } finally {
    await v.close();
  }
}

const fid = (vid: number, id: bigint, cookie = COOKIE) => formatFileId(vid, id, cookie);

const rssBytes = (pid: number) => procStatusKb(pid, 'VmRSS') * 1024;

function rawGet(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => httpGet(url, { headers }, resolve).on('error', reject));
}

describe('read path over HTTP', () => {
  let master: Master;
  let vs: VolumeServer;
  let dir: string;
  const text = Buffer.from('hello world, this is the read path');
  const plain = Buffer.from('compressed-read-content-'.repeat(20));
  const gzPlain = gzipSync(plain);

  before(async () => {
    dir = tempDir('ts-weed-rw-read-');
    const manifest = JSON.stringify({
      name: 'joined.txt',
      mime: 'text/plain',
      size: 10,
      chunks: [
        { fid: fid(VID, 11n), offset: 5, size: 5 },
        { fid: fid(VID, 10n), offset: 0, size: 5 },
      ],
    });
    await writeNeedles(
      dir,
      VID,
      [
        { id: 1n, data: text, name: 'hello.txt', mime: '' },
        { id: 2n, data: Buffer.from('{"k":1}'), name: '', mime: 'application/octet-stream', pairs: '{"Seaweed-Color":"blue","x-owner":"me"}' },
        { id: 3n, data: gzPlain, name: 'plain.txt', mime: 'text/plain', flags: FLAG_IS_COMPRESSED },
        { id: 4n, data: Buffer.from('soon gone'), name: 'gone.txt', mime: 'text/plain' },
        { id: 10n, data: Buffer.from('AAAAA') },
        { id: 11n, data: Buffer.from('BBBBB') },
        { id: 12n, data: Buffer.from(manifest), name: 'm.json', mime: 'application/json', flags: FLAG_IS_CHUNK_MANIFEST },
        { id: 13n, data: Buffer.from('not a manifest'), name: 'raw.bin', mime: '', flags: FLAG_IS_CHUNK_MANIFEST },
      ],
      [4n],
    );
    master = await startMaster();
    vs = await startVolumeServer({ master: master.address, dir, env: { WEED_OFFSET_BYTES: '4' } });
    // The master must know our volume before chunk lookups can succeed.
    await waitFor(async () => (await fetch(`${master.url}/dir/lookup?volumeId=${VID}`)).ok, 15_000, 'volume registered at the master');
  });

  after(async () => {
    await vs?.stop();
    await master?.stop();
    cleanup(dir, master?.dir ?? '');
  });

  test('GET: body, ETag, Last-Modified, type from the stored name, inline disposition', async () => {
    const r = await fetch(`${vs.url}/${fid(VID, 1n)}`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), text.toString());
    assert.equal(r.headers.get('etag'), `"${crc32c(text).toString(16).padStart(8, '0')}"`);
    assert.equal(r.headers.get('last-modified'), 'Tue, 14 Nov 2023 22:13:20 GMT');
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    assert.equal(r.headers.get('content-disposition'), 'inline; filename=hello.txt');
    assert.equal(r.headers.get('content-length'), String(text.length));
  });

  test('URL shapes, the URL file name, dl=1 and S3 overrides', async () => {
    const [, key] = fid(VID, 1n).split(',');
    const r = await fetch(`${vs.url}/${VID}/${key}/report%20v1.txt?dl=1&response-cache-control=no-store&response-content-type=x/y`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), text.toString());
    assert.equal(r.headers.get('content-disposition'), 'attachment; filename="report v1.txt"');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('content-type'), 'x/y');
    assert.equal((await fetch(`${vs.url}/${VID}/${key}.txt`)).status, 200);
    assert.equal((await fetch(`${vs.url}/${VID}/not-a-fid`)).status, 400);
    assert.equal((await fetch(`${vs.url}/x,${key}`)).status, 400);
    assert.equal((await fetch(`${vs.url}/${fid(VID, 1n, COOKIE + 1)}`)).status, 404);
    assert.equal((await fetch(`${vs.url}/${fid(VID, 99n)}`)).status, 404);
  });

  test('conditional requests: If-None-Match wins, If-Modified-Since, 304 keeps the validators', async () => {
    const url = `${vs.url}/${fid(VID, 1n)}`;
    const etag = (await fetch(url)).headers.get('etag')!;
    const r1 = await fetch(url, { headers: { 'If-None-Match': etag } });
    assert.equal(r1.status, 304);
    assert.equal(r1.headers.get('etag'), etag);
    assert.equal(r1.headers.get('last-modified'), 'Tue, 14 Nov 2023 22:13:20 GMT');
    const lm = 'Tue, 14 Nov 2023 22:13:20 GMT';
    assert.equal((await fetch(url, { headers: { 'If-Modified-Since': lm } })).status, 304);
    assert.equal((await fetch(url, { method: 'HEAD', headers: { 'If-Modified-Since': lm } })).status, 304);
    assert.equal((await fetch(url, { headers: { 'If-Modified-Since': lm, 'If-None-Match': '"other"' } })).status, 200);
    assert.equal((await fetch(url, { headers: { 'If-Modified-Since': 'garbage' } })).status, 200);
    assert.equal((await fetch(url, { headers: { 'If-Modified-Since': 'Mon, 13 Nov 2023 22:13:20 GMT' } })).status, 200);
  });

  test('ranges: single, suffix, multipart, oversized, empty list, 416', async () => {
    const url = `${vs.url}/${fid(VID, 1n)}`;
    const one = await fetch(url, { headers: { Range: 'bytes=0-4' } });
    assert.equal(one.status, 206);
    assert.equal(await one.text(), 'hello');
    assert.equal(one.headers.get('content-range'), `bytes 0-4/${text.length}`);
    const suffix = await fetch(url, { headers: { Range: 'bytes=-4' } });
    assert.equal(await suffix.text(), 'path');

    const multi = await fetch(url, { headers: { Range: 'bytes=0-1,6-10' } });
    assert.equal(multi.status, 206);
    const ct = multi.headers.get('content-type') ?? '';
    const boundary = /boundary=([0-9a-f]+)$/.exec(ct)?.[1];
    assert.ok(boundary, ct);
    const body = await multi.text();
    assert.equal(multi.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(
      body,
      `--${boundary}\r\nContent-Range: bytes 0-1/${text.length}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhe` +
        `\r\n--${boundary}\r\nContent-Range: bytes 6-10/${text.length}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nworld` +
        `\r\n--${boundary}--\r\n`,
    );

    const oversized = await fetch(url, { headers: { Range: `bytes=0-${text.length - 1},0-5` } });
    assert.equal(oversized.status, 200);
    assert.equal(await oversized.text(), '');
    const empty = await fetch(url, { headers: { Range: 'bytes=' } });
    assert.equal(empty.status, 200);
    assert.equal(await empty.text(), '');

    const bad = await fetch(url, { headers: { Range: 'pages=1' } });
    assert.equal(bad.status, 416);
    assert.equal(await bad.text(), 'invalid range\n');
    assert.equal(bad.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.ok(bad.headers.get('etag'), 'headers set before the body stay');
    const past = await fetch(url, { headers: { Range: `bytes=${text.length}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${text.length}`);

    const stale = await fetch(url, { headers: { Range: 'bytes=0-4', 'If-Range': '"00000000"' } });
    assert.equal(stale.status, 200, 'a stale If-Range serves the whole file');
    assert.equal(await stale.text(), text.toString());
  });

  test('HEAD: headers and length, no body, Range ignored', async () => {
    const r = await fetch(`${vs.url}/${fid(VID, 1n)}`, { method: 'HEAD', headers: { Range: 'bytes=0-1' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), String(text.length));
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await r.text(), '');
  });

  test('pairs become headers; an octet-stream mime is ignored and the type is sniffed', async () => {
    const r = await fetch(`${vs.url}/${fid(VID, 2n)}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('seaweed-color'), 'blue');
    assert.equal(r.headers.get('x-owner'), 'me');
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(r.headers.get('content-disposition'), null);
  });

  test('stored gzip: sent as is to gzip clients, inflated for others', async () => {
    const url = `${vs.url}/${fid(VID, 3n)}`;
    const gz = await rawGet(url, { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    const chunks: Buffer[] = [];
    for await (const c of gz) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), gzPlain);
    const id = await rawGet(url, { 'Accept-Encoding': 'identity' });
    assert.equal(id.headers['content-encoding'], undefined);
    const parts: Buffer[] = [];
    for await (const c of id) parts.push(c as Buffer);
    assert.equal(Buffer.concat(parts).toString(), plain.toString());
  });

  test('the fast path (bare fid) answers exactly as the routed path (same fid with a query)', async () => {
    // A query string always takes the routed read handler; an unknown parameter changes nothing.
    const ignored = new Set(['date', 'x-amz-request-id', 'connection', 'keep-alive']);
    const collect = async (m: IncomingMessage) => {
      const parts: Buffer[] = [];
      for await (const c of m) parts.push(c as Buffer);
      const headers: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(m.headers)) if (!ignored.has(k)) headers[k] = v;
      return { status: m.statusCode, headers, body: Buffer.concat(parts) };
    };
    const cases: [bigint, Record<string, string>, string][] = [
      [1n, {}, 'GET'],
      [1n, { Origin: 'http://example.com' }, 'GET'],
      [1n, {}, 'HEAD'],
      [2n, {}, 'GET'], // pairs: declined by the fast path
      [3n, { 'Accept-Encoding': 'gzip' }, 'GET'],
      [3n, { 'Accept-Encoding': 'identity' }, 'GET'], // inflation: declined
      [4n, {}, 'GET'], // deleted: declined, 404
      [10n, {}, 'GET'], // no name or mime: sniffed
      [12n, {}, 'GET'], // chunk manifest: declined
      [99n, {}, 'GET'], // missing: declined, 404
    ];
    for (const [id, headers, method] of cases) {
      const url = `${vs.url}/${fid(VID, id)}`;
      const ask = (u: string) => new Promise<IncomingMessage>((resolve, reject) => httpGet(u, { method, headers }, resolve).on('error', reject));
      const fast = await collect(await ask(url));
      const routed = await collect(await ask(`${url}?unused=1`));
      assert.deepEqual(fast, routed, `${method} needle ${id} ${JSON.stringify(headers)}`);
    }
    // Both paths really ran: node keeps the fast path's header-name case, fastify lower-cases.
    const fastRaw = await new Promise<IncomingMessage>((resolve, reject) => httpGet(`${vs.url}/${fid(VID, 1n)}`, resolve).on('error', reject));
    fastRaw.resume();
    assert.ok(fastRaw.rawHeaders.includes('Accept-Ranges'));
    const routedRaw = await new Promise<IncomingMessage>((resolve, reject) => httpGet(`${vs.url}/${fid(VID, 1n)}?x=1`, resolve).on('error', reject));
    routedRaw.resume();
    assert.ok(routedRaw.rawHeaders.includes('accept-ranges'));
    const wrongCookie = await fetch(`${vs.url}/${fid(VID, 1n, COOKIE + 1)}`);
    assert.equal(wrongCookie.status, 404);
  });

  test('deleted needles: 404, and served again with readDeleted=true', async () => {
    const url = `${vs.url}/${fid(VID, 4n)}`;
    assert.equal((await fetch(url)).status, 404);
    const r = await fetch(`${url}?readDeleted=true`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'soon gone');
  });

  test('chunk manifests: expanded with ranges, bypassed with cm=false, raw when unparsable', async () => {
    const url = `${vs.url}/${fid(VID, 12n)}`;
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-file-store'), 'chunked');
    assert.equal(r.headers.get('content-type'), 'text/plain');
    assert.equal(r.headers.get('content-disposition'), 'inline; filename=joined.txt', 'the manifest name, not the stored one');
    assert.equal(await r.text(), 'AAAAABBBBB');
    const ranged = await fetch(url, { headers: { Range: 'bytes=3-6' } });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), 'AABB');
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), '10');
    const bypass = await fetch(`${url}?cm=false`);
    assert.equal(bypass.headers.get('x-file-store'), null);
    assert.equal((JSON.parse(await bypass.text()) as { name: string }).name, 'joined.txt');
    const raw = await fetch(`${vs.url}/${fid(VID, 13n)}`);
    assert.equal(raw.status, 200);
    assert.equal(await raw.text(), 'not a manifest');
  });

  test('volumes that are not here: readMode proxy asks the master, which does not know them', async () => {
    assert.equal((await fetch(`${vs.url}/${fid(999, 1n)}`)).status, 404);
    assert.equal((await fetch(`${vs.url}/${fid(999, 1n)}?proxied=true`)).status, 404);
  });
});

describe('a 1 GiB needle', () => {
  let vs: VolumeServer;
  let dir: string;
  let expectedCrc = 0;

  before(async () => {
    dir = tempDir('ts-weed-rw-read-big-');
    const data = Buffer.allocUnsafe(GIB);
    for (let i = 0; i < GIB; i += 4) data.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i);
    expectedCrc = crc32c(data);
    await writeNeedles(dir, BIG_VID, [{ id: 1n, data, name: 'big.bin', mime: 'application/x-big' }]);
    vs = await startVolumeServer({ dir, env: { WEED_OFFSET_BYTES: '4' } });
  });

  after(async () => {
    await vs?.stop();
    cleanup(dir);
  });

  test('streams from disk with bounded memory, and the body is intact', async () => {
    const pid = vs.proc.pid!;
    const url = `${vs.url}/${fid(BIG_VID, 1n)}`;
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(GIB));
    assert.equal(head.headers.get('etag'), `"${expectedCrc.toString(16).padStart(8, '0')}"`);

    const base = rssBytes(pid);
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(pid));
    }, 25);
    let crc = 0;
    let total = 0;
    try {
      const res = await rawGet(url);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-length'], String(GIB));
      assert.equal(res.headers['content-type'], 'application/x-big');
      for await (const c of res) {
        crc = crc32c(c as Buffer, crc);
        total += (c as Buffer).length;
      }
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rssBytes(pid));
    assert.equal(total, GIB);
    assert.equal(crc, expectedCrc, 'streamed bytes match the stored needle');
    console.log(`1 GiB download: server RSS grew by ${((peak - base) / 1048576).toFixed(1)} MiB`);
    assert.ok(peak - base < RSS_BOUND_BYTES, `RSS grew by ${((peak - base) / 1048576).toFixed(1)} MiB (bound ${RSS_BOUND_BYTES / 1048576} MiB)`);
  });

  test('a client that stops reading does not make the server read ahead (backpressure)', async () => {
    const pid = vs.proc.pid!;
    const res = await rawGet(`${vs.url}/${fid(BIG_VID, 1n)}`);
    assert.equal(res.statusCode, 200);
    const base = rssBytes(pid);
    res.pause();
    await new Promise((r) => setTimeout(r, 1500));
    const grown = rssBytes(pid) - base;
    res.destroy();
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB while the client was paused`);
    // The server is still healthy and serves a range from the middle of the needle.
    const r = await fetch(`${vs.url}/${fid(BIG_VID, 1n)}`, { headers: { Range: `bytes=${GIB / 2}-${GIB / 2 + 7}` } });
    assert.equal(r.status, 206);
    const got = Buffer.from(await r.arrayBuffer());
    const want = Buffer.alloc(8);
    for (let i = 0; i < 8; i += 4) want.writeUInt32LE(Math.imul(GIB / 2 + i, 2654435761) >>> 0, i);
    assert.deepEqual(got, want);
  });
});

describe('big needles streamed concurrently through recycled read buffers', () => {
  const VIDS = 9;
  let vs: VolumeServer;
  let dir: string;
  const bodies = new Map<bigint, Buffer>();

  before(async () => {
    dir = tempDir('ts-weed-rw-read-pool-');
    // Sizes around the 1 MiB chunk so first, last and partial chunks all occur.
    const sizes = [3 * 1048576 + 17, 5 * 1048576, 2 * 1048576 - 1, 7 * 1048576 + 4096, 1048576 + 1, 4 * 1048576 + 12345];
    sizes.forEach((size, i) => {
      const b = Buffer.allocUnsafe(size);
      for (let k = 0; k < size; k++) b[k] = (k * (i + 3) + (k >>> 11) * 7 + i) & 0xff;
      bodies.set(BigInt(i + 1), b);
    });
    await writeNeedles(dir, VIDS, [...bodies].map(([id, data]) => ({ id, data, name: `n${id}.bin`, mime: 'application/x-test' })));
    vs = await startVolumeServer({ dir, env: { WEED_OFFSET_BYTES: '4' }, extraArgs: ['--readBufferSizeMB', '1'] });
  });

  after(async () => {
    await vs?.stop();
    cleanup(dir);
  });

  test('every concurrent download gets its own bytes, also after aborted ones', async () => {
    const fetchAll = (id: bigint) => fetch(`${vs.url}/${fid(VIDS, id)}`).then(async (r) => Buffer.from(await r.arrayBuffer()));
    // Aborted downloads leave chunks in flight; they must never leak into other answers.
    const abort = async (id: bigint) => {
      const res = await rawGet(`${vs.url}/${fid(VIDS, id)}`);
      await new Promise<void>((resolve) => res.once('data', () => resolve()));
      res.destroy();
    };
    for (let round = 0; round < 3; round++) {
      const ids = [...bodies.keys()];
      const [got] = await Promise.all([Promise.all([...ids, ...ids].map(fetchAll)), ...ids.slice(0, 3).map(abort)]);
      [...ids, ...ids].forEach((id, i) => assert.ok(got[i].equals(bodies.get(id)!), `round ${round}: needle ${id} body differs`));
    }
    const ranged = await fetch(`${vs.url}/${fid(VIDS, 4n)}`, { headers: { Range: 'bytes=1048570-3145740' } });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(bodies.get(4n)!.subarray(1048570, 3145741)));
  });
});
