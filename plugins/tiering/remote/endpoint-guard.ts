// The SSRF guard on caller-supplied remote endpoints (Go: weed/server/volume_grpc_remote.go
// validateRemoteEndpoint, checkBlockedIPPolicy, embeddedTransitionIPv4). A FetchAndWriteNeedle
// request names the S3 endpoint the server dials, so unless -volume.allowUntrustedRemoteEndpoints is
// set the endpoint must not reach loopback, link-local (instance metadata), unspecified, private or
// CGNAT addresses, and every connection re-checks the address it actually dials (DNS rebinding).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ipv6Bytes } from '../../../core/grpc/replica-target.js';

const IMDS_HOSTS = new Set(['metadata.google.internal', 'metadata']);
const IMDS_V4 = '169.254.169.254';

function list(entries: [string, number, 'ipv4' | 'ipv6'][]): BlockList {
  const b = new BlockList();
  for (const [net, prefix, fam] of entries) b.addSubnet(net, prefix, fam);
  return b;
}

// Go's net.IP predicates, as subnets.
const LOOPBACK = list([
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]);
const UNSPECIFIED = list([
  ['0.0.0.0', 32, 'ipv4'],
  ['::', 128, 'ipv6'],
]);
const LINK_LOCAL = list([
  ['169.254.0.0', 16, 'ipv4'],
  ['224.0.0.0', 24, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
]);
const PRIVATE = list([
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
]);
const CGNAT = list([['100.64.0.0', 10, 'ipv4']]);

/** Go's %q for the ASCII texts these checks see. */
function quote(s: string): string {
  return JSON.stringify(s);
}

/** The IPv4 address an IPv6 transition address carries (NAT64, 6to4, Teredo, IPv4-compatible). */
function embeddedIpv4(b: number[]): string | undefined {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return b.slice(12, 16).join('.');
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.');
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return b.slice(12, 16).map((x) => x ^ 0xff).join('.');
  if (zero(0, 12)) return b.slice(12, 16).join('.');
  return undefined;
}

/**
 * Throws Go's text when `address` (an IP literal) must not be dialed for `endpoint`. Private and
 * CGNAT ranges are refused too unless `allowPrivate`.
 */
export function checkBlockedIp(endpoint: string, address: string, allowPrivate = false): void {
  let ip = address.split('%')[0];
  let fam = isIP(ip);
  if (fam === 0) return;
  let inner: string | undefined;
  if (fam === 6) {
    const b = ipv6Bytes(ip);
    if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
      ip = b.slice(12, 16).join('.'); // IPv4-mapped is that IPv4 address (Go's To4)
      fam = 4;
    } else if (!(b.slice(0, 15).every((x) => x === 0) && b[15] <= 1)) {
      inner = embeddedIpv4(b);
    }
  }
  const type = fam === 4 ? 'ipv4' : 'ipv6';
  if (ip === IMDS_V4) throw new Error(`remote endpoint ${quote(endpoint)} targets instance metadata service ${ip}`);
  const refuse = (kind: string) => new Error(`remote endpoint ${quote(endpoint)} resolves to ${kind} ${ip}`);
  if (LOOPBACK.check(ip, type)) throw refuse('loopback address');
  if (UNSPECIFIED.check(ip, type)) throw refuse('unspecified address');
  if (LINK_LOCAL.check(ip, type)) throw refuse('link-local address');
  if (fam === 6) {
    const b = ipv6Bytes(ip);
    if (b[0] === 0xff && (b[1] & 0x0f) === 0x02) throw refuse('link-local address');
    if (b[0] === 0xff && (b[1] & 0x0f) === 0x01) throw refuse('interface-local address');
  }
  if (!allowPrivate) {
    if (PRIVATE.check(ip, type)) throw refuse('private address');
    if (CGNAT.check(ip, type)) throw refuse('CGNAT address');
  }
  if (inner) checkBlockedIp(endpoint, inner, allowPrivate);
}

/** Go's validateRemoteEndpoint: scheme, host, IMDS names, then every address the host resolves to. */
export async function validateRemoteEndpoint(endpoint: string): Promise<void> {
  if (endpoint.trim() === '') throw new Error('remote endpoint is empty');
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch (e) {
    throw new Error(`parse remote endpoint ${quote(endpoint)}: ${(e as Error).message}`, { cause: e });
  }
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    throw new Error(`remote endpoint ${quote(endpoint)} must use http or https, got ${quote(u.protocol.replace(/:$/, ''))}`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new Error(`remote endpoint ${quote(endpoint)} has no host`);
  if (IMDS_HOSTS.has(host.toLowerCase())) throw new Error(`remote endpoint ${quote(endpoint)} targets instance metadata service`);
  if (isIP(host)) {
    checkBlockedIp(endpoint, host);
    return;
  }
  let addrs: LookupAddress[];
  try {
    addrs = await withTimeout(lookup(host, { all: true }), 2000);
  } catch (e) {
    throw new Error(`resolve remote endpoint host ${quote(host)}: ${(e as Error).message}`, { cause: e });
  }
  for (const a of addrs) checkBlockedIp(endpoint, a.address);
}

// Go's validateReplicaTarget is core's one guard for peers named in a request.
export { validateReplicaTarget } from '../../../core/grpc/replica-target.js';

/** `p`, or an `i/o timeout` error after `ms` (Go resolves with a 2 s deadline). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error('i/o timeout')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/**
 * A socket `lookup` that refuses blocked addresses at connect time (Go's guardedDialerPolicy), so a
 * host that resolved to a public address when validated cannot rebind to an internal one later.
 */
export function guardedLookup(endpoint: string, allowPrivate = false): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as LookupAddress[];
      try {
        for (const a of list) checkBlockedIp(endpoint, a.address, allowPrivate);
      } catch (e) {
        return callback(e as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`lookup ${hostname}: no addresses`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
