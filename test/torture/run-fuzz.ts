// `npm run fuzz -- --http N --grpc N [--files N] [--seed S]`: the long fuzz run (README "Torture").
// Exits 1 when any invariant was violated.
import { runFileFuzz } from './file-fuzz.js';
import { runFuzz } from './fuzz.js';
import { flag } from './invariants.js';

const args = process.argv.slice(2);
const http = flag(args, 'http', 10_000);
const grpcN = flag(args, 'grpc', 10_000);
const files = flag(args, 'files', 20);
const seedArg = flag(args, 'seed', -1);
const log = (s: string) => console.log(`[${new Date().toISOString()}] ${s}`);

const started = Date.now();
const r = await runFuzz({ http, grpc: grpcN, seed: seedArg >= 0 ? seedArg : undefined, log });
log(`seed ${r.seed}: ${r.http.cases} HTTP cases ${JSON.stringify(r.http.byStatus)}`);
for (const [k, n] of Object.entries(r.http.storageFaults)) log(`  allowed 5xx ×${n}: ${k}`);
log(`${r.grpc.cases} gRPC cases over ${Object.keys(r.grpc.byRpc).length} RPCs`);
for (const [rpc, codes] of Object.entries(r.grpc.byRpc).sort()) log(`  ${rpc} ${JSON.stringify(codes)}`);
if (args.includes('--texts')) for (const [t, n] of Object.entries(r.grpc.texts).sort()) log(`  ×${n} ${t}`);
const f = await runFileFuzz({ rounds: files, seed: r.seed, log });
log(`file fuzz: ${f.rounds} rounds, ${f.corruptVolumes} corrupt volumes, ${f.loaded} of them loaded`);
const violations = [...r.violations, ...f.violations];
log(`${violations.length} violations in ${Math.round((Date.now() - started) / 1000)} s, RSS max ${r.maxRssKb} kB`);
for (const v of violations) log(`  ${v.kind}: ${v.detail}`);
process.exit(violations.length ? 1 : 0);
