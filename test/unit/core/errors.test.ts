// The one error catalog (core/errors.ts) and its HTTP/gRPC mapping.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { toGrpcStatus, toHttpStatus, VolumeServerError, vsError, ERROR_CATALOG } from '../../../core/errors.js';

test('error catalog maps to HTTP and gRPC in one place', () => {
  const e = vsError('VS_ERR_MAINTENANCE_MODE', '127.0.0.1:8080');
  assert.ok(e instanceof VolumeServerError);
  assert.equal(e.message, 'volume server 127.0.0.1:8080 is in maintenance mode');
  assert.equal(toGrpcStatus(e), status.UNKNOWN);
  assert.equal(toGrpcStatus(vsError('VS_ERR_PING_UNKNOWN_TARGET', 'a', 'b')), status.INVALID_ARGUMENT);
  assert.equal(toGrpcStatus(vsError('VS_ERR_FAMILY_DISABLED', 'X', 'ec')), status.UNIMPLEMENTED);
  assert.equal(toHttpStatus(Object.assign(new Error('x'), { code: 'NEEDLE_NOT_FOUND' })), 404);
  assert.equal(toHttpStatus(new Error('boom')), 500);
  assert.equal(vsError('VS_ERR_STATE_VERSION_MISMATCH', 1, 2).message, 'version mismatch for VolumeServerState (got 1, want 2)');
  for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
    assert.ok(spec.http >= 400 && spec.http < 600, code);
    assert.match(code, /^VS_ERR_[A-Z_]+$/);
  }
});
