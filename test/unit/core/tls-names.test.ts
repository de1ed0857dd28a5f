// The peer-name rules of weed/security/tls.go (matchesWildcardDomain, Authenticator) and the
// security.toml TLS sections' validation, without sockets.
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { test } from 'node:test';
import { ConfigError } from '../../../config/errors.js';
import { securityFromTable } from '../../../config/security.js';
import { allowList, clientAllowed, isDomainName, matchesWildcardDomain, serverRefusal } from '../../../core/tls/names.js';
import { protocolOptions } from '../../../core/tls/protocol.js';
import { loadTlsMaterial } from '../../../core/tls/settings.js';

test('wildcard domains match real subdomains only', () => {
  assert.equal(matchesWildcardDomain('vs1.example.com', '.example.com'), true);
  assert.equal(matchesWildcardDomain('vs1.example.com', 'example.com'), true);
  assert.equal(matchesWildcardDomain('vs1.example.com.', '.example.com'), true);
  assert.equal(matchesWildcardDomain('*.example.com', '.example.com'), true);
  assert.equal(matchesWildcardDomain('.example.com', '.example.com'), false);
  assert.equal(matchesWildcardDomain('badexample.com', 'example.com'), false);
  assert.equal(matchesWildcardDomain('example.com', 'example.com'), false);
  assert.equal(matchesWildcardDomain('a b.example.com', '.example.com'), false);
  assert.equal(matchesWildcardDomain('anything', ''), false);
  assert.equal(isDomainName('10.0.0.1'), false);
  assert.equal(isDomainName('-a.example.com'), false);
});

test('client CNs are checked against names and the wildcard domain; servers also by DNS and URI names', () => {
  const allow = allowList(['master', 'spiffe://cluster/vs'], '.example.com')!;
  const cert = (cn: string, san = '') => ({ subject: { CN: cn }, subjectaltname: san }) as unknown as PeerCertificate;
  assert.equal(clientAllowed(cert('master'), allow), true);
  assert.equal(clientAllowed(cert('vs2.example.com'), allow), true);
  assert.equal(clientAllowed(cert('intruder'), allow), false);
  assert.equal(clientAllowed(undefined, allow), false);
  assert.equal(serverRefusal(cert('x', 'DNS:vs9.example.com, IP Address:127.0.0.1'), allow), undefined);
  assert.equal(serverRefusal(cert('x', 'URI:spiffe://cluster/vs'), allow), undefined);
  assert.deepEqual(serverRefusal(cert('x', 'DNS:other.org, URI:spiffe://cluster/vs.example.com'), allow), [
    'x',
    'other.org',
    'spiffe://cluster/vs.example.com',
  ]);
  assert.equal(allowList([], ''), undefined);
});

test('[tls] versions and Go cipher suite names map to node options; unknown names are refused', () => {
  assert.deepEqual(protocolOptions({ minVersion: '', maxVersion: '', cipherSuites: '' }), {});
  const o = protocolOptions({ minVersion: 'TLS 1.2', maxVersion: 'TLS 1.3', cipherSuites: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' });
  assert.equal(o.minVersion, 'TLSv1.2');
  assert.equal(o.maxVersion, 'TLSv1.3');
  assert.match(o.ciphers!, /^ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256/);
  assert.throws(() => protocolOptions({ minVersion: 'TLS 9', maxVersion: '', cipherSuites: '' }), ConfigError);
  assert.throws(() => protocolOptions({ minVersion: '', maxVersion: '', cipherSuites: 'NOPE' }), /invalid tls cipher suite name NOPE/);
});

test('half-filled TLS sections are refused, no sections mean no TLS', () => {
  const load = (t: Record<string, unknown>) => loadTlsMaterial(securityFromTable(t, {}, 'x.toml'));
  const none = load({});
  assert.equal(none.https, undefined);
  assert.equal(none.grpcServer, undefined);
  assert.equal(none.grpcClient, undefined);
  assert.equal(none.httpsClient, undefined);
  assert.throws(() => load({ https: { volume: { cert: '/c.crt' } } }), /https\.volume\.cert and https\.volume\.key must both be set/);
  assert.throws(() => load({ https: { volume: { ca: '/ca.crt' } } }), /https\.volume\.ca is set/);
  assert.throws(() => load({ grpc: { volume: { cert: '/a', key: '/b' } } }), /grpc\.ca is not/);
  assert.throws(() => load({ grpc: { volume: { client_cert: '/a' } } }), /client_cert and grpc\.volume\.client_key/);
  assert.throws(() => load({ grpc: { ca: '/nonexistent/ca.crt', volume: { cert: '/nonexistent/a', key: '/nonexistent/b' } } }), /cannot read/);
});

test('security.toml TLS keys are read case-insensitively with their Go fallbacks', () => {
  const s = securityFromTable(
    {
      grpc: { allowed_wildcard_domain: '.example.com', allowed_server_commonnames: 'm1,m2', volume: { allowed_commonnames: 'a, b' } },
      https: { client: { enabled: true, insecure_skip_verify: 'true' } },
      tls: { min_version: 'TLS 1.2' },
    },
    { WEED_GRPC_VOLUME_ALLOWED_SERVER_WILDCARD_DOMAIN: '.env.example' },
    'x.toml',
  );
  assert.deepEqual(s.grpcAuth, {
    allowedCommonNames: ['a', 'b'],
    allowedWildcardDomain: '.example.com',
    allowedServerCommonNames: ['m1', 'm2'],
    allowedServerWildcardDomain: '.env.example',
  });
  assert.deepEqual(s.httpsClient, { enabled: true, cert: '', key: '', ca: '', insecureSkipVerify: true });
  assert.equal(s.tls.minVersion, 'TLS 1.2');
});
