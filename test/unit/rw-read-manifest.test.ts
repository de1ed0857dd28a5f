// Chunk manifest loading (Go's LoadChunkManifest, bounded: MAX_MANIFEST_BYTES, inflated off the
// event loop), the bounded inflation it uses, and reading a logical range across chunks served by
// a local HTTP server that honours `Range: bytes=N-` as a volume server does.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { inflateBounded, TOO_LARGE } from '../../plugins/read-write/http/inflate.js';
import { gzipZeros } from '../helpers/gzip-bomb.js';
import { VolumeServerError } from '../../core/errors.js';
import {
  loadChunkManifest,
  ManifestError,
  MAX_MANIFEST_BYTES,
  manifestTotalSize,
  parseChunkManifest,
  readChunkedRange,
  type ChunkInfo,
  type ChunkLocator,
} from '../../plugins/read-write/http/chunk-manifest.js';

const enc = (s: string) => Buffer.from(s);

describe('parseChunkManifest', () => {
  test('Go JSON shape, chunks sorted by offset', () => {
    const m = parseChunkManifest(
      enc('{"name":"manifest.bin","mime":"application/octet-stream","size":6,"chunks":[{"fid":"3,02","offset":3,"size":3},{"fid":"3,01","offset":0,"size":3}]}'),
    );
    assert.equal(m.name, 'manifest.bin');
    assert.equal(m.mime, 'application/octet-stream');
    assert.equal(m.size, 6);
    assert.deepEqual(
      m.chunks.map((c) => c.fid),
      ['3,01', '3,02'],
    );
    assert.equal(manifestTotalSize(m.chunks), 6);
  });

  test('gzip-compressed manifests are inflated (loadChunkManifest)', async () => {
    const m = await loadChunkManifest(gzipSync(enc('{"chunks":[{"fid":"1,ab","offset":0,"size":1}]}')), true);
    assert.equal(m.chunks.length, 1);
    assert.equal(m.name, '');
    // Not flagged compressed: the bytes are JSON as they are.
    assert.equal((await loadChunkManifest(enc('{"size":3}'), false)).size, 3);
    // Flagged compressed but not gzip, or gzip that does not inflate: kept, then fails to parse.
    await assert.rejects(loadChunkManifest(enc('\x1f\x8bnot gzip'), true), ManifestError);
  });

  test('keys match case-insensitively, unknown keys are ignored, null is an empty manifest', () => {
    const m = parseChunkManifest(enc('{"Name":"x","CHUNKS":[{"Fid":"1,ab","Offset":0,"SIZE":2,"extra":true}],"other":1}'));
    assert.equal(m.name, 'x');
    assert.deepEqual(m.chunks, [{ fid: '1,ab', offset: 0, size: 2 }]);
    assert.deepEqual(parseChunkManifest(enc('null')), { name: '', mime: '', size: 0, chunks: [] });
  });

  test('what Go cannot unmarshal is an error (then the raw bytes are served)', () => {
    for (const bad of ['not json', '[1,2]', '{"size":"12"}', '{"size":1.5}', '{"chunks":{}}', '{"chunks":[null]}', '{"name":5}', '"str"']) {
      assert.throws(() => parseChunkManifest(enc(bad)), ManifestError, bad);
    }
  });
});

