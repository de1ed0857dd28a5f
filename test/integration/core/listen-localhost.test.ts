// Loopback like Go (weed/command/volume.go, weed/util/net_timeout.go NewIpAndLocalListeners): with
// -ip.bind unset each port (admin HTTP, public HTTP, gRPC) also listens on localhost beside the
// detected address; an explicit -ip.bind pins each port to that address only. 127.0.0.2 stands in
// for a detected LAN address: Linux routes all of 127/8 to lo, and Go's loopback test names only
// the exact strings localhost/127.0.0.1/::1/wildcards.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { volumeClient } from '../../helpers/grpc.js';
import { cleanup, freePort, LAUNCHER, tempDir, waitFor } from '../../helpers/processes.js';

function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
  });
}

async function withServer(args: string[], fn: (ports: { port: number; publicPort: number; grpcPort: number }) => Promise<void>): Promise<void> {
  const port = await freePort();
  const publicPort = await freePort();
  const grpcPort = await freePort();
  const dir = tempDir('ts-weed-loopback-');
  const logFile = join(dir, 'server.log');
  const fd = openSync(logFile, 'a');
  const proc = spawn(
    LAUNCHER,
    [`-port=${port}`, `-port.public=${publicPort}`, `-port.grpc=${grpcPort}`, `-dir=${dir}`, '-master=127.0.0.1:1', '-preStopSeconds=0', ...args],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const exited = new Promise((r) => proc.once('exit', r));
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.2:${port}/status`)).ok, 20_000, 'server on 127.0.0.2');
    await fn({ port, publicPort, grpcPort });
  } catch (e) {
    (e as Error).message += `\n--- server log ---\n${readFileSync(logFile, 'utf8')}`;
    throw e;
  } finally {
    proc.kill('SIGINT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    cleanup(dir);
  }
}

test('-ip.bind unset: admin, public and gRPC ports also answer on 127.0.0.1', async () => {
  await withServer(['-ip=127.0.0.2'], async ({ port, publicPort, grpcPort }) => {
    for (const host of ['127.0.0.2', '127.0.0.1']) {
      const status = await fetch(`http://${host}:${port}/status`);
      assert.equal(status.status, 200, `admin on ${host}`);
      assert.ok(Array.isArray(((await status.json()) as { Volumes: unknown[] }).Volumes));
      // The public port serves the static assets beside its read path.
      const icon = await fetch(`http://${host}:${publicPort}/favicon.ico`);
      assert.equal(icon.status, 200, `public on ${host}`);
      assert.equal(icon.headers.get('content-type'), 'image/x-icon');
      const client = volumeClient(`${host}:${grpcPort}`);
      try {
        const ping = await client.call<{ start_time_ns: string }>('Ping', {});
        assert.ok(BigInt(ping.start_time_ns) > 0n, `gRPC on ${host}`);
      } finally {
        client.close();
      }
    }
  });
});

test('explicit -ip.bind pins every port to that address only', async () => {
  await withServer(['-ip=127.0.0.2', '-ip.bind=127.0.0.2'], async ({ port, publicPort, grpcPort }) => {
    for (const p of [port, publicPort, grpcPort]) {
      assert.equal(await connectOutcome('127.0.0.2', p), 'connected', `127.0.0.2:${p}`);
      assert.equal(await connectOutcome('127.0.0.1', p), 'ECONNREFUSED', `127.0.0.1:${p} must not listen`);
    }
  });
});
