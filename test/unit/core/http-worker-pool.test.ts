// The HTTP worker pool (core/http/workers/) with real worker threads on a real port: calls to the
// main thread, forwarding with the client's address, a dying worker replaced and logged, graceful
// drain, and a taken port refused as a plain bind would be.
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { RequestCounters } from '../../../core/http/request-counters.js';
import { HttpWorkerPool } from '../../../core/http/workers/pool.js';
import { PEER_HEADER } from '../../../core/http/workers/protocol.js';
import { freePort } from '../../helpers/processes.js';

const FAST_PATH = new URL('../../helpers/worker-test-fast-path.js', import.meta.url).href;

/** One request on a fresh connection (so the kernel may pick any worker). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end();
  });
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function makePool(port: number, count: number, counters = new RequestCounters()) {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  const mainServer = (prepare: (req: IncomingMessage) => void): Server =>
    createServer((req, res) => {
      prepare(req);
      const reply = () => res.end(`main saw ${req.socket.remoteAddress} ${req.headers[PEER_HEADER] ?? '-'} ${req.method} ${req.url}`);
      if (req.url === '/slow') setTimeout(reply, 600);
      else reply();
    });
  const pool = new HttpWorkerPool({
    count,
    listeners: [{ listener: 'admin', host: '127.0.0.1', port, server: mainServer }],
    serverHeader: 'test',
    idleTimeoutSeconds: 30,
    fastPathModules: [FAST_PATH],
    calls: new Map([['echo', (said: unknown) => `main echoes ${String(said)}`]]),
    counters,
    logger,
  });
  return { pool, lines, counters };
}

describe('HTTP worker pool', () => {
  let port = 0;
  let ctx: ReturnType<typeof makePool>;
  before(async () => {
    port = await freePort();
    ctx = makePool(port, 2);
    await ctx.pool.start();
  });
  after(async () => {
    await ctx.pool.stop(2000);
  });

  test('a worker answers through a call to the main thread and counts the request there', async () => {
    const r = await get(port, '/call', { 'X-Say': 'hi' });
    assert.deepEqual(r, { status: 200, body: 'main echoes hi' });
    await until('the request to be counted', () => ctx.counters.readRequests >= 1);
  });

  test('other requests reach the main thread with the client address, and a sent peer header is ignored', async () => {
    const r = await get(port, '/status?x=1', { [PEER_HEADER]: '10.1.2.3' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'main saw 127.0.0.1 - GET /status?x=1');
  });

  test('a worker that dies is logged and replaced, and the port keeps answering', async () => {
    await get(port, '/exit').catch(() => undefined);
    await until('the exit to be logged', () => ctx.lines.some((l) => l.includes('http worker exited; starting a new one')));
    await until('a replacement', () => ctx.pool.size === 2);
    for (let i = 0; i < 20; i++) assert.equal((await get(port, '/call', { 'X-Say': String(i) })).body, `main echoes ${i}`);
  });
});

test('stop lets an in-flight request finish, then the port is closed', async () => {
  const port = await freePort();
  const { pool } = makePool(port, 2);
  await pool.start();
  const slow = get(port, '/slow');
  await new Promise((r) => setTimeout(r, 150));
  const stopped = pool.stop(5000);
  assert.deepEqual(await slow, { status: 200, body: 'main saw 127.0.0.1 - GET /slow' });
  await stopped;
  await assert.rejects(get(port, '/call'), /ECONNREFUSED/);
});

test('a port another process holds is refused, as a plain bind would be', async () => {
  const port = await freePort();
  const holder = createServer();
  await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port }, r));
  try {
    const { pool } = makePool(port, 2);
    await assert.rejects(pool.start(), /EADDRINUSE/);
  } finally {
    holder.close();
  }
});
