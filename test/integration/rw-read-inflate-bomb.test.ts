// Decompression bombs on the read path: a gzip-stored chunk manifest and a gzip-stored image that
// inflate to 1 GiB of zeros (about 1 MiB stored, uploaded through the real write path). Go inflates
// both whole in memory (weed/operation/chunked_file.go LoadChunkManifest, and
// weed/server/volume_server_handlers_read.go GetOrHeadHandler before a resize/crop); we inflate
// off the event loop, up to a named cap, and answer a clear 500 beyond it, with bounded memory,
// while other requests keep being answered. A DELETE of the manifest loads it the same way.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { volumeClient } from '../helpers/grpc.js';
import { gzipZeros } from '../helpers/gzip-bomb.js';
import { sendStream } from '../helpers/http.js';
import { cleanup, procStatusKb, startMaster, startVolumeServer, type Master, type VolumeServer } from '../helpers/processes.js';

const VID = 9;
const BOMB_MIB = 1024; // inflates to 1 GiB
/** The image cap is the upload size limit (fileSizeLimitMB), set low here. */
const FILE_SIZE_LIMIT_MB = 64;
/** Peak server RSS growth allowed while answering a bomb (the bomb itself is 1 GiB inflated). */
const RSS_BOUND_KB = 300 * 1024;
const MANIFEST_FID = `${VID},01aa000001`;
const IMAGE_FID = `${VID},02bb000002`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The first bytes of the body (at most 64 KiB are read; the rest is dropped). */
  body: Buffer;
  /** Body bytes received before reading stopped. */
  received: number;
}

