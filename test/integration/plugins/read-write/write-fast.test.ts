// The write fast path (plugins/read-write/http/write-fast.ts) answers byte for byte as the routed
// write: the same uploads go to a server with it and to one started with -fastPath=false, and the
// status, every header but Date and the request id's value, and the body must be identical. Which
// server answered on the fast path shows in the header names: node keeps the fast path's case,
// fastify lower-cases them.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { signFileIdJwt } from '../../../../core/security/jwt.js';
import { volumeClient } from '../../../helpers/grpc.js';
import { cleanup, freePort, startMaster, startVolumeServer, tempDir, waitFor, type Master, type VolumeServer } from '../../../helpers/processes.js';

const VID = 7; // replication 000
const RO_VID = 8; // marked read-only
const REPL_VID = 9; // replication 001, no second replica: the routed path's lookup fails
const COOKIE = 0x1a2b3c4d;
const JWT_KEY = 'write-fast-test-key';

function fid(vid: number, key: number, cookie = COOKIE): string {
  return `${vid},${key.toString(16)}${cookie.toString(16).padStart(8, '0')}`;
}

interface Answer {
  status: number;
  /** Lower-cased name and value, in order; Date and the request id's value left out. */
  headers: [string, string][];
  body: string;
  /** Answered by the fast path (node kept the header names' case). */
  fast: boolean;
}

