// Side-by-side benchmark of the ec, tiering and scrub families: the Go volume server and ours under
// one Go master, each with a ~1 GiB volume filled over HTTP, the same gRPC calls made to each in
// alternating order (Go first in one phase, ours first in the next), ratios ours/Go.
//
//   npm run bench:families -- [--ec] [--tier] [--scrub] [--mb 1024] [--small 10000] [--reads 20000]
//                             [--width 4|5] [--tier-rounds 3] [--tier-reads 5000] [--timeout-min 90]
//
// No family flag (or --families) runs all three. --ec-mb is an alias of --mb (one volume per server
// serves every phase: scrub, tier up and down, EC encode, reads, rebuild). Phases:
//   scrub     ScrubVolume FULL of the volume
//   tier up   VolumeTierMoveDatToRemote to a local S3 (`weed mini`), tier down: ...FromRemote back;
//             after the first tier up, --tier-reads 1 KB GETs of the tiered volume
//   reads     1 KB GETs of the volume's small needles, normal volume, then the same needles after
//             EC encoding (all 14 shards local, the normal volume unmounted)
//   ec encode VolumeEcShardsGenerate; ec rebuild: 4 shards unmounted and deleted, then
//             VolumeEcShardsRebuild (the rebuilt files are checked against the deleted ones)
// Tier up and down run --tier-rounds times (up, down, up, ...); the round of median time is shown,
// every round is in the JSON (phaseRounds). Peak RSS and CPU seconds are each server's during the
// phase; for tier phases also the S3 server's CPU. Writes bench/results/<date>-families.json.
// Not a test: nothing asserts a timing. Everything listens on and talks to 127.0.0.1 only.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../core/paths.js';
import { tempDir } from '../test/helpers/processes.js';
import { startWeedMini, type WeedMini } from '../test/helpers/weed-mini.js';
import { call, startMaster, startServer, stream, type Server } from './families/cluster.js';
import { measure, type PhaseCost } from './families/measure.js';
import { buildGoTool, fillVolume, klauspost, readLoad, type ReadFigures } from './families/traffic.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : def;
};
const all = args.includes('--families') || !['--ec', '--tier', '--scrub'].some((f) => args.includes(f));
const RUN = { ec: all || args.includes('--ec'), tier: all || args.includes('--tier'), scrub: all || args.includes('--scrub') };
const MB = opt('mb', opt('ec-mb', 1024));
const SMALL = opt('small', 10_000);
const READS = opt('reads', 20_000);
const WIDTH: 4 | 5 = opt('width', 4) === 5 ? 5 : 4;
const TIMEOUT_MIN = opt('timeout-min', 90);
/** Tier up and down are short and at the mercy of the shared box: several rounds, the median kept. */
const TIER_ROUNDS = Math.max(1, opt('tier-rounds', 3));
/** 1 KB GETs of the tiered volume after the first tier up (0: none). */
const TIER_READS = opt('tier-reads', 5000);
const COLLECTION = 'bench';
const LOST_SHARDS = [1, 5, 10, 12];
const LONG_MS = 60 * 60_000;

const log = (...a: unknown[]) => console.error('[bench:families]', ...a);

interface Side {
  server: Server;
  vid: number;
  urls: string[];
  datBytes: number;
}

type Outcome = { cost?: PhaseCost; extra?: Record<string, number>; error?: string; samples?: number[] };
/** Every round's outcome of a phase per side; `results` is made of them at the end. */
const rounds: Record<string, Partial<Record<'go' | 'ts', Outcome[]>>> = {};
let phaseCount = 0;

const base = (s: Side) => join(s.server.dir, `${COLLECTION}_${s.vid}`);

/**
 * Runs `fn` on both servers, Go first in every other call; a failure is recorded, not thrown.
 * Called again under the same name, it adds a round. `peerPid`: a process whose CPU the phase is
 * charged apart (the S3 server of the tier phases).
 */
async function phase(
  name: string,
  sides: Side[],
  fn: (s: Side) => Promise<Record<string, number> | void>,
  { pre, peerPid }: { pre?: (s: Side) => Promise<void>; peerPid?: number } = {},
): Promise<void> {
  const order = phaseCount++ % 2 === 0 ? sides : [...sides].reverse();
  const kept = (rounds[name] ??= {});
  for (const s of order) {
    log(`${name}: ${s.server.impl}`);
    const outcomes = (kept[s.server.impl] ??= []);
    try {
      if (pre) await pre(s);
      // Dirty pages of an earlier phase (unflushed shards, a fill) would be written back during
      // this one and charged to whichever side runs first: flush them before every measurement.
      execFileSync('sync');
      const { cost, value } = await measure(s.server.pid, () => fn(s), peerPid);
      outcomes.push({ cost, extra: value ?? undefined });
    } catch (e) {
      const msg = (e as { details?: string }).details || (e as Error).message;
      log(`${name}: ${s.server.impl} failed: ${msg}`);
      outcomes.push({ error: msg });
    }
  }
}