/** A request whose body is read only up to 64 KiB, so a wrong answer of 1 GiB does not fill the test's memory. */
function fetchCapped(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const cap = 64 * 1024;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      let received = 0;
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).subarray(0, cap), received });
      res.on('data', (c: Buffer) => {
        received += c.length;
        if (received - c.length < cap) parts.push(c);
        if (received > cap) {
          res.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', () => done());
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gzip bombs on the read path', () => {
  let master: Master;
  let vs: VolumeServer;

  const resetPeak = () => writeFileSync(`/proc/${vs.proc.pid}/clear_refs`, '5');
  const rssKb = () => procStatusKb(vs.proc.pid!, 'VmRSS');
  const peakKb = () => procStatusKb(vs.proc.pid!, 'VmHWM');

  /** Answers a bomb request and a /status request sent alongside; checks the peak RSS growth. */
  async function bombWithNeighbour(t: { diagnostic: (s: string) => void }, url: string, headers: Record<string, string> = {}, method = 'GET') {
    resetPeak();
    const base = rssKb();
    const [bomb, neighbour] = await Promise.all([fetchCapped(url, headers, method), fetchCapped(`${vs.url}/status`)]);
    const growth = peakKb() - base;
    t.diagnostic(`${method} ${url}: ${bomb.status} ${bomb.body.toString('utf8', 0, 200)}; peak RSS growth ${growth} kB`);
    assert.equal(neighbour.status, 200, 'a request sent alongside is answered');
    assert.ok(growth < RSS_BOUND_KB, `peak RSS grew by ${growth} kB`);
    return bomb;
  }

  before(async () => {
    master = await startMaster();
    vs = await startVolumeServer({ master: master.address, extraArgs: ['--fileSizeLimitMB', String(FILE_SIZE_LIMIT_MB)] });
    const c = volumeClient(vs.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: VID, replication: '000', version: 3 });
    } finally {
      c.close();
    }
    // A chunk manifest (cm=true) sent gzip-encoded: stored as sent, flagged compressed + manifest.
    const m = await sendStream(
      `${vs.url}/${MANIFEST_FID}?cm=true`,
      'POST',
      { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      gzipZeros(BOMB_MIB),
    );
    assert.equal(m.status, 201, m.body.toString());
    // An image whose multipart part is gzip-encoded: stored compressed, named bomb.png.
    const boundary = 'bombboundary51';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bomb.png"\r\nContent-Type: image/png\r\nContent-Encoding: gzip\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const i = await sendStream(`${vs.url}/${IMAGE_FID}`, 'POST', { 'Content-Type': `multipart/form-data; boundary=${boundary}` }, [
      head,
      ...gzipZeros(BOMB_MIB),
      tail,
    ]);
    assert.equal(i.status, 201, i.body.toString());
    assert.equal(JSON.parse(i.body.toString()).name, 'bomb.png');
  });

  after(async () => {
    await vs?.stop();
    await master?.stop();
    cleanup(master.dir, vs.dir);
  });

  test('a gzip-bomb chunk manifest: 500 with a clear error, bounded memory, a neighbour answered', async (t) => {
    const bomb = await bombWithNeighbour(t, `${vs.url}/${MANIFEST_FID}`);
    assert.equal(bomb.status, 500);
    assert.match(JSON.parse(bomb.body.toString()).error, /^chunk manifest exceeds the \d+-byte limit$/);
  });

  test('the manifest is refused for gzip clients too (manifests are expanded whatever the encoding)', async (t) => {
    const bomb = await bombWithNeighbour(t, `${vs.url}/${MANIFEST_FID}`, { 'Accept-Encoding': 'gzip' });
    assert.equal(bomb.status, 500);
    assert.match(JSON.parse(bomb.body.toString()).error, /^chunk manifest exceeds/);
  });

  test('cm=false still serves the stored manifest needle as bytes (gzip as stored)', async () => {
    const r = await fetchCapped(`${vs.url}/${MANIFEST_FID}?cm=false`, { 'Accept-Encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.body[0], 0x1f);
    assert.equal(r.body[1], 0x8b);
  });

  for (const [what, path] of [
    ['resize, extension from the URL', `/${IMAGE_FID}.png?width=16`],
    ['resize, extension from the stored name', `/${IMAGE_FID}?width=16&height=16`],
    ['crop', `/${VID}/${IMAGE_FID.split(',')[1]}/bomb.png?crop_x1=0&crop_y1=0&crop_x2=4&crop_y2=4`],
  ] as const) {
    test(`a gzip-bomb image (${what}): 500 with a clear error past the upload size limit, bounded memory, a neighbour answered`, async (t) => {
      const bomb = await bombWithNeighbour(t, vs.url + path);
      assert.equal(bomb.status, 500);
      assert.equal(JSON.parse(bomb.body.toString()).error, `inflated image exceeds the ${FILE_SIZE_LIMIT_MB * 1024 * 1024}-byte limit`);
    });
  }

  test('an image operation on a chunked file past the cap is refused before any chunk is fetched', async () => {
    const manifest = JSON.stringify({ name: 'big.png', size: 100_000_000, chunks: [{ fid: `${VID},03cc000003`, offset: 0, size: 100_000_000 }] });
    const fid = `${VID},04dd000004`;
    const up = await sendStream(`${vs.url}/${fid}?cm=true`, 'POST', { 'Content-Type': 'application/json' }, [Buffer.from(manifest)]);
    assert.equal(up.status, 201, up.body.toString());
    const r = await fetchCapped(`${vs.url}/${fid}?width=16`);
    assert.equal(r.status, 500);
    assert.equal(JSON.parse(r.body.toString()).error, `chunked image exceeds the ${FILE_SIZE_LIMIT_MB * 1024 * 1024}-byte limit`);
  });

  test('HEAD with a resize answers 500 too, without a body', async (t) => {
    const bomb = await bombWithNeighbour(t, `${vs.url}/${IMAGE_FID}.png?width=16`, {}, 'HEAD');
    assert.equal(bomb.status, 500);
    assert.equal(bomb.received, 0);
  });

  test('without an image operation the bomb is served as stored to gzip clients, as Go does', async () => {
    const r = await fetchCapped(`${vs.url}/${IMAGE_FID}`, { 'Accept-Encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.headers['content-type'], 'image/png');
  });

  test('DELETE of the bomb manifest: Go\'s 500 "Load chunks manifest error", inflated no further than reads do', async (t) => {
    const bomb = await bombWithNeighbour(t, `${vs.url}/${MANIFEST_FID}`, {}, 'DELETE');
    assert.equal(bomb.status, 500);
    assert.match(JSON.parse(bomb.body.toString()).error, /^Load chunks manifest error: chunk manifest exceeds the \d+-byte limit$/);
    // The manifest was not deleted (Go deletes the chunks first and stops at a manifest it cannot load).
    assert.equal((await fetchCapped(`${vs.url}/${MANIFEST_FID}?cm=false`, { 'Accept-Encoding': 'gzip' })).status, 200);
  });

  test('the server still answers afterwards', async () => {
    const r = await fetchCapped(`${vs.url}/status`);
    assert.equal(r.status, 200);
  });
});
