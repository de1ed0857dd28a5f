// One keep-alive S3 connection of the tier transfers (plugins/tiering/s3/object-connection.ts)
// against a small local HTTP server that serves byte ranges and takes PUTs: answers of every size
// on one connection land at their offsets, a server that closes right after a whole body is no
// error, a PUT sends exactly its range of the file and the connection carries a GET after it, and
// an error answered before the body is read ends the PUT with S3's code without sending the rest.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ObjectConnection, STAGE_SIZE } from '../../../../plugins/tiering/s3/object-connection.js';

const object = randomBytes(3 * STAGE_SIZE + 12345);
let server: Server;
let port = 0;
let connections = 0;
let closeAfterBody = false;
/** What PUTs brought, by request target. */
const puts = new Map<string, Buffer>();
/** PUTs are refused with a 403 at once, before their body is read. */
let refusePuts = false;
const dir = mkdtempSync(join(tmpdir(), 'ts-weed-objconn-'));

before(async () => {
  server = createServer((req, res) => {
    if (req.method === 'PUT') {
      if (refusePuts) {
        res.writeHead(403, { 'Content-Type': 'application/xml', Connection: 'close' });
        res.end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>refused at once</Message></Error>');
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        puts.set(req.url!, Buffer.concat(chunks));
        res.writeHead(200, { ETag: '"etag-of-put"', 'Content-Length': 0 });
        res.end();
      });
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    assert.ok(m, `range ${req.headers.range}`);
    const first = Number(m[1]);
    const last = Math.min(Number(m[2]), object.length - 1);
    const headers: Record<string, string | number> = { 'Content-Range': `bytes ${first}-${last}/${object.length}`, 'Content-Length': last - first + 1 };
    if (closeAfterBody) headers.Connection = 'close';
    res.writeHead(206, headers);
    res.end(object.subarray(first, last + 1));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function fetchRanges(conn: ObjectConnection, file: string, ranges: [number, number][]): Promise<void> {
  const fh = await open(file, 'w+');
  try {
    for (const [first, last] of ranges) {
      let written = 0;
      await conn.request({
        method: 'GET',
        range: `bytes=${first}-${last}`,
        fd: fh.fd,
        stopped: () => undefined,
        onWritten: (n) => (written += n),
        place: (status, headers, length) => {
          assert.equal(status, 206);
          assert.equal(headers.get('content-range'), `bytes ${first}-${last}/${object.length}`);
          assert.equal(length, last - first + 1);
          return first;
        },
      });
      assert.equal(written, last - first + 1, `bytes written for ${first}-${last}`);
    }
  } finally {
    await fh.close();
  }
}

test('answers filling one, two, three and four staging buffers follow each other on one connection, each at its offset', async () => {
  connections = 0;
  closeAfterBody = false;
  const conn = new ObjectConnection({ url: new URL(`http://127.0.0.1:${port}/bucket/key`), region: 'us-east-1' });
  // Odd and even counts of filled buffers in turn: the next answer's head must be found whichever
  // buffer the previous body ended in.
  const ranges: [number, number][] = [
    [0, 999],
    [1000, 1000 + STAGE_SIZE + 10],
    [STAGE_SIZE + 1011, 2 * STAGE_SIZE + 20],
    [2 * STAGE_SIZE + 21, object.length - 1],
  ];
  const file = join(dir, 'ranges');
  try {
    await fetchRanges(conn, file, ranges);
  } finally {
    conn.close();
  }
  assert.ok(readFileSync(file).equals(object), 'the file holds the object');
  assert.equal(connections, 1, 'one keep-alive connection carried every GET');
});

test('a server that closes the connection right after a whole body: the GET succeeds, the next one reconnects', async () => {
  connections = 0;
  closeAfterBody = true;
  const conn = new ObjectConnection({ url: new URL(`http://127.0.0.1:${port}/bucket/key`), region: 'us-east-1' });
  const file = join(dir, 'close');
  try {
    await fetchRanges(conn, file, [
      [0, STAGE_SIZE - 1],
      [STAGE_SIZE, object.length - 1],
    ]);
  } finally {
    conn.close();
    closeAfterBody = false;
  }
  assert.ok(readFileSync(file).equals(object), 'the file holds the object');
  assert.equal(connections, 2, 'a new connection after the server closed the first');
});

test('a PUT sends exactly its range of the file (several send buffers), answers its ETag, and the connection then carries a GET', async () => {
  connections = 0;
  const source = join(dir, 'source');
  writeFileSync(source, object);
  const conn = new ObjectConnection({ url: new URL(`http://127.0.0.1:${port}/bucket/key`), region: 'us-east-1' });
  const fh = await open(source, 'r');
  try {
    let sent = 0;
    let etag: string | undefined;
    const from = 1000;
    const length = 2 * STAGE_SIZE + 777;
    await conn.request({
      method: 'PUT',
      query: 'partNumber=2&uploadId=abc',
      body: { fd: fh.fd, at: from, length, onSent: (n) => (sent += n) },
      stopped: () => undefined,
      place: (status, headers, n) => {
        assert.equal(status, 200);
        assert.equal(n, 0);
        etag = headers.get('etag');
        return 0;
      },
    });
    assert.equal(etag, '"etag-of-put"');
    assert.equal(sent, length);
    const got = puts.get('/bucket/key?partNumber=2&uploadId=abc');
    assert.ok(got?.equals(object.subarray(from, from + length)), 'the server got the range byte for byte');
    await fetchRanges(conn, join(dir, 'after-put'), [[0, 99]]);
  } finally {
    conn.close();
    await fh.close();
  }
  assert.equal(connections, 1, 'the GET went over the PUT\'s connection');
});

test('a PUT refused before its body is read fails with S3\'s code and message, and stops sending', async () => {
  refusePuts = true;
  const big = join(dir, 'big-source');
  const size = 64 * STAGE_SIZE; // 16 MiB: more than the socket buffers hold
  writeFileSync(big, Buffer.alloc(size, 7));
  const conn = new ObjectConnection({ url: new URL(`http://127.0.0.1:${port}/bucket/refused`), region: 'us-east-1' });
  const fh = await open(big, 'r');
  let sent = 0;
  try {
    await assert.rejects(
      conn.request({
        method: 'PUT',
        body: { fd: fh.fd, at: 0, length: size, onSent: (n) => (sent += n) },
        stopped: () => undefined,
        place: () => assert.fail('a 403 is no answer to place'),
      }),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => e.name === 'AccessDenied' && e.message === 'refused at once' && e.$metadata?.httpStatusCode === 403,
    );
    refusePuts = false;
    assert.ok(sent < size, `the body stopped after the answer (${sent} of ${size} bytes sent)`);
    // the refused connection is not reused: the next request opens a new one
    connections = 0;
    await fetchRanges(conn, join(dir, 'after-refusal'), [[0, 99]]);
    assert.equal(connections, 1);
  } finally {
    refusePuts = false;
    conn.close();
    await fh.close();
  }
});