/** A side's outcome of a phase: its first failure, or the round of median wall time with every round's seconds. */
function summary(outcomes: Outcome[]): Outcome {
  const failed = outcomes.find((o) => o.error);
  if (failed) return failed;
  const sorted = [...outcomes].sort((a, b) => a.cost!.seconds - b.cost!.seconds);
  const median = sorted[(sorted.length - 1) >> 1];
  return outcomes.length > 1 ? { ...median, samples: outcomes.map((o) => o.cost!.seconds) } : median;
}

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

const shardPath = (s: Side, i: number) => `${base(s)}.ec${String(i).padStart(2, '0')}`;

async function readPhase(name: string, sides: Side[], tool: string | undefined, work: string, reads = READS): Promise<void> {
  await phase(name, sides, async (s) => {
    if (!tool) throw new Error('no Go toolchain for the read client');
    const r: ReadFigures = readLoad(tool, work, s.urls, reads);
    if (r.failed > 0 || !(r.requests > 0)) throw new Error(`read failed (${r.failed} of ${reads} failed; first: ${r.firstFailure ?? '?'})`);
    return { requests: r.requests, reqPerSec: r.reqPerSec, p50ms: r.p50ms, p99ms: r.p99ms };
  });
}

async function runPhases(sides: Side[], tool: string | undefined, work: string, mini: WeedMini | undefined): Promise<void> {
  if (RUN.scrub) {
    await phase('scrub FULL', sides, async (s) => {
      const r = await call<{ total_files: string; broken_volume_ids: number[]; details: string[] }>(
        s.server.grpcAddress,
        'ScrubVolume',
        { mode: 'FULL', volume_ids: [s.vid] },
        LONG_MS,
      );
      if (r.broken_volume_ids.length) throw new Error(`scrub reports broken: ${r.details.join('; ')}`);
      return { files: Number(r.total_files), bytes: s.datBytes };
    });
  }
  for (let round = 0; RUN.tier && mini && round < TIER_ROUNDS; round++) {
    // the same reads of the local volume, for what tiering adds (the EC phases read it later)
    if (round === 0 && TIER_READS > 0 && !RUN.ec) await readPhase('1 KB reads, normal volume', sides, tool, work, TIER_READS);
    await phase('tier up', sides, async (s) => {
      // the master announces s3.default shortly after registration: until then the call fails
      // fast with "not found, supported" and nothing has moved
      for (let tries = 0; ; tries++) {
        try {
          await stream(s.server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: s.vid, collection: COLLECTION, destination_backend_name: 's3.default' }, LONG_MS);
          break;
        } catch (e) {
          if (!/not found, supported/.test((e as { details?: string }).details ?? '') || tries > 100) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      if (existsSync(`${base(s)}.dat`)) throw new Error('the local .dat is still there');
      return { bytes: s.datBytes };
    }, { peerPid: mini.pid });
    // every read is a ranged GET to the S3 server
    if (round === 0 && TIER_READS > 0) await readPhase('1 KB reads, tiered volume', sides, tool, work, TIER_READS);
    await phase('tier down', sides, async (s) => {
      await stream(s.server.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: s.vid, collection: COLLECTION, keep_remote_dat_file: false }, LONG_MS);
      const size = statSync(`${base(s)}.dat`).size;
      if (size !== s.datBytes) throw new Error(`.dat came back with ${size} bytes, not ${s.datBytes}`);
      return { bytes: size };
    }, { peerPid: mini.pid });
  }
  if (!RUN.ec) return;
  await readPhase('1 KB reads, normal volume', sides, tool, work);
  await phase(
    'ec encode',
    sides,
    async (s) => {
      await call(s.server.grpcAddress, 'VolumeEcShardsGenerate', { volume_id: s.vid, collection: COLLECTION }, LONG_MS);
    },
    {
      pre: async (s) => {
        await call(s.server.grpcAddress, 'VolumeMarkReadonly', { volume_id: s.vid, persist: false });
      },
    },
  );
  // serve the volume from its shards only
  for (const s of sides) {
    try {
      await call(s.server.grpcAddress, 'VolumeEcShardsMount', { volume_id: s.vid, collection: COLLECTION, shard_ids: Array.from({ length: 14 }, (_, i) => i) });
      await call(s.server.grpcAddress, 'VolumeUnmount', { volume_id: s.vid });
    } catch (e) {
      log(`${s.server.impl}: mounting the EC shards failed: ${(e as { details?: string }).details || (e as Error).message}`);
    }
  }
  await readPhase('1 KB reads, EC volume', sides, tool, work);
  const hashes = new Map<Side, string[]>();
  await phase(
    'ec rebuild 4 shards',
    sides,
    async (s) => {
      const r = await call<{ rebuilt_shard_ids: number[] }>(s.server.grpcAddress, 'VolumeEcShardsRebuild', { volume_id: s.vid, collection: COLLECTION }, LONG_MS);
      return { rebuilt: r.rebuilt_shard_ids.length };
    },
    {
      pre: async (s) => {
        await call(s.server.grpcAddress, 'VolumeEcShardsUnmount', { volume_id: s.vid, shard_ids: LOST_SHARDS });
        hashes.set(s, await Promise.all(LOST_SHARDS.map((i) => sha256(shardPath(s, i)))));
        for (const i of LOST_SHARDS) unlinkSync(shardPath(s, i));
      },
    },
  );
  for (const s of sides) {
    const outcome = rounds['ec rebuild 4 shards'][s.server.impl]?.[0];
    if (!outcome || outcome.error) continue;
    const before = hashes.get(s)!;
    for (const [k, i] of LOST_SHARDS.entries()) {
      const p = shardPath(s, i);
      if (!existsSync(p) || (await sha256(p)) !== before[k]) outcome.error = `shard ${i} was not rebuilt byte for byte`;
    }
  }
}

