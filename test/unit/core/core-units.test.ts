import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { PLUGIN_FAMILIES } from '../../../config/types.js';
import { toGrpcStatus, toHttpStatus, VolumeServerError, vsError, ERROR_CATALOG } from '../../../core/errors.js';
import { volumeServerService } from '../../../core/grpc/proto-loader.js';
import { goJsonStringify } from '../../../core/http/json.js';
import { newRequestId } from '../../../core/http/request-id.js';
import { grpcAddressOfLocation, parseServerAddress, toGrpcAddress, toHttpAddress } from '../../../core/master/server-address.js';
import { CORE_RPCS, FAMILY_RPCS, rpcOwner } from '../../../core/plugins/families.js';
import { checkPluginRpcs, checkPluginShape, PluginLoadError } from '../../../core/plugins/registry.js';
import { Guard } from '../../../core/security/guard.js';
import { decodeState, encodeState, ServerState } from '../../../core/server-state.js';
import { parseUrlPath } from '../../../plugins/read-write/http/url-path.js';

test('every VolumeServer RPC has exactly one owner and the owners cover all 49', () => {
  const rpcs = Object.keys(volumeServerService());
  assert.equal(rpcs.length, 49);
  for (const rpc of rpcs) assert.notEqual(rpcOwner(rpc), undefined, rpc);
  const owned = [...CORE_RPCS, ...Object.values(FAMILY_RPCS).flat()];
  assert.equal(owned.length, 49);
  assert.equal(new Set(owned).size, 49);
  assert.deepEqual([...owned].sort(), [...rpcs].sort());
});

test('plugin shape and RPC ownership checks reject broken plugins', () => {
  assert.throws(() => checkPluginShape('ec', null), PluginLoadError);
  assert.throws(() => checkPluginShape('ec', { name: 'tiering' }), /expected "ec"/);
  assert.throws(() => checkPluginShape('ec', { name: 'ec', http: 5 }), /http must be a function/);
  assert.equal(checkPluginShape('ec', { name: 'ec' }).name, 'ec');
  assert.throws(() => checkPluginRpcs('ec', { BatchDelete: async () => ({}) }), /does not own/);
  assert.throws(() => checkPluginRpcs('ec', { VolumeEcShardsInfo: 1 }), /not a function/);
  checkPluginRpcs('read-write', { BatchDelete: async () => ({}) });
  for (const f of PLUGIN_FAMILIES) assert.ok(FAMILY_RPCS[f].length > 0, f);
});

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

test('guard: empty list allows all; IPs and CIDRs; peer parsing', () => {
  assert.ok(new Guard([]).isWhiteListed('10.1.2.3'));
  const g = new Guard(['127.0.0.1', '10.0.0.0/8', ' ', 'garbage', '::1']);
  assert.ok(g.isWhiteListed('127.0.0.1'));
  assert.ok(g.isWhiteListed('10.200.1.1'));
  assert.ok(g.isWhiteListed('::ffff:127.0.0.1'));
  assert.ok(g.isWhiteListed('::1'));
  assert.ok(!g.isWhiteListed('192.168.1.1'));
  assert.equal(Guard.hostOfPeer('ipv4:127.0.0.1:5555'), '127.0.0.1');
  assert.equal(Guard.hostOfPeer('[::1]:5555'), '::1');
  assert.throws(() => g.checkPeer('192.168.1.1:4000'), /not authorized: 192\.168\.1\.1/);
  g.checkPeer('10.0.0.9:4000');
});

test('server addresses: http/grpc forms and the .grpcPort suffix', () => {
  assert.deepEqual(parseServerAddress('127.0.0.1:9333'), { host: '127.0.0.1', port: 9333, grpcPort: 19333 });
  assert.deepEqual(parseServerAddress('m:9333.29999'), { host: 'm', port: 9333, grpcPort: 29999 });
  assert.equal(parseServerAddress('nope'), undefined);
  assert.equal(parseServerAddress('h:99999'), undefined);
  assert.equal(toHttpAddress('m:9333.29999'), 'm:9333');
  assert.equal(toGrpcAddress('[::1]:9333'), '[::1]:19333');
  assert.equal(grpcAddressOfLocation('1.2.3.4:8080', 0), '1.2.3.4:18080');
  assert.equal(grpcAddressOfLocation('1.2.3.4:8080', 9000), '1.2.3.4:9000');
});

test('Go-style JSON: escapes <>& and indents only when asked', () => {
  assert.equal(goJsonStringify({ a: '<b>&' }, false), '{"a":"\\u003cb\\u003e\\u0026"}');
  assert.equal(goJsonStringify({ a: 1 }, true), '{\n  "a": 1\n}');
});

test('request ids look like Go ones: uppercase hex, at least 16 chars, unique', () => {
  const a = newRequestId();
  const b = newRequestId();
  assert.match(a, /^[0-9A-F]{20,}$/);
  assert.notEqual(a, b);
});

test('URL path shapes (Go: weed/server/common.go parseURLPath)', () => {
  assert.deepEqual(parseUrlPath('/3/01637037d6/cat.jpg'), { vid: '3', fid: '01637037d6', filename: 'cat.jpg', ext: '.jpg', volumeIdOnly: false });
  assert.deepEqual(parseUrlPath('/3/01637037d6.jpg'), { vid: '3', fid: '01637037d6', filename: '', ext: '.jpg', volumeIdOnly: false });
  assert.deepEqual(parseUrlPath('/3,01637037d6.jpg'), { vid: '3', fid: '01637037d6', filename: '', ext: '.jpg', volumeIdOnly: false });
  assert.deepEqual(parseUrlPath('/3,01637037d6_2'), { vid: '3', fid: '01637037d6_2', filename: '', ext: '', volumeIdOnly: false });
  assert.deepEqual(parseUrlPath('/metrics'), { vid: 'metrics', fid: '', filename: '', ext: '', volumeIdOnly: true });
  assert.equal(parseUrlPath('/a/b/c/d').vid, '');
});
