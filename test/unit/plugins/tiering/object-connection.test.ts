// One keep-alive S3 connection of the tier download (plugins/tiering/s3/object-connection.ts)
// against a small local HTTP server that serves byte ranges: answers of every size on one
// connection land at their offsets, and a server that closes right after a whole body is no error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
const dir = mkdtempSync(join(tmpdir(), 'ts-weed-objconn-'));

before(async () => {
  server = createServer((req, res) => {
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
      await conn.get({
        range: `bytes=${first}-${last}`,
        fh,
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
