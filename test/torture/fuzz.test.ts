// Bounded fuzz runs for `npm test` (the long ones: `npm run fuzz`, README "Torture").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFileFuzz } from './file-fuzz.js';
import { runFuzz } from './fuzz.js';

test('fuzz 300 HTTP + 300 gRPC cases: alive, /status in bound, no 5xx for client mistakes, RSS bounded, reference needles intact', async () => {
  const r = await runFuzz({ http: 300, grpc: 300 });
  assert.deepEqual(r.violations, [], `seed ${r.seed}`);
  assert.equal(r.http.cases, 300);
  assert.equal(r.grpc.cases, 300);
  // the generators reach the storage paths, not only the parsers
  assert.ok((r.http.byStatus['201'] ?? 0) > 0 && (r.http.byStatus['200'] ?? 0) > 0, JSON.stringify(r.http.byStatus));
  assert.ok(Object.keys(r.grpc.byRpc).length > 30, `only ${Object.keys(r.grpc.byRpc).length} RPCs were called`);
});

test('corrupt .dat/.idx/.vif at load, 3 rounds of 8 volumes: the server starts and serves the good volume', async () => {
  const r = await runFileFuzz({ rounds: 3 });
  assert.deepEqual(r.violations, []);
  assert.equal(r.rounds, 3);
  assert.equal(r.corruptVolumes, 24);
});
