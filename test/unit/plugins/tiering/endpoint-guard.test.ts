// The SSRF guard of FetchAndWriteNeedle's remote endpoints (Go's validateRemoteEndpoint and
// checkBlockedIPPolicy): which addresses are refused, with Go's texts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBlockedIp, guardedLookup, validateRemoteEndpoint, validateReplicaTarget } from '../../../../plugins/tiering/remote/endpoint-guard.js';

test('loopback, unspecified, link-local, metadata, private and CGNAT addresses are refused', () => {
  const cases: [string, RegExp][] = [
    ['127.0.0.1', /resolves to loopback address 127\.0\.0\.1/],
    ['127.8.9.10', /loopback/],
    ['::1', /loopback/],
    ['0.0.0.0', /unspecified/],
    ['::', /unspecified/],
    ['169.254.169.254', /targets instance metadata service 169\.254\.169\.254/],
    ['169.254.1.1', /link-local address/],
    ['fe80::1', /link-local address/],
    ['ff02::1', /link-local address/],
    ['ff01::1', /interface-local address/],
    ['10.1.2.3', /private address/],
    ['172.16.0.1', /private address/],
    ['192.168.1.1', /private address/],
    ['fd00::1', /private address/],
    ['100.64.0.1', /CGNAT address/],
    ['::ffff:127.0.0.1', /loopback address 127\.0\.0\.1/],
    ['64:ff9b::a9fe:a9fe', /instance metadata service 169\.254\.169\.254/],
    ['2002:7f00:1::', /loopback address 127\.0\.0\.1/],
  ];
  for (const [ip, re] of cases) assert.throws(() => checkBlockedIp('http://x', ip), re, ip);
});

test('public addresses pass; private ones pass when allowed (replica peers)', () => {
  for (const ip of ['8.8.8.8', '2001:4860:4860::8888', '1.1.1.1']) checkBlockedIp('http://x', ip);
  checkBlockedIp('peer:8080', '10.0.0.5', true);
  checkBlockedIp('peer:8080', '100.64.1.1', true);
  assert.throws(() => checkBlockedIp('peer:8080', '127.0.0.1', true), /loopback/);
});

test('endpoint validation: scheme, host, metadata names, literal addresses', async () => {
  await assert.rejects(validateRemoteEndpoint(''), /remote endpoint is empty/);
  await assert.rejects(validateRemoteEndpoint('ftp://example.com'), /must use http or https, got "ftp"/);
  await assert.rejects(validateRemoteEndpoint('http://metadata.google.internal/'), /targets instance metadata service/);
  await assert.rejects(validateRemoteEndpoint('http://127.0.0.1:8333'), /remote endpoint "http:\/\/127\.0\.0\.1:8333" resolves to loopback address 127\.0\.0\.1/);
  await assert.rejects(validateRemoteEndpoint('http://[::1]:8333'), /loopback/);
  await assert.rejects(validateRemoteEndpoint('http://localhost:8333'), /loopback/);
  await validateRemoteEndpoint('https://8.8.8.8');
});

test('the connect-time lookup refuses a name that resolves to a blocked address', async () => {
  const lookup = guardedLookup('http://localhost:1');
  const err = await new Promise<Error | null>((resolve) => lookup('localhost', {}, (e) => resolve(e)));
  assert.match(String(err?.message), /loopback/);
});

test('replica targets must be a bare host:port off loopback and metadata; private peers are fine', async () => {
  await assert.rejects(validateReplicaTarget(' '), /replica target is empty/);
  await assert.rejects(validateReplicaTarget('http://10.0.0.1:8080'), /must be a bare host:port$/);
  await assert.rejects(validateReplicaTarget('10.0.0.1:8080/x'), /must be a bare host:port$/);
  await assert.rejects(validateReplicaTarget('user@10.0.0.1:8080'), /must be a bare host:port$/);
  await assert.rejects(validateReplicaTarget('10.0.0.1'), /missing port in address/);
  await assert.rejects(validateReplicaTarget(':8080'), /has no host/);
  await assert.rejects(validateReplicaTarget('metadata:80'), /targets instance metadata service/);
  await assert.rejects(validateReplicaTarget('127.0.0.1:8080'), /loopback address 127\.0\.0\.1/);
  await assert.rejects(validateReplicaTarget('[::1]:8080'), /loopback/);
  await assert.rejects(validateReplicaTarget('169.254.169.254:80'), /instance metadata service/);
  await assert.rejects(validateReplicaTarget('localhost:8080'), /loopback/);
  await validateReplicaTarget('10.0.0.1:8080');
  await validateReplicaTarget('[fd00::1]:8080');
});
