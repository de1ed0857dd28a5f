// The whitelist guard's matching and grpc-js peer parsing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Guard } from '../../../core/security/guard.js';

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
