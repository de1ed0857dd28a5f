// `npm run torture -- --cycles N`: the long kill -9 run (README "Torture"). Exits 1 on any loss.
import { flag } from './invariants.js';
import { runTorture } from './kill-cycles.js';

const args = process.argv.slice(2);
const cycles = flag(args, 'cycles', 100);
const log = (s: string) => console.log(`[${new Date().toISOString()}] ${s}`);
const started = Date.now();
const r = await runTorture({ cycles, log });
log(
  `${r.cycles} kill -9 cycles in ${Math.round((Date.now() - started) / 1000)} s: ${r.ackedWrites} acknowledged writes, ` +
    `${r.ackedDeletes} acknowledged deletes, ${r.vacuums} vacuums; lost ${r.mismatches.filter((m) => m.kind === 'lost').length}, ` +
    `resurrected ${r.mismatches.filter((m) => m.kind === 'resurrected').length}, corrupted ${r.mismatches.filter((m) => m.kind === 'corrupted').length}, ` +
    `errors ${r.mismatches.filter((m) => m.kind === 'error').length}, volumes that did not load ${r.loadFailures.length}`,
);
for (const [t, n] of Object.entries(r.vacuumErrors)) log(`  vacuum not completed ×${n}: ${t}`);
for (const m of r.mismatches) log(`  ${m.kind} ${m.fid}: ${m.detail}`);
for (const f of r.loadFailures) log(`  ${f}`);
process.exit(r.mismatches.length + r.loadFailures.length ? 1 : 0);
