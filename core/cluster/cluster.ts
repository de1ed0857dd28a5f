// `npm run cluster` / `weed-volume cluster`: a complete local SeaweedFS cluster on loopback for
// trying the server out — the Go master (the pinned `weed` built by test/conformance/build-weed.sh,
// or a `weed` on PATH), three of our volume servers on separate racks and data directories, and
// with --filer a Go filer with its S3 gateway. Data lives under ./cluster-data and survives a
// restart; Ctrl-C stops everything (SIGINT to each child, a wait, then SIGKILL for stragglers).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../paths.js';

const USAGE = `usage: weed-volume cluster [--filer] [--dir=./cluster-data] [--master.port=9333] [--volume.port=8080]
                          [--filer.port=8888] [--s3.port=8333]
Starts a Go master, three ts-weed-volume servers (ports volume.port .. volume.port+2, racks rack1..rack3)
and, with --filer, a Go filer with S3. Ctrl-C stops everything; data stays in --dir.`;

interface Options {
  filer: boolean;
  dir: string;
  masterPort: number;
  volumePort: number;
  filerPort: number;
  s3Port: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { filer: false, dir: 'cluster-data', masterPort: 9333, volumePort: 8080, filerPort: 8888, s3Port: 8333 };
  const port = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 55535) fail(`invalid ${name} ${JSON.stringify(v)}: want a port from 1 to 55535 (gRPC uses port+10000)`);
    return n;
  };
  for (const arg of argv) {
    const [k, v = ''] = arg.replace(/^--?/, '').split(/=(.*)/s);
    if (k === 'filer') o.filer = v === '' || v === 'true';
    else if (k === 'dir' && v) o.dir = v;
    else if (k === 'master.port') o.masterPort = port(k, v);
    else if (k === 'volume.port') o.volumePort = port(k, v);
    else if (k === 'filer.port') o.filerPort = port(k, v);
    else if (k === 's3.port') o.s3Port = port(k, v);
    else if (k === 'h' || k === 'help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else fail(`unknown argument ${arg}\n${USAGE}`);
  }
  return o;
}

function fail(message: string): never {
  process.stderr.write(`cluster: ${message}\n`);
  process.exit(1);
}

