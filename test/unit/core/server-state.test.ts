// state.pb (maintenance mode and its version) as Go's VolumeServerState.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeState, encodeState, ServerState } from '../../../core/server-state.js';

test('state.pb codec matches protobuf encoding of VolumeServerState', () => {
  assert.deepEqual([...encodeState({ maintenance: false, version: 0 })], []);
  assert.deepEqual([...encodeState({ maintenance: true, version: 2 })], [0x08, 0x01, 0x10, 0x02]);
  assert.deepEqual([...encodeState({ maintenance: false, version: 300 })], [0x10, 0xac, 0x02]);
  assert.deepEqual(decodeState(Buffer.from([0x10, 0xac, 0x02, 0x08, 0x01])), { maintenance: true, version: 300 });
  // Unknown fields are skipped, truncation is an error.
  assert.deepEqual(decodeState(Buffer.from([0x1a, 0x01, 0x41, 0x08, 0x01])), { maintenance: true, version: 0 });
  assert.throws(() => decodeState(Buffer.from([0x10])), /truncated/);
});

test('ServerState: version check, increment, persistence, nil no-op', () => {
  const dir = mkdtempSync(join(tmpdir(), 'state-'));
  try {
    const s = new ServerState(dir);
    assert.deepEqual(s.update(null), { maintenance: false, version: 0 });
    assert.throws(() => s.update({ maintenance: true, version: 3 }), /got 0, want 3/);
    assert.deepEqual(s.update({ maintenance: true, version: 0 }), { maintenance: true, version: 1 });
    assert.deepEqual([...readFileSync(join(dir, 'state.pb'))], [0x08, 0x01, 0x10, 0x01]);
    assert.deepEqual(new ServerState(dir).get(), { maintenance: true, version: 1 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