function send(vs: VolumeServer, method: string, path: string, headers: Record<string, string>, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${vs.url}${path}`, { method, headers: { 'Content-Length': String(body.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const out: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i].toLowerCase();
          if (name === 'date') continue;
          out.push([name, name === 'x-amz-request-id' ? '(id)' : res.rawHeaders[i + 1]]);
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: out,
          // The only server-specific text: its own address in "not found on <ip>:<port>".
          body: Buffer.concat(chunks).toString('latin1').replaceAll(String(vs.port), '<port>'),
          fast: res.rawHeaders[0] === 'Server',
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function multipart(parts: { name: string; filename?: string; type?: string; extra?: string; data: Buffer }[], boundary = 'wfBoundary42'): { body: Buffer; type: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}\r\n`;
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    if (p.extra) head += p.extra;
    chunks.push(Buffer.from(head + '\r\n'), p.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');

interface Case {
  what: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body: Buffer;
  /** Whether the fast path takes it. */
  fast: boolean;
}

describe('write fast path', () => {
  // One master each: both servers hold the same volume ids, and under one master the replicated
  // volume's two copies would be each other's replica.
  let masters: Master[] = [];
  let fastVs: VolumeServer;
  let routedVs: VolumeServer;
  let confDir: string;
  let securityFile: string;
  let metricsPorts: number[] = [];

  before(async () => {
    masters = await Promise.all([startMaster(), startMaster()]);
    confDir = tempDir('ts-weed-wfast-');
    securityFile = join(confDir, 'security.toml');
    writeFileSync(securityFile, '');
    // A concurrent upload limit, so the limiter's bookkeeping is on the path being compared.
    const args = ['--securityFile', securityFile, '--concurrentUploadLimitMB', '64'];
    metricsPorts = [await freePort(), await freePort()];
    [fastVs, routedVs] = await Promise.all([
      startVolumeServer({ master: masters[0].address, extraArgs: [...args, '--metricsPort', String(metricsPorts[0])] }),
      startVolumeServer({ master: masters[1].address, extraArgs: [...args, '--metricsPort', String(metricsPorts[1]), '--fastPath=false'] }),
    ]);
    for (const vs of [fastVs, routedVs]) {
      const c = volumeClient(vs.grpcAddress);
      try {
        for (const [vid, replication] of [[VID, '000'], [RO_VID, '000'], [REPL_VID, '001']] as const) {
          await c.call('AllocateVolume', { volume_id: vid, replication, version: 3 });
        }
        await c.call('VolumeMarkReadonly', { volume_id: RO_VID, persist: false });
      } finally {
        c.close();
      }
    }
  });

  after(async () => {
    await Promise.all([fastVs, routedVs].map((s) => s?.stop()));
    await Promise.all(masters.map((m) => m.stop()));
    cleanup(...[...masters, fastVs, routedVs].filter(Boolean).map((s) => s.dir), confDir);
  });

  /** Rewrites security.toml and waits until both servers reloaded it (SIGHUP). */
  async function reloadSecurity(toml: string): Promise<void> {
    writeFileSync(securityFile, toml);
    for (const vs of [fastVs, routedVs]) {
      const reloads = () => (vs.log().match(/reloaded security config/g) ?? []).length;
      const before = reloads();
      vs.proc.kill('SIGHUP');
      await waitFor(async () => reloads() > before, 10_000, 'security reload');
    }
  }

  /** Sends each case to both servers in turn and compares the answers. */
  async function compare(cases: Case[]): Promise<void> {
    for (const c of cases) {
      const a = await send(fastVs, c.method, c.path, c.headers ?? {}, c.body);
      const b = await send(routedVs, c.method, c.path, c.headers ?? {}, c.body);
      assert.equal(b.fast, false, `${c.what}: -fastPath=false still answered on the fast path`);
      assert.equal(a.fast, c.fast, `${c.what}: fast path ${c.fast ? 'declined' : 'took'} it (${a.status} ${a.body})`);
      assert.deepEqual({ ...a, fast: undefined }, { ...b, fast: undefined }, c.what);
    }
  }

  test('answers exactly as the routed write for every case it takes, and declines the rest', async () => {
    const text = Buffer.from('compressible text '.repeat(200));
    const random = randomBytes(3000);
    const mp = multipart([{ name: 'file', filename: 'photo.png', type: 'image/png', data: random }]);
    const mpByExt = multipart([{ name: 'file', filename: 'C:\\docs\\notes.txt', data: text }]);
    const mpFields = multipart([
      { name: 'ts', data: Buffer.from('1700000000') },
      { name: 'file', filename: 'a.bin', type: 'application/octet-stream', data: random.subarray(0, 100) },
      { name: 'ttl', data: Buffer.from('3m') },
    ]);
    const mpMd5 = multipart([{ name: 'file', filename: 'm.dat', type: 'application/x-test', extra: `Content-MD5: ${md5(random)}\r\n`, data: random }]);
    const mpGzip = multipart([{ name: 'file', filename: 'z.txt', type: 'text/plain', extra: 'Content-Encoding: gzip\r\n', data: gzipSync(text) }]);
    const mpEmptyFile = multipart([{ name: 'file', filename: 'empty.txt', type: 'text/plain', data: Buffer.alloc(0) }]);
    const mpControlOnly = multipart([{ name: 'ttl', data: Buffer.from('1d') }]);
    const octet = { 'Content-Type': 'application/octet-stream' };
    const cases: Case[] = [
      { what: 'raw octet-stream', method: 'POST', path: `/${fid(VID, 1)}`, headers: octet, body: random, fast: true },
      { what: 'raw PUT, text (stored gzipped)', method: 'PUT', path: `/${fid(VID, 2)}`, headers: { 'Content-Type': 'text/plain' }, body: text, fast: true },
      { what: 'overwrite unchanged: 204', method: 'POST', path: `/${fid(VID, 1)}`, headers: octet, body: random, fast: true },
      { what: 'overwrite changed', method: 'POST', path: `/${fid(VID, 1)}`, headers: octet, body: random.subarray(1), fast: true },
      { what: 'cookie mismatch', method: 'POST', path: `/${fid(VID, 1, COOKIE + 1)}`, headers: octet, body: random, fast: true },
      { what: 'multipart, filename and mime', method: 'POST', path: `/${fid(VID, 3)}`, headers: { 'Content-Type': mp.type }, body: mp.body, fast: true },
      { what: 'multipart, mime from a windows path', method: 'POST', path: `/${fid(VID, 4)}`, headers: { 'Content-Type': mpByExt.type }, body: mpByExt.body, fast: true },
      { what: 'multipart with ts/ttl fields', method: 'POST', path: `/${fid(VID, 5)}`, headers: { 'Content-Type': mpFields.type }, body: mpFields.body, fast: true },
      { what: 'multipart part Content-MD5', method: 'POST', path: `/${fid(VID, 6)}`, headers: { 'Content-Type': mpMd5.type }, body: mpMd5.body, fast: true },
      { what: 'multipart gzip part', method: 'POST', path: `/${fid(VID, 7)}`, headers: { 'Content-Type': mpGzip.type }, body: mpGzip.body, fast: true },
      { what: 'multipart empty file', method: 'POST', path: `/${fid(VID, 8)}`, headers: { 'Content-Type': mpEmptyFile.type }, body: mpEmptyFile.body, fast: true },
      { what: 'multipart without a file part', method: 'POST', path: `/${fid(VID, 9)}`, headers: { 'Content-Type': mpControlOnly.type }, body: mpControlOnly.body, fast: true },
      { what: 'multipart, no boundary', method: 'POST', path: `/${fid(VID, 10)}`, headers: { 'Content-Type': 'multipart/form-data' }, body: random.subarray(0, 50), fast: true },
      { what: 'multipart, garbage body', method: 'POST', path: `/${fid(VID, 10)}`, headers: { 'Content-Type': 'multipart/form-data; boundary=zz' }, body: random, fast: true },
      { what: 'POST without Content-Type', method: 'POST', path: `/${fid(VID, 10)}`, body: random.subarray(0, 10), fast: true },
      { what: 'empty raw body', method: 'PUT', path: `/${fid(VID, 11)}`, headers: octet, body: Buffer.alloc(0), fast: true },
      { what: 'Content-MD5 good', method: 'POST', path: `/${fid(VID, 12)}`, headers: { ...octet, 'Content-MD5': md5(random) }, body: random, fast: true },
      { what: 'Content-MD5 bad', method: 'POST', path: `/${fid(VID, 13)}`, headers: { ...octet, 'Content-MD5': md5(text) }, body: random, fast: true },
      { what: 'Content-MD5 of a text body stored gzipped', method: 'PUT', path: `/${fid(VID, 14)}`, headers: { 'Content-Type': 'text/plain', 'Content-MD5': md5(text) }, body: text, fast: true },
      { what: 'gzip body', method: 'PUT', path: `/${fid(VID, 15)}`, headers: { ...octet, 'Content-Encoding': 'gzip' }, body: gzipSync(text), fast: true },
      { what: 'ts and ttl', method: 'POST', path: `/${fid(VID, 16)}?ts=1600000000&ttl=5d`, headers: octet, body: random, fast: true },
      { what: 'bad ttl and ts', method: 'POST', path: `/${fid(VID, 17)}?ts=x&ttl=zz`, headers: octet, body: random, fast: true },
      { what: 'fsync', method: 'POST', path: `/${fid(VID, 18)}?fsync=true`, headers: octet, body: random, fast: true },
      { what: 'type=replicate', method: 'POST', path: `/${fid(VID, 19)}?type=replicate`, headers: { 'Content-Type': 'text/plain' }, body: text, fast: true },
      { what: 'extension in the path names the file', method: 'PUT', path: `/${fid(VID, 20)}.json`, body: Buffer.from('{"a":1}'), fast: true },
      { what: 'CORS origin', method: 'POST', path: `/${fid(VID, 21)}`, headers: { ...octet, Origin: 'http://example.com' }, body: random, fast: true },
      { what: 'name with <&> escaped in JSON', method: 'PUT', path: `/${fid(VID, 22)}`, headers: { ...octet, 'Content-Disposition': 'attachment; filename="a<&>.bin"' }, body: random, fast: true },
      { what: 'read-only volume: 409', method: 'POST', path: `/${fid(RO_VID, 1)}`, headers: octet, body: random, fast: true },
      { what: 'read-only volume, fsync', method: 'POST', path: `/${fid(RO_VID, 1)}?fsync=true`, headers: octet, body: random, fast: true },
      { what: 'replicated volume: declined', method: 'POST', path: `/${fid(REPL_VID, 1)}`, headers: octet, body: random, fast: false },
      { what: 'replicated volume, type=replicate', method: 'POST', path: `/${fid(REPL_VID, 2)}?type=replicate`, headers: octet, body: random, fast: true },
      { what: 'missing volume: declined', method: 'POST', path: `/${fid(99, 1)}`, headers: octet, body: random, fast: false },
      { what: 'bad fid: declined', method: 'POST', path: `/${VID},zz`, headers: octet, body: random, fast: false },
      { what: 'bad vid: declined', method: 'POST', path: `/x,${fid(VID, 1).split(',')[1]}`, headers: octet, body: random, fast: false },
      { what: 'pairs: declined', method: 'POST', path: `/${fid(VID, 23)}`, headers: { ...octet, 'Seaweed-Color': 'blue' }, body: random, fast: false },
      { what: 'cm=true: declined', method: 'POST', path: `/${fid(VID, 24)}?cm=true`, headers: { 'Content-Type': 'application/json' }, body: Buffer.from('{"chunks":[]}'), fast: false },
      { what: 'pretty: declined', method: 'POST', path: `/${fid(VID, 25)}?pretty=y`, headers: octet, body: random, fast: false },
      { what: 'escaped path: declined', method: 'POST', path: `/${fid(VID, 26)}.t%78t`, headers: octet, body: random, fast: false },
      { what: 'urlencoded form: declined', method: 'POST', path: `/${fid(VID, 27)}`, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.from('ttl=1d'), fast: false },
      { what: 'over the fast limit: declined', method: 'POST', path: `/${fid(VID, 28)}`, headers: octet, body: randomBytes(64 * 1024 + 1), fast: false },
      { what: 'two-slash path: declined', method: 'POST', path: `/${VID}/${fid(VID, 29).split(',')[1]}`, headers: octet, body: random, fast: false },
    ];
    await compare(cases);
  });

  test('with a write JWT key: valid tokens take the fast path, failures the routed one', async () => {
    await reloadSecurity(`[jwt.signing]\nkey = "${JWT_KEY}"\n`);
    const f = fid(VID, 40);
    const token = signFileIdJwt(JWT_KEY, f, 600);
    const octet = { 'Content-Type': 'application/octet-stream' };
    const body = randomBytes(500);
    try {
      await compare([
        { what: 'token in the header', method: 'POST', path: `/${f}`, headers: { ...octet, Authorization: `Bearer ${token}` }, body, fast: true },
        { what: 'token in the query', method: 'POST', path: `/${f}?jwt=${token}`, headers: octet, body: body.subarray(1), fast: true },
        { what: 'token in the AT cookie', method: 'POST', path: `/${f}`, headers: { ...octet, Cookie: `AT=${token}` }, body: body.subarray(2), fast: true },
        { what: 'no token', method: 'POST', path: `/${f}`, headers: octet, body, fast: false },
        { what: 'token of another fid', method: 'POST', path: `/${fid(VID, 41)}`, headers: { ...octet, Authorization: `Bearer ${token}` }, body, fast: false },
        { what: 'bad token', method: 'POST', path: `/${f}?jwt=x.y.z`, headers: octet, body, fast: false },
      ]);
    } finally {
      await reloadSecurity('');
    }
  });

  test('request counters and metrics count the fast writes as the routed ones', async () => {
    const writeMetrics = async (port: number) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return text.split('\n').filter((l) => /^SeaweedFS_volumeServer_(request_total|request_seconds_count|in_flight_requests)\{type="(POST|PUT)"/.test(l));
    };
    const [fastLines, routedLines] = await Promise.all(metricsPorts.map(writeMetrics));
    for (const name of ['request_total{type="POST",code="201"}', 'request_seconds_count{type="PUT"}', 'in_flight_requests{type="POST"} 0']) {
      assert.ok(fastLines.some((l) => l.startsWith(`SeaweedFS_volumeServer_${name}`)), `${name} in\n${fastLines.join('\n')}`);
    }
    assert.deepEqual(fastLines, routedLines);
    const counters = async (vs: VolumeServer) => {
      const c = ((await (await fetch(`${vs.url}/stats/counter`)).json()) as { Counters: Record<string, unknown> }).Counters;
      return { Requests: c.Requests, WriteRequests: c.WriteRequests };
    };
    const fastCounters = await counters(fastVs);
    assert.ok(typeof fastCounters.WriteRequests === 'number' && fastCounters.WriteRequests > 40, JSON.stringify(fastCounters));
    assert.deepEqual(fastCounters, await counters(routedVs));
  });

  test('a client that goes away mid-body stores nothing and the server keeps serving', async () => {
    const f = fid(VID, 50);
    await new Promise<void>((resolve, reject) => {
      const s = connect(fastVs.port, '127.0.0.1', () => {
        s.write(`POST /${f} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n${'a'.repeat(100)}`);
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 100);
      });
      s.on('error', reject);
    });
    await waitFor(async () => (await fetch(`${fastVs.url}/${f}`)).status === 404, 5000, 'no needle from the cut upload');
    const ok = await send(fastVs, 'POST', `/${f}`, { 'Content-Type': 'application/octet-stream' }, Buffer.from('whole'));
    assert.equal(ok.status, 201, ok.body);
    assert.equal(ok.fast, true);
    const r = await fetch(`${fastVs.url}/${f}`);
    assert.equal(await r.text(), 'whole');
  });
});