function codecFigures(tool: string | undefined): Record<string, unknown> {
  const res: Record<string, unknown> = {};
  try {
    const out = execFileSync(process.execPath, [join(PROJECT_ROOT, 'dist/bench/ec.js')], { encoding: 'utf8', timeout: 300_000 });
    for (const m of out.matchAll(/^(\w+)\s+encode\s+(\d+) MB\/s\s+reconstruct\(4 lost\)\s+(\d+) MB\/s/gm)) res[`ours ${m[1]}`] = { encodeMBs: Number(m[2]), reconstructMBs: Number(m[3]) };
  } catch (e) {
    log('bench:ec failed:', (e as Error).message);
  }
  if (tool) {
    try {
      Object.assign(res, Object.fromEntries(Object.entries(klauspost(tool)).map(([k, v]) => [`klauspost ${k}`, v])));
    } catch (e) {
      log('klauspost figures failed:', (e as Error).message);
    }
  }
  return res;
}

const cleanups: (() => Promise<void>)[] = [];

async function cleanupAll(): Promise<void> {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch (e) {
      log('cleanup:', (e as Error).message);
    }
  }
  cleanups.length = 0;
}

async function main(): Promise<void> {
  const work = tempDir('bench-families-');
  cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
  let tool: string | undefined;
  try {
    tool = buildGoTool(work);
  } catch (e) {
    log('cannot build bench/go (reads and klauspost figures skipped):', (e as Error).message);
  }
  let mini: WeedMini | undefined;
  if (RUN.tier) {
    log('starting weed mini (S3)');
    mini = await startWeedMini();
    cleanups.push(() => mini!.stop());
    await mini.createBucket('bench-tier');
  }
  const master = await startMaster(WIDTH, Math.max(100, MB * 2), mini ? { endpoint: mini.endpoint, bucket: 'bench-tier' } : undefined);
  cleanups.push(async () => {
    await master.stop();
    rmSync(master.dir, { recursive: true, force: true });
  });
  const sides: Side[] = [];
  for (const [impl, vid] of [
    ['go', 201],
    ['ts', 202],
  ] as const) {
    const dir = join(work, impl);
    mkdirSync(dir);
    const server = await startServer(impl, WIDTH, master, dir, join(work, `${impl}.log`));
    cleanups.push(() => server.stop());
    await call(server.grpcAddress, 'AllocateVolume', { volume_id: vid, collection: COLLECTION, replication: '000', ttl: '', version: 3 });
    log(`${impl}: filling volume ${vid} with ${MB} MiB and ${SMALL} × 1 KB`);
    const urls = await fillVolume(server.url, vid, MB, SMALL);
    sides.push({ server, vid, urls, datBytes: statSync(join(dir, `${COLLECTION}_${vid}.dat`)).size });
  }
  await runPhases(sides, tool, work, mini);
  const codec = RUN.ec ? codecFigures(tool) : {};
  await cleanupAll();
  const results: Record<string, Partial<Record<'go' | 'ts', Outcome>>> = {};
  for (const [name, bySide] of Object.entries(rounds)) {
    results[name] = {};
    for (const impl of ['go', 'ts'] as const) if (bySide[impl]) results[name][impl] = summary(bySide[impl]);
  }

  const fmt = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : '-');
  const datMiB = sides[0].datBytes / (1 << 20);
  const lines: string[] = [];
  lines.push(`families benchmark: volume ${datMiB.toFixed(0)} MiB (.dat), ${SMALL} × 1 KB needles in it, ${READS} reads, width ${WIDTH} (${new Date().toISOString()})`);
  lines.push(`${'figure'.padEnd(40)} ${'Go'.padStart(10)} ${'ours'.padStart(10)} ${'ours/Go'.padStart(8)}`);
  const row = (name: string, f: (o: Outcome) => number | undefined, phaseName: string) => {
    const r = results[phaseName];
    if (!r) return;
    const val = (o?: Outcome) => (o && !o.error ? f(o) : undefined);
    const go = val(r.go);
    const ts = val(r.ts);
    const err = [r.go?.error && `Go: ${r.go.error}`, r.ts?.error && `ours: ${r.ts.error}`].filter(Boolean).join('; ');
    const ratio = go && ts !== undefined ? ts / go : undefined;
    lines.push(`${name.padEnd(40)} ${fmt(go).padStart(10)} ${fmt(ts).padStart(10)} ${fmt(ratio).padStart(8)}${err ? `  (${err})` : ''}`);
  };
  for (const p of ['scrub FULL', 'tier up', 'tier down', 'ec encode', 'ec rebuild 4 shards']) {
    row(`${p}, s`, (o) => o.cost?.seconds, p);
    if (p.startsWith('tier') || p === 'scrub FULL') row(`${p}, MB/s`, (o) => (o.cost && o.extra?.bytes ? o.extra.bytes / 1e6 / o.cost.seconds : undefined), p);
    row(`${p}, server CPU s`, (o) => o.cost?.cpuSeconds, p);
    if (p.startsWith('tier')) row(`${p}, S3 server CPU s`, (o) => o.cost?.peerCpuSeconds, p);
    row(`${p}, peak RSS MiB`, (o) => o.cost?.peakRssMiB, p);
    row(`${p}, RSS growth MiB`, (o) => (o.cost ? o.cost.peakRssMiB - o.cost.startRssMiB : undefined), p);
  }
  for (const p of ['1 KB reads, tiered volume', '1 KB reads, normal volume', '1 KB reads, EC volume']) {
    row(`${p}, req/s`, (o) => o.extra?.reqPerSec, p);
    row(`${p}, p50 ms`, (o) => o.extra?.p50ms, p);
    row(`${p}, p99 ms`, (o) => o.extra?.p99ms, p);
  }
  const ecVsNormal: Record<string, string | number> = {};
  if (RUN.ec) {
    for (const impl of ['go', 'ts'] as const) {
      const n = results['1 KB reads, normal volume']?.[impl];
      const e = results['1 KB reads, EC volume']?.[impl];
      ecVsNormal[impl] = n?.extra && e?.extra ? e.extra.reqPerSec / n.extra.reqPerSec : `n/a (${e?.error ?? n?.error ?? 'read failed'})`;
      lines.push(`1 KB reads EC / normal, ${impl === 'ts' ? 'ours' : 'Go'}: ${typeof ecVsNormal[impl] === 'number' ? fmt(ecVsNormal[impl] as number) : ecVsNormal[impl]}`);
    }
    for (const [k, v] of Object.entries(codec)) {
      const f = v as { encodeMBs: number; reconstructMBs: number };
      lines.push(`codec ${k}: encode ${f.encodeMBs} MB/s, reconstruct (4 lost) ${f.reconstructMBs} MB/s`);
    }
  }
  console.log(lines.join('\n'));

  const resultsDir = join(PROJECT_ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${new Date().toISOString().slice(0, 10)}-families.json`);
  writeFileSync(
    file,
    JSON.stringify({ params: { MB, datBytes: sides[0].datBytes, SMALL, READS, WIDTH, families: RUN, lostShards: LOST_SHARDS }, phases: results, phaseRounds: rounds, ecVsNormalReads: ecVsNormal, codec }, null, 2) + '\n',
  );
  log(`results: ${file}`);
}

const timer = setTimeout(() => {
  log(`gave up after ${TIMEOUT_MIN} min`);
  void cleanupAll().finally(() => process.exit(2));
}, TIMEOUT_MIN * 60_000);
process.once('SIGINT', () => void cleanupAll().finally(() => process.exit(130)));

main()
  .catch(async (e) => {
    console.error(e);
    await cleanupAll();
    process.exitCode = 1;
  })
  .finally(() => clearTimeout(timer));
