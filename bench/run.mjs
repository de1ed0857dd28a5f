#!/usr/bin/env node
// Side-by-side benchmark of the Go volume server and ours, in one run on one machine: the same Go
// master, the same clients, the same flags, alternating Go/ours so machine drift cancels out.
//
//   npm run bench -- [--n 20000] [--rounds 1] [--large 4] [--large-mb 64] [--width 4|5] [--loadtest] [--only ts|go]
//                    [--cpus 1,2]
//
// Prints a table (ours/Go ratio per figure) and writes bench/results/<date>.json. Not a test.
// --cpus takes a list of core counts and measures once per count: each server is pinned with
// taskset to the first k cores this process may use, the master and the benchmark client to the others (to every core
// when none is left), and a scaling line compares each server's gain from the first count to the
// last; that run writes bench/results/<date>-cpus-<list>.json.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const N = Number(opt('n', 20000));
const ROUNDS = Number(opt('rounds', 1));
const LARGE_COUNT = Number(opt('large', 4));
const LARGE_MB = Number(opt('large-mb', 64));
const WIDTH = Number(opt('width', 4)) === 5 ? 5 : 4;
const LOADTEST = args.includes('--loadtest');
// --only ts|go: measure one server (for iterating on a change; ratios need both).
const ONLY = opt('only', '');
const CLK_TCK = 100;
const NPROC = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
const CPUS = opt('cpus', '')
  .split(',')
  .filter(Boolean)
  .map((c) => {
    const k = Number(c);
    if (!Number.isInteger(k) || k < 1 || k > NPROC) throw new Error(`--cpus: ${c} is not a core count between 1 and ${NPROC}`);
    return k;
  });

const log = (...a) => console.error('[bench]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function weedBinary() {
  const out = execFileSync('bash', [join(ROOT, 'test/conformance/build-weed.sh'), String(WIDTH)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop();
}

async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    if (port + 10000 < 65536) return port;
  }
}

/** The CPU ids this process may run on (as `nproc` counts them), e.g. 2,3 in a container given cores 2-3. */
function allowedCpus() {
  const line = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.+)$/m);
  if (!line) return Array.from({ length: NPROC }, (_, i) => i);
  const ids = [];
  for (const part of line[1].trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) ids.push(i);
  }
  return ids;
}
const CPU_IDS = allowedCpus();

/** Cores for a server given k of them, and for everything else (master, client). */
function coreSets(k) {
  const ids = CPU_IDS;
  return { server: ids.slice(0, k).join(','), others: (k < ids.length ? ids.slice(k) : ids).join(',') };
}

/** The command pinned to a CPU list (taskset execs it, so the pid is the command's own). */
function pinned(cpus, cmd, argv) {
  return cpus ? ['taskset', ['-c', cpus, cmd, ...argv]] : [cmd, argv];
}

function start(cmd, argv, logName, env = process.env, cpus = '') {
  const fd = openSync(join(tmpdir(), logName), 'w');
  const [bin, binArgs] = pinned(cpus, cmd, argv);
  const proc = spawn(bin, binArgs, { stdio: ['ignore', fd, fd], env });
  const exited = new Promise((r) => proc.on('exit', r));
  return {
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGINT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function waitFor(check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet: poll again
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** utime + stime of a process (all its threads) and of every live process below it, in seconds. */
function cpuSeconds(pid) {
  const procs = new Map(); // pid -> { ppid, ticks }
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // exited while listing
    }
  }
  let ticks = 0;
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop();
    ticks += procs.get(p)?.ticks ?? 0;
    for (const [child, c] of procs) if (c.ppid === p) todo.push(child);
  }
  return ticks / CLK_TCK;
}

