// Test helpers that start real processes: the Go master (the reference weed binary the conformance
// harness builds) and our server through bin/weed-volume.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Starts a process logging to `logFile`: truncated first, or appended to (`append`, a master restarted on its directory). */
function run(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env, append = false): RunningProcess {
  const fd = openSync(logFile, append ? 'a' : 'w');
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

/**
 * A log file of its own for each start: a name made of the port alone is appended to by every
 * earlier run that drew the same port (other test runs on this machine), and a test reading the
 * log would read theirs.
 */
function logFileFor(prefix: string, port: number): string {
  return join(tmpdir(), `${prefix}-${port}-${process.pid}-${Date.now()}.log`);
}

export interface Master extends RunningProcess {
  port: number;
  grpcPort: number;
  address: string;
  url: string;
  dir: string;
}

/**
 * Starts the Go master. `at` restarts one on the port and metadata dir of an earlier run (a master
 * restart); later `extraArgs` override the defaults (Go's flag package keeps the last value).
 */
export async function startMaster(
  volumeSizeLimitMB = 100,
  width: 4 | 5 = 5,
  extraArgs: string[] = [],
  at?: { port: number; dir: string },
  /** A master.toml (e.g. tier backends) written into the metadata dir, which becomes -config_dir. */
  masterToml?: string,
): Promise<Master> {
  const port = at?.port ?? (await freePort());
  const grpcPort = port + 10000;
  const dir = at?.dir ?? tempDir('ts-weed-master-');
  if (masterToml !== undefined) writeFileSync(join(dir, 'master.toml'), masterToml);
  const p = run(
    weedBinary(width),
    [
      ...(masterToml !== undefined ? [`-config_dir=${dir}`] : []),
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
    process.env,
    at !== undefined,
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
  const p = run(LAUNCHER, args, logFileFor('ts-weed-volume', port), { ...process.env, ...opts.env });
  const url = `http://127.0.0.1:${port}`;
  if (opts.waitReady !== false) {
    await waitFor(async () => (await fetch(`${url}/status`)).ok, 20_000, `our server on ${port}`);
  }
  return { ...p, port, grpcPort, url, grpcAddress: `127.0.0.1:${grpcPort}`, dir };
}

/** The reference Go volume server, for interop tests. */
export async function startGoVolumeServer(opts: {
  master: string;
  dir: string;
  width: 4 | 5;
  port?: number;
  /** Flags after the defaults (Go's flag package keeps the last value: `-max=2,3` overrides `-max=10`). */
  extraArgs?: string[];
}): Promise<VolumeServer> {
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
      ...(opts.extraArgs ?? []),
    ],
    logFileFor('go-weed-volume', port),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/status`)).ok, 30_000, `Go volume server on ${port}`);
  return { ...p, port, grpcPort, url, grpcAddress: `127.0.0.1:${grpcPort}`, dir: opts.dir };
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
