// The peer-address guard of RPCs that dial a host named in the request (VolumeCopy,
// VolumeTailReceiver, VolumeEcShardsCopy): Go's validateReplicaTarget (weed/server/
// volume_grpc_copy.go). Shared by every family that dials such a peer, so it lives in core.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

function quote(s: string): string {
  return JSON.stringify(s);
}


const IMDS_HOSTS = new Set(['metadata.google.internal', 'metadata']);

/** Go's net.IP classification of an address for the peer guard (undefined = allowed). */
function blockedKind(ip: string, fam: 4 | 6): string | undefined {
  if (fam === 4) {
    const b = ip.split('.').map(Number);
    if (ip === '169.254.169.254') return 'instance metadata service';
    if (b[0] === 127) return 'loopback address';
    if (b.every((x) => x === 0)) return 'unspecified address';
    if (b[0] === 169 && b[1] === 254) return 'link-local address';
    if (b[0] === 224 && b[1] === 0 && b[2] === 0) return 'link-local address';
    return undefined;
  }
  const b = ipv6Bytes(ip);
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback address';
  if (b.every((x) => x === 0)) return 'unspecified address';
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'link-local address';
  if (b[0] === 0xff && (b[1] & 0x0f) === 0x02) return 'link-local address';
  if (b[0] === 0xff && (b[1] & 0x0f) === 0x01) return 'interface-local address';
  return undefined;
}

/** The 16 bytes of an IPv6 address (a valid one, as isIP() said). */
export function ipv6Bytes(ip: string): number[] {
  let s = ip;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail = s.slice(lastColon + 1).split('.').map(Number);
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const hs = head ? head.split(':') : [];
  const rs = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const fill = rest === undefined ? 0 : 8 - hs.length - rs.length;
  const groups = [...hs, ...Array(fill).fill('0'), ...rs].map((g) => parseInt(g || '0', 16));
  const out: number[] = [];
  for (const g of groups) out.push((g >> 8) & 0xff, g & 0xff);
  if (tail.length === 4) out.splice(12, 4, ...tail);
  return out;
}

/** The IPv4 address an IPv6 transition address carries (mapped, NAT64, 6to4, Teredo, compat). */
function embeddedIpv4(ip: string): string | undefined {
  const b = ipv6Bytes(ip);
  const v4 = (x: number[]) => x.join('.');
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4(b.slice(12, 16));
  if (b[0] === 0x20 && b[1] === 0x02) return v4(b.slice(2, 6));
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return v4(b.slice(12, 16).map((x) => x ^ 0xff));
  if (zero(0, 12) && !zero(12, 16) && !(zero(12, 15) && b[15] <= 1)) return v4(b.slice(12, 16));
  return undefined;
}

function checkBlockedIp(target: string, address: string): void {
  let ip = address;
  let fam = isIP(ip);
  if (fam !== 4 && fam !== 6) return;
  if (fam === 6) {
    // an IPv4-mapped address is that IPv4 address (Go's To4)
    const b = ipv6Bytes(ip);
    if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
      ip = b.slice(12, 16).join('.');
      fam = 4;
    }
  }
  const kind = blockedKind(ip, fam === 4 ? 4 : 6);
  if (kind === 'instance metadata service') throw new Error(`remote endpoint ${quote(target)} targets instance metadata service ${ip}`);
  if (kind) throw new Error(`remote endpoint ${quote(target)} resolves to ${kind} ${ip}`);
  if (fam === 6) {
    const inner = embeddedIpv4(ip);
    if (inner) checkBlockedIp(target, inner);
  }
}

/** Go's net.SplitHostPort (the port text is not interpreted). */
function splitHostPort(target: string): { host: string; port: string } {
  const missing = () => new Error(`address ${target}: missing port in address`);
  const colon = target.lastIndexOf(':');
  if (colon < 0) throw missing();
  let host: string;
  if (target.startsWith('[')) {
    const end = target.indexOf(']');
    if (end < 0) throw new Error(`address ${target}: missing ']' in address`);
    if (end + 1 === target.length) throw missing();
    if (end + 1 !== colon) throw new Error(`address ${target}: too many colons in address`);
    host = target.slice(1, end);
  } else {
    host = target.slice(0, colon);
    if (host.includes(':')) throw new Error(`address ${target}: too many colons in address`);
  }
  return { host, port: target.slice(colon + 1) };
}

/**
 * Go's validateReplicaTarget: a peer address from a request must be a bare `host:port` whose host
 * is not loopback, link-local (IMDS), unspecified or an IMDS name; private ranges are allowed
 * (cluster peers live there). Throws an Error with Go's text.
 */
export async function validateReplicaTarget(target: string): Promise<void> {
  if (target.trim() === '') throw new Error('replica target is empty');
  if (target.includes('://') || /[/?#@\\]/.test(target)) {
    throw new Error(`replica target ${quote(target)} must be a bare host:port`);
  }
  let host: string;
  try {
    host = splitHostPort(target).host;
  } catch (e) {
    throw new Error(`replica target ${quote(target)} must be a bare host:port: ${(e as Error).message}`, { cause: e });
  }
  if (host === '') throw new Error(`replica target ${quote(target)} has no host`);
  if (IMDS_HOSTS.has(host.toLowerCase())) throw new Error(`replica target ${quote(target)} targets instance metadata service`);
  if (isIP(host)) {
    checkBlockedIp(target, host);
    return;
  }
  let addrs: { address: string }[];
  try {
    addrs = await Promise.race([
      lookup(host, { all: true }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('i/o timeout')), 2000).unref()),
    ]);
  } catch (e) {
    throw new Error(`resolve replica target host ${quote(host)}: ${(e as Error).message}`, { cause: e });
  }
  for (const a of addrs) checkBlockedIp(target, a.address);
}

