// Bounded kill -9 torture for `npm test` (the long one: `npm run torture`, README "Torture").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTorture } from './kill-cycles.js';

test('5 kill -9 cycles under writes of all sizes, overwrites, deletes and vacuum: nothing acknowledged lost or resurrected', async () => {
  const r = await runTorture({ cycles: 5 });
  assert.deepEqual(r.mismatches, []);
  assert.deepEqual(r.loadFailures, []);
  assert.equal(r.cycles, 5);
  assert.ok(r.ackedWrites > 50, `only ${r.ackedWrites} writes were acknowledged`);
  assert.ok(r.ackedDeletes > 0, 'no delete was acknowledged');
});