function onPath(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(d, cmd);
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

/** WEED_BINARY, else the pinned build (built when Go is there), else `weed` on PATH. */
function findWeed(): string {
  if (process.env.WEED_BINARY) return process.env.WEED_BINARY;
  const script = join(PROJECT_ROOT, 'test', 'conformance', 'build-weed.sh');
  if (onPath('go') && existsSync(script)) {
    process.stdout.write('finding the pinned Go weed (test/conformance/build-weed.sh 5; the first build takes a few minutes)\n');
    const r = spawnSync('bash', [script, '5'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    const bin = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status === 0 && bin && existsSync(bin)) return bin;
    process.stderr.write('cluster: building the pinned weed failed; trying weed on PATH\n');
  }
  const weed = onPath('weed');
  if (weed) return weed;
  fail(
    'the Go SeaweedFS master is needed and none was found.\n' +
      '  Install Go 1.24+ (https://go.dev/dl/) and run this again: it builds the pinned weed once (cached in ~/.cache/ts-weed-volume),\n' +
      '  or put a weed binary on PATH (https://github.com/seaweedfs/seaweedfs/releases), or set WEED_BINARY=/path/to/weed.',
  );
}

interface Child {
  name: string;
  proc: ChildProcess;
  log: string;
  exited: Promise<void>;
}

function start(name: string, cmd: string, args: string[], logDir: string): Child {
  const log = join(logDir, `${name}.log`);
  const fd = openSync(log, 'a');
  // Own process group: a terminal's Ctrl-C reaches only us, and we stop the children in order.
  const proc = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return { name, proc, log, exited };
}

function alive(c: Child): boolean {
  return c.proc.exitCode === null && c.proc.signalCode === null;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function json(url: string): Promise<unknown> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
}

function nodeUrls(status: unknown): string[] {
  const topo = (status as { Topology?: { DataCenters?: { Racks?: { DataNodes?: { Url: string }[] | null }[] | null }[] | null } }).Topology;
  return (topo?.DataCenters ?? []).flatMap((dc) => (dc.Racks ?? []).flatMap((r) => (r.DataNodes ?? []).map((n) => n.Url)));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const weed = findWeed();
  const root = resolve(o.dir);
  const logDir = join(root, 'logs');
  mkdirSync(logDir, { recursive: true });
  const launcher = join(PROJECT_ROOT, 'bin', 'weed-volume');
  const host = '127.0.0.1';
  const master = `${host}:${o.masterPort}`;
  const children: Child[] = [];

  let stopping: Promise<void> | undefined;
  const stopAll = (code: number): Promise<void> => {
    stopping ??= (async () => {
      process.stdout.write('\nstopping the cluster…\n');
      // Volume servers first (they tell the master they leave), then filer, then the master.
      for (const group of [children.filter((c) => c.name.startsWith('volume')), children.filter((c) => c.name === 'filer'), children.filter((c) => c.name === 'master')]) {
        for (const c of group) if (alive(c)) c.proc.kill('SIGINT');
        await Promise.race([Promise.all(group.map((c) => c.exited)), new Promise((r) => setTimeout(r, 15_000))]);
        for (const c of group) {
          if (alive(c)) {
            process.stdout.write(`${c.name} did not stop in 15 s: killing it\n`);
            c.proc.kill('SIGKILL');
            await c.exited;
          }
        }
      }
      process.stdout.write(`stopped; data kept in ${root}\n`);
      process.exit(code);
    })();
    return stopping;
  };
  process.on('SIGINT', () => {
    if (stopping) {
      // A second Ctrl-C: no more waiting.
      for (const c of children) if (alive(c)) c.proc.kill('SIGKILL');
      process.exit(130);
    }
    void stopAll(0);
  });
  process.on('SIGTERM', () => void stopAll(0));

  const watch = (c: Child) =>
    void c.exited.then(() => {
      if (stopping) return;
      process.stderr.write(`cluster: ${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}); its log ${c.log} ends with:\n${tail(c.log)}\n`);
      void stopAll(1);
    });

  mkdirSync(join(root, 'master'), { recursive: true });
  const m = start(
    'master',
    weed,
    ['master', `-ip=${host}`, `-port=${o.masterPort}`, `-mdir=${join(root, 'master')}`, '-peers=none', '-volumeSizeLimitMB=1024', '-defaultReplication=000'],
    logDir,
  );
  children.push(m);
  watch(m);

  const volumes: string[] = [];
  for (let i = 0; i < 3; i++) {
    const port = o.volumePort + i;
    const dir = join(root, `volume${i + 1}`);
    mkdirSync(dir, { recursive: true });
    const c = start(
      `volume${i + 1}`,
      launcher,
      [`-ip=${host}`, `-port=${port}`, `-dir=${dir}`, `-master=${master}`, '-dataCenter=dc1', `-rack=rack${i + 1}`, '-max=20', '-preStopSeconds=1'],
      logDir,
    );
    children.push(c);
    watch(c);
    volumes.push(`${host}:${port}`);
  }
  if (o.filer) {
    const dir = join(root, 'filer');
    mkdirSync(dir, { recursive: true });
    const c = start(
      'filer',
      weed,
      ['filer', `-ip=${host}`, `-port=${o.filerPort}`, `-master=${master}`, `-defaultStoreDir=${dir}`, '-s3', `-s3.port=${o.s3Port}`, '-s3.port.iceberg=0'],
      logDir,
    );
    children.push(c);
    watch(c);
  }

  process.stdout.write(`starting: master ${master}, volume servers ${volumes.join(', ')}${o.filer ? `, filer ${host}:${o.filerPort} with S3 ${host}:${o.s3Port}` : ''}\n`);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (stopping) return;
    let listed: string[] = [];
    try {
      listed = nodeUrls(await json(`http://${master}/dir/status`));
    } catch {
      // the master is still starting
    }
    let filerUp = !o.filer;
    if (o.filer) filerUp = await fetch(`http://${host}:${o.filerPort}/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status < 500, () => false);
    if (volumes.every((v) => listed.includes(v)) && filerUp) break;
    if (Date.now() > deadline) {
      process.stderr.write(`cluster: not ready after 90 s (master lists ${JSON.stringify(listed)}); logs in ${logDir}\n`);
      await stopAll(1);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }

  const lines = [
    '',
    'SeaweedFS cluster is up (Ctrl-C stops it; data stays in ' + root + ')',
    `  master         http://${master}   (cluster status: http://${master}/dir/status)`,
    ...volumes.map((v, i) => `  volume server  http://${v}   rack${i + 1}, admin page http://${v}/ui/index.html`),
    ...(o.filer ? [`  filer          http://${host}:${o.filerPort}/`, `  S3             http://${host}:${o.s3Port}/   (no credentials configured)`] : []),
    `  logs           ${logDir}`,
    '',
    'Try it: ask the master for a file id, upload, read back:',
    `  eval "$(curl -s http://${master}/dir/assign | sed -E 's/.*"fid":"([^"]+)".*"url":"([^"]+)".*/fid=\\1 url=\\2/')"`,
    '  curl -F file=@README.md "http://$url/$fid"',
    '  curl "http://$url/$fid"',
    ...(o.filer ? [`  curl -F file=@README.md http://${host}:${o.filerPort}/docs/ && curl http://${host}:${o.filerPort}/docs/README.md`] : []),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e) => fail((e as Error).stack ?? String(e)));