describe('bounded manifest loading', () => {
  const isLimit = (e: unknown) =>
    e instanceof VolumeServerError && e.code === 'VS_ERR_INFLATE_LIMIT' && e.httpStatus === 500 && e.message === `chunk manifest exceeds the ${MAX_MANIFEST_BYTES}-byte limit`;

  test('a gzip bomb (1 GiB of zeros, ~1 MiB stored) is refused at the cap, not inflated whole', async () => {
    const bomb = Buffer.concat([...gzipZeros(1024)]);
    assert.ok(bomb.length < 2 * 1024 * 1024);
    await assert.rejects(loadChunkManifest(bomb, true), isLimit);
  });

  test('a manifest just over the cap once inflated is refused; one at the cap loads', async () => {
    const pad = (n: number) => enc(`{"name":"${'x'.repeat(n - 11)}"}`);
    assert.equal(pad(MAX_MANIFEST_BYTES).length, MAX_MANIFEST_BYTES);
    const ok = await loadChunkManifest(gzipSync(pad(MAX_MANIFEST_BYTES)), true);
    assert.equal(ok.name.length, MAX_MANIFEST_BYTES - 11);
    await assert.rejects(loadChunkManifest(gzipSync(pad(MAX_MANIFEST_BYTES + 1)), true), isLimit);
    // A stored (not compressed) manifest past the cap is refused too: it would be parsed whole.
    await assert.rejects(loadChunkManifest(pad(MAX_MANIFEST_BYTES + 1), false), isLimit);
  });
});

describe('inflateBounded', () => {
  test('inflates within the limit, answers TOO_LARGE past it, keeps bytes that are not gzip', async () => {
    const text = enc('hello '.repeat(1000));
    const gz = gzipSync(text);
    assert.deepEqual(await inflateBounded(gz, text.length), text);
    assert.equal(await inflateBounded(gz, text.length - 1), TOO_LARGE);
    const plain = enc('plain bytes');
    assert.equal(await inflateBounded(plain, 10), plain);
    const broken = Buffer.concat([gz.subarray(0, 20), Buffer.alloc(20, 0xff)]);
    assert.equal(await inflateBounded(broken, 1 << 20), broken);
    assert.equal(await inflateBounded(Buffer.concat([...gzipZeros(64)]), 1 << 20), TOO_LARGE);
  });
});

describe('readChunkedRange', () => {
  const blobs: Record<string, string> = { '1,01': 'abcde', '1,02': 'fghij', '1,03': 'klmno' };
  let server: Server;
  let base = '';
  const requests: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const fid = (req.url ?? '').slice(1);
      requests.push(`${fid} ${req.headers.range ?? ''}`);
      const body = blobs[fid];
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m) {
        const start = Number(m[1]);
        res.writeHead(206, { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` }).end(body.slice(start));
      } else {
        res.writeHead(200).end(body);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
  });
  after(() => server.close());

  const locator = (): ChunkLocator & { invalidated: string[] } => {
    const invalidated: string[] = [];
    return {
      invalidated,
      urls: async (fid) => [`${base}/${fid}`],
      invalidate: (fid) => void invalidated.push(fid),
    };
  };
  const chunks: ChunkInfo[] = [
    { fid: '1,01', offset: 0, size: 5 },
    { fid: '1,02', offset: 5, size: 5 },
    { fid: '1,03', offset: 10, size: 5 },
  ];

  async function read(start: number, length: number, list = chunks, loc = locator()): Promise<string> {
    let out = '';
    for await (const b of readChunkedRange(list, start, length, loc)) out += b.toString();
    return out;
  }

  test('whole file, and a range starting inside a chunk uses Range: bytes=N-', async () => {
    assert.equal(await read(0, 15), 'abcdefghijklmno');
    requests.length = 0;
    assert.equal(await read(7, 5), 'hijkl');
    assert.deepEqual(requests, ['1,02 bytes=2-', '1,03 ']);
  });

  test('a range ending inside a chunk stops there', async () => {
    assert.equal(await read(1, 2), 'bc');
    assert.equal(await read(14, 1), 'o');
  });

  test('a start outside every chunk is an invalid range', async () => {
    await assert.rejects(read(20, 1), /Invalid range/);
  });

  test('a missing chunk fails the read and drops its cached locations', async () => {
    const loc = locator();
    await assert.rejects(read(0, 10, [{ fid: '1,01', offset: 0, size: 5 }, { fid: '1,99', offset: 5, size: 5 }], loc), /404/);
    assert.deepEqual(loc.invalidated, ['1,99']);
  });

  test('a short chunk is an unexpected EOF', async () => {
    await assert.rejects(read(0, 8, [{ fid: '1,01', offset: 0, size: 8 }]), /unexpected EOF/);
  });
});
