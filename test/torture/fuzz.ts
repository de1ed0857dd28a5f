// One fuzz session against a fresh target: HTTP cases then gRPC cases, in batches, with the
// invariants checked after every batch. Used by fuzz.test.ts (bounded) and run-fuzz.ts (long).
import fc from 'fast-check';
import { describeCase, fuzzCase, runHttpCases, type HttpStats } from './http-fuzz.js';
import { grpcCaseArb, runGrpcCases, type GrpcStats } from './grpc-fuzz.js';
import { InvariantChecker, type Violation } from './invariants.js';
import { ensureFuzzVolumes, startTarget } from './target.js';

export interface FuzzReport {
  seed: number;
  http: HttpStats;
  grpc: GrpcStats;
  violations: Violation[];
  maxRssKb: number;
}

export const BATCH = 100;

export async function runFuzz(opts: { http: number; grpc: number; seed?: number; log?: (s: string) => void }): Promise<FuzzReport> {
  const seed = opts.seed ?? Date.now() % 2 ** 31;
  const log = opts.log ?? (() => {});
  const t = await startTarget();
  const checker = new InvariantChecker(t.vs, t.ref);
  const report: FuzzReport = { seed, http: { cases: 0, byStatus: {}, storageFaults: {} }, grpc: { cases: 0, byRpc: {}, texts: {} }, violations: [], maxRssKb: 0 };
  const record = (vs: Violation[]) => {
    for (const v of vs) {
      report.violations.push(v);
      log(`VIOLATION ${v.kind}: ${v.detail}`);
    }
  };
  try {
    let batchNo = 0;
    const afterBatch = async () => {
      if (batchNo++ === 0) checker.setRssBaseline();
      record(await checker.check());
      if (!checker.alive()) throw new Error('the server died; stopping');
    };
    // Cases come from fast-check with a recorded seed, so a run can be replayed with --seed.
    for (let done = 0, b = 0; done < opts.http; b++) {
      const n = Math.min(BATCH, opts.http - done);
      const cases = fc.sample(fuzzCase, { numRuns: n, seed: seed + b });
      record(await runHttpCases(t.vs.url, cases, report.http));
      done += n;
      await afterBatch();
      log(`http ${done}/${opts.http}, violations ${report.violations.length}, RSS max ${checker.maxRssKb} kB`);
    }
    const addresses = [`127.0.0.1:${t.vs.port}`, `127.0.0.1:${t.vs.port}.${t.vs.grpcPort}`, t.master.address, '127.0.0.1:1', ''];
    const arb = grpcCaseArb(addresses);
    for (let done = 0, b = 0; done < opts.grpc; b++) {
      const n = Math.min(BATCH, opts.grpc - done);
      const cases = fc.sample(arb, { numRuns: n, seed: seed + 100_000 + b });
      record(await runGrpcCases(t.vs.grpcAddress, cases, report.grpc));
      done += n;
      // Undo what valid destructive calls legitimately did to the fuzz volumes and server state.
      await resetState(t.grpc);
      await afterBatch();
      log(`grpc ${done}/${opts.grpc}, violations ${report.violations.length}, RSS max ${checker.maxRssKb} kB`);
    }
  } finally {
    report.maxRssKb = checker.maxRssKb;
    await t.stop();
  }
  return report;
}

async function resetState(c: Awaited<ReturnType<typeof startTarget>>['grpc']): Promise<void> {
  try {
    const s = await c.call<{ state?: { version?: number } }>('GetState', {});
    await c.call('SetState', { state: { maintenance: false, version: s.state?.version ?? 0 } });
  } catch {
    /* a state file the fuzz made unreadable shows up in the invariants if it matters */
  }
  await ensureFuzzVolumes(c);
}

export { describeCase };