function peakRssMiB(pid) {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function parseWeedBenchmark(text) {
  const sections = {};
  for (const part of text.split(/------------ /).slice(1)) {
    const name = /Writing/.test(part) ? 'write' : /Reading/.test(part) ? 'read' : null;
    if (!name) continue;
    const num = (re) => {
      const m = re.exec(part);
      return m ? Number(m[1]) : NaN;
    };
    sections[name] = {
      reqPerSec: num(/Requests per second:\s+([\d.]+)/),
      failed: num(/Failed requests:\s+(\d+)/),
      p50ms: num(/^\s+50%\s+([\d.]+) ms/m),
      p99ms: num(/^\s+99%\s+([\d.]+) ms/m),
    };
  }
  return sections;
}

function httpCall(method, url, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: body ? { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length } : {} }, (res) => {
      let bytes = 0;
      const chunks = [];
      res.on('data', (c) => {
        bytes += c.length;
        if (method !== 'GET') chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, bytes, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function largeFiles(masterUrl, collection) {
  const payload = randomBytes(LARGE_MB << 20);
  const fids = [];
  for (let i = 0; i < LARGE_COUNT; i++) {
    const a = await (await fetch(`${masterUrl}/dir/assign?collection=${collection}`)).json();
    fids.push(`http://${a.url}/${a.fid}`);
  }
  let t = performance.now();
  const ups = await Promise.all(fids.map((u) => httpCall('POST', u, payload)));
  const upSec = (performance.now() - t) / 1000;
  for (const u of ups) if (u.status !== 201) throw new Error(`large upload failed: ${u.status} ${u.text}`);
  t = performance.now();
  const downs = await Promise.all(fids.map((u) => httpCall('GET', u)));
  const downSec = (performance.now() - t) / 1000;
  for (const d of downs) if (d.status !== 200 || d.bytes !== payload.length) throw new Error(`large download failed: ${d.status} ${d.bytes}`);
  const totalMB = (LARGE_COUNT * payload.length) / (1 << 20);
  return { uploadMBps: totalMB / upSec, downloadMBps: totalMB / downSec };
}

async function runOne(weed, master, impl, round, cores) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `bench-${impl}-`));
  const common = [`-port=${port}`, `-port.grpc=${port + 10000}`, '-ip=127.0.0.1', `-dir=${dir}`, '-max=100', `-master=${master.address}`, '-preStopSeconds=0'];
  const server =
    impl === 'go'
      ? start(weed, ['volume', ...common], `bench-go-${port}.log`, process.env, cores?.server)
      : start(join(ROOT, 'bin/weed-volume'), common, `bench-ts-${port}.log`, { ...process.env, WEED_OFFSET_BYTES: String(WIDTH) }, cores?.server);
  const url = `127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      const s = await (await fetch(`${master.url}/dir/status`)).json();
      return JSON.stringify(s).includes(`"Url":"${url}"`);
    }, 30000, `${impl} server registered`);
    const pid = server.proc.pid;
    const collection = `bench${impl}${round}`;
    log(`${impl} round ${round}: weed benchmark -c=16 -n=${N} -size=1024`);
    const cpu0 = cpuSeconds(pid);
    const [bin, binArgs] = pinned(cores?.others, weed, ['benchmark', `-master=${master.address}`, '-c=16', `-n=${N}`, '-size=1024', `-collection=${collection}`]);
    const out = execFileSync(bin, binArgs, {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
      cwd: dir,
    });
    const cpu1 = cpuSeconds(pid);
    const small = parseWeedBenchmark(out);
    log(`${impl} round ${round}: ${LARGE_COUNT} × ${LARGE_MB} MB uploads and downloads`);
    const large = await largeFiles(master.url, `${collection}large`);
    return {
      write: small.write,
      read: small.read,
      large,
      cpuSecPer1000Req: ((cpu1 - cpu0) / (2 * N)) * 1000,
      peakRssMiB: peakRssMiB(pid),
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function loadtest(weed, impl) {
  const src = execFileSync('bash', [join(ROOT, 'test/conformance/build-weed.sh'), '--src'], { encoding: 'utf8' }).trim().split('\n').pop();
  const env = { ...process.env, WEED_BINARY: weed, WEED_OFFSET_BYTES: String(WIDTH) };
  if (impl === 'ts') Object.assign(env, { VOLUME_SERVER_IMPL: 'rust', RUST_VOLUME_BINARY: join(ROOT, 'bin/weed-volume') });
  else delete env.VOLUME_SERVER_IMPL;
  const tags = WIDTH === 5 ? ['-tags', '5BytesOffset'] : [];
  let out;
  try {
    out = execFileSync('go', ['test', '-count=1', ...tags, '-v', './test/volume_server/loadtest'], { cwd: src, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  } catch (e) {
    out = String(e.stdout ?? '') + String(e.stderr ?? '');
  }
  return out.split('\n').filter((l) => l.includes('RESULT'));
}

function ratio(ours, go) {
  return Number.isFinite(ours) && Number.isFinite(go) && go !== 0 ? ours / go : NaN;
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

function tableRows(runs) {
  const pick = (impl, f) => median(runs[impl].map(f));
  return [
    ['1 KB write req/s', (x) => x.write?.reqPerSec, 'higher'],
    ['1 KB write p50 ms', (x) => x.write?.p50ms, 'lower'],
    ['1 KB write p99 ms', (x) => x.write?.p99ms, 'lower'],
    ['1 KB write failed', (x) => x.write?.failed, 'lower'],
    ['1 KB read req/s', (x) => x.read?.reqPerSec, 'higher'],
    ['1 KB read p50 ms', (x) => x.read?.p50ms, 'lower'],
    ['1 KB read p99 ms', (x) => x.read?.p99ms, 'lower'],
    ['1 KB read failed', (x) => x.read?.failed, 'lower'],
    [`${LARGE_MB} MB upload MB/s`, (x) => x.large.uploadMBps, 'higher'],
    [`${LARGE_MB} MB download MB/s`, (x) => x.large.downloadMBps, 'higher'],
    ['server CPU s / 1000 req', (x) => x.cpuSecPer1000Req, 'lower'],
    ['server peak RSS MiB', (x) => x.peakRssMiB, 'lower'],
  ].map(([name, f, better]) => {
    const go = pick('go', f);
    const ts = pick('ts', f);
    return { name, go, ours: ts, ratio: ratio(ts, go), better };
  });
}

function scalingRows(first, last) {
  return ['1 KB write req/s', '1 KB read req/s', `${LARGE_MB} MB upload MB/s`, `${LARGE_MB} MB download MB/s`].map((name) => {
    const a = first.rows.find((r) => r.name === name);
    const b = last.rows.find((r) => r.name === name);
    return { name, go: ratio(b.go, a.go), ours: ratio(b.ours, a.ours) };
  });
}

async function main() {
  const weed = weedBinary();
  const mport = await freePort();
  const mdir = mkdtempSync(join(tmpdir(), 'bench-master-'));
  const masterProc = start(weed, ['master', '-ip=127.0.0.1', `-port=${mport}`, `-port.grpc=${mport + 10000}`, `-mdir=${mdir}`, '-peers=none', '-volumeSizeLimitMB=1024', '-defaultReplication=000'], `bench-master-${mport}.log`);
  const master = { address: `127.0.0.1:${mport}`, url: `http://127.0.0.1:${mport}` };
  // One entry per --cpus count (or one unpinned entry): its core sets and each server's runs.
  const configs = (CPUS.length ? CPUS : [0]).map((k) => ({ cpus: k || null, cores: k ? coreSets(k) : null, runs: { go: [], ts: [] } }));
  try {
    await waitFor(async () => (await fetch(`${master.url}/dir/status`)).ok, 30000, 'master');
    // A fresh Go master defers volume id allocation for ~10 s after it becomes leader; let that
    // pass so the first server measured does not pay for it.
    await sleep(11000);
    for (const c of configs) {
      if (c.cores) {
        // The master and this process (the large-file client) move to the client's cores.
        for (const pid of [masterProc.proc.pid, process.pid]) execFileSync('taskset', ['-a', '-p', '-c', c.cores.others, String(pid)], { stdio: 'ignore' });
        log(`cpus ${c.cpus}: servers on cores ${c.cores.server}, master and clients on ${c.cores.others}`);
      }
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate which server goes first each round so drift does not favour one.
        const order = r % 2 === 0 ? ['go', 'ts'] : ['ts', 'go'];
        for (const impl of order) if (!ONLY || ONLY === impl) c.runs[impl].push(await runOne(weed, master, impl, `${r}c${c.cpus ?? 0}`, c.cores));
      }
    }
  } finally {
    await masterProc.stop();
    rmSync(mdir, { recursive: true, force: true });
    // The needle map bench and the loadtest below run unpinned.
    if (CPUS.length) execFileSync('taskset', ['-a', '-p', '-c', `0-${NPROC - 1}`, String(process.pid)], { stdio: 'ignore' });
  }
  for (const c of configs) c.rows = tableRows(c.runs);

  let needleMap = null;
  try {
    const out = execFileSync(process.execPath, ['--expose-gc', join(ROOT, 'dist/bench/needle-map.js'), '10000000', String(WIDTH)], { encoding: 'utf8' });
    needleMap = {
      loadSeconds: Number(/load time: ([\d.]+) s/.exec(out)?.[1]),
      bytesPerEntry: Number(/map accounting: .* = ([\d.]+) bytes\/entry/.exec(out)?.[1]),
    };
  } catch (e) {
    log('needle map benchmark failed:', e.message);
  }

  const loadtestLines = LOADTEST ? { go: loadtest(weed, 'go'), ts: loadtest(weed, 'ts') } : null;

  const fmt = (v) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : '-');
  const lines = [];
  lines.push(`benchmark: n=${N} rounds=${ROUNDS} large=${LARGE_COUNT}x${LARGE_MB}MB width=${WIDTH} (${new Date().toISOString()})`);
  for (const c of configs) {
    if (c.cores) lines.push(`--cpus ${c.cpus}: each server pinned to cores ${c.cores.server}; master and clients on ${c.cores.others}`);
    lines.push(`${'figure'.padEnd(28)} ${'Go'.padStart(10)} ${'ours'.padStart(10)} ${'ours/Go'.padStart(8)}`);
    for (const r of c.rows) lines.push(`${r.name.padEnd(28)} ${fmt(r.go).padStart(10)} ${fmt(r.ours).padStart(10)} ${fmt(r.ratio).padStart(8)}  (${r.better} is better)`);
  }
  // Gain of each server from the first core count to the last, per throughput figure.
  const scaling = configs.length > 1 ? scalingRows(configs[0], configs[configs.length - 1]) : null;
  if (scaling) {
    lines.push(`scaling from --cpus ${configs[0].cpus} to ${configs[configs.length - 1].cpus} (last / first):`);
    for (const r of scaling) lines.push(`  ${r.name.padEnd(26)} Go ${fmt(r.go).padStart(6)}  ours ${fmt(r.ours).padStart(6)}`);
  }
  if (needleMap) lines.push(`needle map, 10M entries: ${needleMap.bytesPerEntry} bytes/entry, load ${needleMap.loadSeconds} s (ours only)`);
  if (loadtestLines) {
    lines.push('loadtest (informational):');
    for (const impl of ['go', 'ts']) for (const l of loadtestLines[impl]) lines.push(`  ${impl}: ${l.trim()}`);
  }
  console.log(lines.join('\n'));

  if (ONLY) return; // a one-sided run has no ratios to keep
  const resultsDir = join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const day = new Date().toISOString().slice(0, 10);
  const file = join(resultsDir, CPUS.length ? `${day}-cpus-${CPUS.join('-')}.json` : `${day}.json`);
  const params = { N, ROUNDS, LARGE_COUNT, LARGE_MB, WIDTH, CPUS };
  const body = CPUS.length ? { params, configs, scaling } : { params, rows: configs[0].rows, runs: configs[0].runs };
  writeFileSync(file, JSON.stringify({ ...body, needleMap, loadtest: loadtestLines }, null, 2) + '\n');
  log(`results: ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
