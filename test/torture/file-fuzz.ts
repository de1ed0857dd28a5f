// Files at load: a data dir holding one good volume and corrupt copies of another (.dat, .idx and
// .vif truncated, overwritten, extended, emptied, removed or replaced, as fast-check picks), then
// our server started on it. It must start, stay alive, answer /status in bound, serve every needle
// of the good volume byte-exact, and survive reads of the corrupt volumes.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { volumeClient } from '../helpers/grpc.js';
import { rawRequest } from '../helpers/http.js';
import { cleanup, startVolumeServer, tempDir } from '../helpers/processes.js';
import { InvariantChecker, JS_BUG, type Violation } from './invariants.js';

const GOOD_VID = 1;
const TEMPLATE_VID = 2;
const EXTS = ['dat', 'idx', 'vif'] as const;
type Ext = (typeof EXTS)[number];

type Mutation =
  | { op: 'truncate'; ext: Ext; at: number }
  | { op: 'overwrite'; ext: Ext; at: number; bytes: Uint8Array }
  | { op: 'append'; ext: Ext; bytes: Uint8Array }
  | { op: 'replace'; ext: Ext; bytes: Uint8Array }
  | { op: 'remove'; ext: Ext }
  | { op: 'vif'; text: string };

const ext = fc.constantFrom<Ext>('dat', 'dat', 'idx', 'idx', 'vif');
// Positions lean to the superblock and record headers, where a bad byte matters most.
const at = fc.oneof(fc.nat({ max: 24 }), fc.nat({ max: 200_000 }));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), ext, at }),
  fc.record({ op: fc.constant('overwrite' as const), ext, at, bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
  fc.record({ op: fc.constant('append' as const), ext, bytes: fc.uint8Array({ minLength: 1, maxLength: 200 }) }),
  fc.record({ op: fc.constant('replace' as const), ext, bytes: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({ op: fc.constant('remove' as const), ext }),
  fc.record({
    op: fc.constant('vif' as const),
    text: fc.constantFrom('{', 'null', '[]', '""', '{"version":0}', '{"version":2}', '{"version":99}', '{"version":-3}', '{"version":3,"bytesOffset":5}', '{"version":3,"datFileSize":"-1"}', '{"version":3,"expireAtSec":"1"}', '{"files":[]}', '{"version":"x"}', '{"readOnly":"yes"}', '{"version":3,"datFileSize":"99999999999999999999"}'),
  }),
);
const volumeMutations = fc.array(mutation, { minLength: 1, maxLength: 3 });

function apply(base: string, m: Mutation): void {
  if (m.op === 'vif') return writeFileSync(`${base}.vif`, m.text);
  const path = `${base}.${m.ext}`;
  if (m.op === 'remove') return rmSync(path, { force: true });
  if (m.op === 'replace') return writeFileSync(path, m.bytes);
  if (!existsSync(path)) return;
  const data = readFileSync(path);
  if (m.op === 'truncate') return truncateSync(path, Math.min(m.at, data.length));
  if (m.op === 'append') return writeFileSync(path, Buffer.concat([data, m.bytes]));
  const out = Buffer.from(data);
  Buffer.from(m.bytes).copy(out, Math.min(m.at, Math.max(0, out.length - 1)));
  writeFileSync(path, out.length >= data.length ? out : data);
}

interface Template {
  files: Record<Ext, Buffer | undefined>;
  good: Record<Ext, Buffer | undefined>;
  goodNeedles: Map<string, Buffer>;
  templateFids: string[];
}

async function makeTemplate(): Promise<Template> {
  const vs = await startVolumeServer({ extraArgs: ['--max', '5'] });
  const c = volumeClient(vs.grpcAddress);
  const goodNeedles = new Map<string, Buffer>();
  const templateFids: string[] = [];
  try {
    for (const vid of [GOOD_VID, TEMPLATE_VID]) await c.call('AllocateVolume', { volume_id: vid, replication: '000', version: 3 });
    for (let i = 1; i <= 30; i++) {
      for (const vid of [GOOD_VID, TEMPLATE_VID]) {
        const fid = `${vid},${i.toString(16)}cafe0001`;
        const data = randomBytes(1 + ((i * 4099) % 20_000));
        const r = await rawRequest('POST', `${vs.url}/${fid}`, { 'Content-Type': 'application/octet-stream' }, data);
        if (r.status !== 201) throw new Error(`template write ${fid}: ${r.status}`);
        if (vid === GOOD_VID) goodNeedles.set(fid, data);
        else templateFids.push(fid);
        if (i % 7 === 0) await rawRequest('DELETE', `${vs.url}/${fid}`);
        if (i % 7 === 0 && vid === GOOD_VID) goodNeedles.delete(fid);
      }
    }
  } finally {
    c.close();
    await vs.stop();
  }
  const read = (vid: number) =>
    Object.fromEntries(EXTS.map((e) => [e, existsSync(join(vs.dir, `${vid}.${e}`)) ? readFileSync(join(vs.dir, `${vid}.${e}`)) : undefined])) as Record<Ext, Buffer | undefined>;
  const t = { files: read(TEMPLATE_VID), good: read(GOOD_VID), goodNeedles, templateFids };
  cleanup(vs.dir);
  return t;
}

export interface FileFuzzReport {
  rounds: number;
  corruptVolumes: number;
  loaded: number;
  violations: Violation[];
}

export async function runFileFuzz(opts: { rounds: number; perRound?: number; seed?: number; log?: (s: string) => void }): Promise<FileFuzzReport> {
  const perRound = opts.perRound ?? 8;
  const log = opts.log ?? (() => {});
  const report: FileFuzzReport = { rounds: 0, corruptVolumes: 0, loaded: 0, violations: [] };
  if (opts.rounds === 0) return report;
  const t = await makeTemplate();
  const seed = opts.seed ?? 1;
  for (let round = 0; round < opts.rounds; round++) {
    const dir = tempDir('file-fuzz-');
    const plans = fc.sample(volumeMutations, { numRuns: perRound, seed: seed + round });
    for (const e of EXTS) if (t.good[e]) writeFileSync(join(dir, `${GOOD_VID}.${e}`), t.good[e]!);
    plans.forEach((muts, k) => {
      const base = join(dir, `${10 + k}`);
      for (const e of EXTS) if (t.files[e]) writeFileSync(`${base}.${e}`, t.files[e]!);
      for (const m of muts) apply(base, m);
    });
    const what = (k: number) => `round ${round} volume ${10 + k}: ${JSON.stringify(plans[k], (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))}`;
    let vs;
    try {
      vs = await startVolumeServer({ dir, extraArgs: ['--max', String(perRound + 5)] });
    } catch (e) {
      report.violations.push({ kind: 'load', detail: `the server did not start on round ${round}: ${(e as Error).message}; plans ${plans.map((_, k) => what(k)).join('; ')}` });
      cleanup(dir);
      continue;
    }
    try {
      const checker = new InvariantChecker(vs, { needles: t.goodNeedles, vid: GOOD_VID, collection: '' });
      const v1 = await checker.check();
      for (let k = 0; k < perRound; k++) {
        for (const fid of t.templateFids.slice(0, 10)) {
          const r = await rawRequest('GET', `${vs.url}/${fid.replace(/^2,/, `${10 + k},`)}`).catch((e: Error) => ({ status: 0, body: Buffer.from(e.message) }));
          if (JS_BUG.test(r.body.toString('utf8', 0, 500))) report.violations.push({ kind: 'file-js-error', detail: `${r.status} ${r.body.toString('utf8', 0, 200)} ← ${what(k)}` });
          if (!checker.alive()) break;
        }
      }
      const status = await fetch(`${vs.url}/status`).then((r) => r.json() as Promise<{ Volumes?: { Id: number }[] }>).catch(() => ({ Volumes: [] }));
      const ids = new Set((status.Volumes ?? []).map((v) => v.Id));
      report.loaded += [...ids].filter((id) => id >= 10).length;
      const v2 = await checker.check();
      for (const v of [...v1, ...v2]) report.violations.push({ kind: `file-${v.kind}`, detail: `${v.detail}; plans ${plans.map((_, k) => what(k)).join('; ')}` });
      if (!ids.has(GOOD_VID)) report.violations.push({ kind: 'file-good-missing', detail: `round ${round}: the good volume is not listed` });
    } finally {
      await vs.stop('SIGKILL');
      cleanup(dir);
    }
    report.rounds++;
    report.corruptVolumes += perRound;
    log(`file fuzz round ${round + 1}/${opts.rounds}: ${report.violations.length} violations`);
  }
  return report;
}
