// Test helpers that start real processes: the Go master (the reference weed binary the conformance
// harness builds) and our server through bin/weed-volume.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';

export const LAUNCHER = join(PROJECT_ROOT, 'bin', 'weed-volume');

const weedPaths = new Map<number, string>();

/** Builds (or finds in the cache) the reference weed binary of an offset width; needs Go. */
export function weedBinary(width: 4 | 5 = 5): string {
  let path = weedPaths.get(width);
  if (!path) {
    const out = execFileSync('bash', [join(PROJECT_ROOT, 'test', 'conformance', 'build-weed.sh'), String(width)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    path = out.trim().split('\n').pop()!;
    weedPaths.set(width, path);
  }
  return path;
}

export function hasGo(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    // Keep port+10000 usable too (gRPC convention) and inside the valid range.
    if (port + 10000 < 65536) return port;
  }
}

/** A memory figure of a process from /proc/<pid>/status, in kB (VmRSS now, VmHWM peak). */
export function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      /* not ready */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const r = await fetch(url);
  await r.arrayBuffer();
  return r.ok;
}

export interface RunningProcess {
  proc: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  log(): string;
}

/** Starts `cmd` with its output appended to `logFile`. */
export function run(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): RunningProcess {
  const fd = openSync(logFile, 'a');
  const proc = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    logFile,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGINT') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    log: () => readFileSync(logFile, 'utf8'),
  };
}

export interface Master extends RunningProcess {
  port: number;
  grpcPort: number;
  address: string;
  url: string;
  dir: string;
}

export async function startMaster(volumeSizeLimitMB = 100, width: 4 | 5 = 5, extraArgs: string[] = []): Promise<Master> {
  const port = await freePort();
  const grpcPort = port + 10000;
  const dir = tempDir('ts-weed-master-');
  const p = run(
    weedBinary(width),
    [
      'master',
      '-ip=127.0.0.1',
      `-port=${port}`,
      `-port.grpc=${grpcPort}`,
      `-mdir=${dir}`,
      '-peers=none',
      `-volumeSizeLimitMB=${volumeSizeLimitMB}`,
      '-defaultReplication=000',
      ...extraArgs,
    ],
    join(dir, 'master.log'),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => httpOk(`${url}/dir/status`), 30_000, 'master /dir/status');
  return { ...p, port, grpcPort, address: `127.0.0.1:${port}`, url, dir };
}

/** Waits until the master's topology lists a volume server at 127.0.0.1:<port>. */
export async function waitRegistered(master: Master, port: number): Promise<void> {
  await waitFor(
    async () => JSON.stringify(await (await fetch(`${master.url}/dir/status`)).json()).includes(`"Url":"127.0.0.1:${port}"`),
    15_000,
    `volume server ${port} registered at the master`,
  );
}

export interface VolumeServer extends RunningProcess {
  port: number;
  grpcPort: number;
  url: string;
  grpcAddress: string;
  dir: string;
}

export async function startVolumeServer(opts: {
  master?: string;
  dir?: string;
  port?: number;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  waitReady?: boolean;
}): Promise<VolumeServer> {
  const port = opts.port ?? (await freePort());
  const grpcPort = port + 10000;
  const dir = opts.dir ?? tempDir('ts-weed-volume-');
  const args = [
    '--port', String(port),
    '--port.grpc', String(grpcPort),
    '--ip', '127.0.0.1',
    '--ip.bind', '127.0.0.1',
    '--dir', dir,
    '--master', opts.master ?? '127.0.0.1:1',
    '--preStopSeconds', '0',
    ...(opts.extraArgs ?? []),
  ];
  const p = run(LAUNCHER, args, join(tmpdir(), `ts-weed-volume-${port}.log`), { ...process.env, ...opts.env });
  const url = `http://127.0.0.1:${port}`;
  if (opts.waitReady !== false) {
    await waitFor(async () => (await fetch(`${url}/status`)).ok, 20_000, `our server on ${port}`);
  }
  return { ...p, port, grpcPort, url, grpcAddress: `127.0.0.1:${grpcPort}`, dir };
}

/** The reference Go volume server, for interop tests. */
export async function startGoVolumeServer(opts: { master: string; dir: string; width: 4 | 5; port?: number }): Promise<VolumeServer> {
  const port = opts.port ?? (await freePort());
  const grpcPort = port + 10000;
  const p = run(
    weedBinary(opts.width),
    [
      'volume',
      '-ip=127.0.0.1',
      `-port=${port}`,
      `-port.grpc=${grpcPort}`,
      `-dir=${opts.dir}`,
      '-max=10',
      `-master=${opts.master}`,
      '-preStopSeconds=0',
    ],
    join(tmpdir(), `go-weed-volume-${port}.log`),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/status`)).ok, 30_000, `Go volume server on ${port}`);
  return { ...p, port, grpcPort, url, grpcAddress: `127.0.0.1:${grpcPort}`, dir: opts.dir };
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
