// Production hardening of our server (issue 13), each case against the real server process: the
// whitelist never fails open (start-up refusal, SIGHUP reload keeping the old list), collection
// names from the network never become paths outside the data directory, stalled or dripping
// uploads are cut off with their spool file removed, and a refused upload is answered without
// reading its huge body.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { volumeClient } from '../helpers/grpc.js';
import { cleanup, startVolumeServer, tempDir, waitFor, type VolumeServer } from '../helpers/processes.js';

const GiB = 1024 * 1024 * 1024;

interface RawExchange {
  socket: Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<string>;
}

/** Sends a request head and the first body bytes over a plain socket, and no more. */
function rawUpload(port: number, path: string, headers: Record<string, string>, first: Buffer): RawExchange {
  const socket = connect(port, '127.0.0.1');
  let got = '';
  const closed = new Promise<string>((resolve) => {
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(got));
  });
  const lines = [`POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  socket.write(first);
  return { socket, closed };
}

function spoolFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => /^\.upload-.*\.tmp$/.test(n));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))),
  ]);
}

const isDenied = (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED && /^not authorized: 127\.0\.0\.1$/.test(e.details);

describe('whitelist never fails open', () => {
  test('a bad CIDR refuses to start: one line on stderr, exit 2', async () => {
    const vs = await startVolumeServer({ extraArgs: ['-whiteList=127.0.0.1,10.0.0.0/33'], waitReady: false });
    try {
      assert.equal(await withTimeout(vs.exited, 20_000, 'exit'), 2, vs.log());
      const lines = vs.log().trim().split('\n');
      assert.equal(lines.length, 1, vs.log());
      assert.match(lines[0], /invalid whitelist entry "10\.0\.0\.0\/33": invalid CIDR address: prefix length must be 0-32 for IPv4 in -whiteList/);
    } finally {
      await vs.stop('SIGKILL');
      cleanup(vs.dir);
    }
  });

  test('an entry that is no IP matches only itself: everyone else is denied', async () => {
    const vs = await startVolumeServer({ extraArgs: ['--whiteList', 'localhost'] });
    const c = volumeClient(vs.grpcAddress);
    try {
      await assert.rejects(c.call('VolumeMount', { volume_id: 77 }), isDenied);
      const r = await fetch(`${vs.url}/3,01637037d6`, { method: 'POST', body: 'x' });
      assert.equal(r.status, 401);
    } finally {
      c.close();
      await vs.stop('SIGKILL');
      cleanup(vs.dir);
    }
  });

  test('SIGHUP with an invalid [guard] white_list keeps the previous list and logs an error', async () => {
    const confDir = tempDir('ts-weed-sec-');
    const file = join(confDir, 'security.toml');
    writeFileSync(file, '[guard]\nwhite_list = "10.9.8.7"\n');
    const vs = await startVolumeServer({ extraArgs: ['--securityFile', file] });
    const c = volumeClient(vs.grpcAddress);
    try {
      await assert.rejects(c.call('VolumeMount', { volume_id: 77 }), isDenied);
      writeFileSync(file, '[guard]\nwhite_list = "10.0.0.0/33"\n');
      vs.proc.kill('SIGHUP');
      await waitFor(async () => /reload failed, keeping the previous settings: invalid whitelist entry \\"10\.0\.0\.0\/33\\"/.test(vs.log()), 10_000, 'reload error');
      await assert.rejects(c.call('VolumeMount', { volume_id: 77 }), isDenied);
      // A valid list is then taken.
      writeFileSync(file, '[guard]\nwhite_list = "127.0.0.1"\n');
      vs.proc.kill('SIGHUP');
      await waitFor(
        () => c.call('VolumeMount', { volume_id: 77 }).then(() => false, (e: grpc.ServiceError) => !isDenied(e)),
        10_000,
        'the new list',
      );
    } finally {
      c.close();
      await vs.stop('SIGKILL');
      cleanup(vs.dir, confDir);
    }
  });
});

describe('collection names from the network', () => {
  let vs: VolumeServer;
  let parent: string;
  before(async () => {
    parent = tempDir('ts-weed-coll-');
    vs = await startVolumeServer({ dir: join(parent, 'data') });
  });
  after(async () => {
    await vs.stop('SIGKILL');
    cleanup(parent);
  });

  test('AllocateVolume and DeleteCollection refuse names that are not one plain path element', async () => {
    const c = volumeClient(vs.grpcAddress);
    try {
      let id = 10;
      for (const bad of ['../escape', '..', '.', 'a/b', 'a\\b', 'nul\0x', 'tab\tx', 'x'.repeat(201)]) {
        await assert.rejects(
          c.call('AllocateVolume', { volume_id: id++, collection: bad, replication: '000', version: 3 }),
          (e: grpc.ServiceError) => e.details === `invalid collection ${JSON.stringify(bad)}`,
          JSON.stringify(bad),
        );
        await assert.rejects(c.call('DeleteCollection', { collection: bad }), /invalid collection/);
      }
      assert.deepEqual(readdirSync(parent), ['data'], 'nothing was created outside the data directory');
      assert.deepEqual(readdirSync(vs.dir).filter((n) => n.endsWith('.dat')), []);
      await c.call('AllocateVolume', { volume_id: 30, collection: 'pics..2026', replication: '000', version: 3 });
      assert.ok(existsSync(join(vs.dir, 'pics..2026_30.dat')));
      await c.call('DeleteCollection', { collection: 'pics..2026' });
      assert.ok(!existsSync(join(vs.dir, 'pics..2026_30.dat')));
      assert.equal(dirname(vs.dir), parent);
    } finally {
      c.close();
    }
  });
});

describe('upload deadlines and early refusals', () => {
  let vs: VolumeServer;
  before(async () => {
    vs = await startVolumeServer({ extraArgs: ['-idleTimeout=2'] });
  });
  after(async () => {
    await vs.stop('SIGKILL');
    cleanup(vs.dir);
  });

  const declared = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(8 * 1024 * 1024) };

  test('an upload that stops mid-body loses its connection and its spool file', async () => {
    const x = rawUpload(vs.port, '/3,01637037d6', declared, Buffer.alloc(64 * 1024, 1));
    try {
      await waitFor(async () => spoolFiles(vs.dir).length === 1, 10_000, 'the spool file');
      await withTimeout(x.closed, 20_000, 'the server to drop the stalled connection');
      await waitFor(async () => spoolFiles(vs.dir).length === 0, 10_000, 'the spool file to go');
    } finally {
      x.socket.destroy();
    }
  });

  test('an upload dripping a byte at a time is cut off though the connection is never idle', async () => {
    const x = rawUpload(vs.port, '/3,01637037d7', declared, Buffer.alloc(16, 1));
    const drip = setInterval(() => x.socket.write(Buffer.alloc(1, 2)), 500);
    try {
      await waitFor(async () => spoolFiles(vs.dir).length === 1, 10_000, 'the spool file');
      await withTimeout(x.closed, 20_000, 'the server to drop the dripping connection');
      await waitFor(async () => spoolFiles(vs.dir).length === 0, 10_000, 'the spool file to go');
      assert.match(vs.log(), /upload body too slow; dropping the connection/);
    } finally {
      clearInterval(drip);
      x.socket.destroy();
    }
  });

  test('a declared 1 GiB over the size limit is refused after a small part of it, then the connection closes', async () => {
    const x = rawUpload(vs.port, '/3,01637037d8', { 'Content-Type': 'application/octet-stream', 'Content-Length': String(GiB) }, Buffer.alloc(64 * 1024));
    try {
      const all = await withTimeout(x.closed, 20_000, 'the answer and close');
      assert.match(all, /^HTTP\/1\.1 400 /);
      assert.match(all, /\r\nconnection: close\r\n/i);
      assert.match(all, /file over the limited 268435456 bytes/);
      assert.ok(x.socket.bytesWritten < 128 * 1024, `${x.socket.bytesWritten} bytes sent`);
    } finally {
      x.socket.destroy();
    }
  });
});

describe('a refused write with a bad JWT', () => {
  test('a declared 1 GiB upload without a JWT is answered 401 after a small part, then the connection closes', async () => {
    const vs = await startVolumeServer({ env: { WEED_JWT_SIGNING_KEY: 'hardening-test-key' } });
    const x = rawUpload(vs.port, '/3,01637037d9', { 'Content-Type': 'application/octet-stream', 'Content-Length': String(GiB) }, Buffer.alloc(64 * 1024));
    try {
      const all = await withTimeout(x.closed, 20_000, 'the answer and close');
      assert.match(all, /^HTTP\/1\.1 401 /);
      assert.match(all, /\r\nconnection: close\r\n/i);
      assert.match(all, /wrong jwt/);
      assert.ok(x.socket.bytesWritten < 128 * 1024, `${x.socket.bytesWritten} bytes sent`);
    } finally {
      x.socket.destroy();
      await vs.stop('SIGKILL');
      cleanup(vs.dir);
    }
  });
});
