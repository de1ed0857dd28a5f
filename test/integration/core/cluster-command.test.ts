// `weed-volume cluster` end to end, as a newcomer uses it: start, upload through the master
// (assign + PUT), read back from every volume server, Ctrl-C (SIGINT), every process gone and every
// port closed, and a restart on the same directory finds the data.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../../core/paths.js';
import { cleanup, LAUNCHER, tempDir, waitFor } from '../../helpers/processes.js';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port with base..base+2 and their gRPC ports (+10000) free. */
async function freeRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = (await portFree(base + i)) && (await portFree(base + i + 10000));
    if (ok) return base;
  }
  throw new Error('no free port run found');
}

/** Pids of live processes whose command line names `needle` (the cluster's data directory). */
function processesNaming(needle: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(join('/proc', d, 'cmdline'), 'utf8');
      const state = readFileSync(join('/proc', d, 'stat'), 'utf8').split(') ')[1]?.[0];
      if (cmd.includes(needle) && state !== 'Z') pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

interface Cluster {
  output: () => string;
  stop: () => Promise<number | null>;
}

async function startCluster(dir: string, masterPort: number, volumePort: number): Promise<Cluster> {
  const proc = spawn(LAUNCHER, ['cluster', `--dir=${dir}`, `--master.port=${masterPort}`, `--volume.port=${volumePort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (b) => (out += String(b)));
  proc.stderr.on('data', (b) => (out += String(b)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const cluster: Cluster = {
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  try {
    await waitFor(async () => out.includes('cluster is up') || proc.exitCode !== null, 120_000, 'cluster to come up');
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  assert.ok(out.includes('cluster is up'), out);
  return cluster;
}

test('cluster: upload through the master, read from every server, Ctrl-C stops all, restart finds the data', async () => {
  const dir = tempDir('ts-weed-cluster-');
  const masterPort = await freeRun(1);
  let volumePort = await freeRun(3);
  while (volumePort <= masterPort && masterPort <= volumePort + 2) volumePort = await freeRun(3);
  const master = `http://127.0.0.1:${masterPort}`;
  const volumes = [0, 1, 2].map((i) => `http://127.0.0.1:${volumePort + i}`);
  const body = `hello from the cluster test ${Date.now()}`;
  let cluster = await startCluster(dir, masterPort, volumePort);
  try {
    const out = cluster.output();
    assert.match(out, new RegExp(`master +http://127\\.0\\.0\\.1:${masterPort}`));
    assert.match(out, /curl -F file=@README\.md "http:\/\/\$url\/\$fid"/);

    const assign = (await (await fetch(`${master}/dir/assign`)).json()) as { fid: string; url: string };
    assert.match(assign.fid, /^\d+,[0-9a-f]+$/);
    const form = new FormData();
    form.append('file', new Blob([body], { type: 'text/plain' }), 'hello.txt');
    const put = await fetch(`http://${assign.url}/${assign.fid}`, { method: 'POST', body: form });
    assert.equal(put.status, 201, await put.text());
    // Any server answers: the holder from disk, the others by proxying to it (-readMode=proxy).
    for (const v of volumes) {
      const r = await fetch(`${v}/${assign.fid}`);
      assert.equal(r.status, 200, v);
      assert.equal(await r.text(), body, v);
    }

    assert.equal(await cluster.stop(), 0, cluster.output());
    assert.match(cluster.output(), /stopped; data kept in/);
    assert.deepEqual(processesNaming(dir), [], 'every child process has exited');
    for (const p of [masterPort, volumePort, volumePort + 1, volumePort + 2, volumePort + 10000]) {
      assert.ok(await portFree(p), `port ${p} released`);
    }

    cluster = await startCluster(dir, masterPort, volumePort);
    for (const v of volumes) {
      await waitFor(async () => (await fetch(`${v}/${assign.fid}`)).status === 200, 20_000, `${v} to serve the file after restart`);
      assert.equal(await (await fetch(`${v}/${assign.fid}`)).text(), body, `${v} after restart`);
    }
    assert.equal(await cluster.stop(), 0, cluster.output());
    assert.deepEqual(processesNaming(dir), []);
  } finally {
    await cluster.stop();
    for (const pid of processesNaming(dir)) process.kill(pid, 'SIGKILL');
    cleanup(dir);
  }
});

test('cluster: without Go, weed on PATH or WEED_BINARY it says what to install and starts nothing', async () => {
  const dir = tempDir('ts-weed-cluster-nogo-');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: join(dir, 'empty-bin') };
    delete env.WEED_BINARY;
    const proc = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'core', 'cluster', 'cluster.js'), `--dir=${join(dir, 'data')}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (b) => (err += String(b)));
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    assert.equal(code, 1);
    assert.match(err, /the Go SeaweedFS master is needed and none was found/);
    assert.match(err, /Install Go .*https:\/\/go\.dev\/dl\//);
    assert.match(err, /WEED_BINARY=/);
    assert.equal(existsSync(join(dir, 'data')), false, 'nothing created');
  } finally {
    cleanup(dir);
  }
});
