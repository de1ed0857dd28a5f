// Shared bits of the tail-sync handlers: Go's access checks, the untrusted-name guards CopyFile and
// ReceiveFile apply before a request turns into a path, the peer-address guard of VolumeCopy and
// VolumeTailReceiver, outgoing clients to peer volume servers and stream writing with backpressure.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { Cradle } from '../../../core/container.js';
import { volumeServerClientConstructor } from '../../../core/grpc/proto-loader.js';
import type { Msg } from '../../../core/grpc/handler.js';
import { plain } from '../../../core/grpc/rpc-support.js';
export { checks, plain, send, type Checks } from '../../../core/grpc/rpc-support.js';
import { toGrpcAddress } from '../../../core/master/server-address.js';

/** Go's BufferSizeLimit: the chunk size of file and needle-body streams. */
export const BUFFER_SIZE_LIMIT = 2 * 1024 * 1024;

/** Go's math.MaxUint32: "skip the compaction revision check" in CopyFile. */
export const ANY_COMPACTION_REVISION = 0xffff_ffff;

export function messageOf(e: unknown): string {
  if (e && typeof e === 'object' && 'details' in e && typeof (e as { details: unknown }).details === 'string') {
    const d = (e as { details: string }).details;
    if (d) return d;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Go's os error text for a failed open: `open <path>: no such file or directory`. */
export function openErrorText(path: string, e: NodeJS.ErrnoException): string {
  const reason =
    e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
  return `open ${path}: ${reason}`;
}

/** Go's %q for the ASCII names these checks see (close enough for error texts). */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/** Volume id from a request field (uint32). */
export function volumeIdOf(raw: unknown): number {
  return Number(raw ?? 0) >>> 0;
}

/** A uint64 request field (decimal string from the loader) as a bigint. */
export function u64(raw: unknown): bigint {
  if (raw === undefined || raw === null || raw === '') return 0n;
  try {
    return BigInt(raw as string | number);
  } catch {
    return 0n;
  }
}

// ------------------------------------------------------------------ untrusted names

/**
 * Go's checkVolumeFileExtension: a file extension from a request becomes part of a path, so it must
 * be a dot followed by ASCII letters and digits only (no separator, no `..`). Returns the error
 * text, or undefined when the extension is acceptable.
 */
export function fileExtensionError(ext: string): string | undefined {
  if (typeof ext !== 'string' || !/^\.[0-9A-Za-z]+$/.test(ext)) return `invalid file extension ${quote(String(ext))}`;
  return undefined;
}

// Go's checkVolumeCollection is core's one rule for collection names from the network.
export { collectionError } from '../../../core/security/names.js';

// ------------------------------------------------------------------ peer address guard

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
function ipv6Bytes(ip: string): number[] {
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

// ------------------------------------------------------------------ peers

/** A pooled client of the peer volume server at `address` (`host:port` or `host:port.grpcPort`). */
export function peerClient(cradle: Cradle, address: string): grpc.Client {
  const grpcAddress = toGrpcAddress(address);
  if (!grpcAddress) throw plain(`invalid volume server address ${quote(address)}`);
  return cradle.grpcClients.get(volumeServerClientConstructor(), grpcAddress);
}

/** Starts a server-streaming call on a peer client. */
export function openServerStream(client: grpc.Client, method: string, req: object): grpc.ClientReadableStream<Msg> {
  const fn = (client as unknown as Record<string, (r: object, o?: grpc.CallOptions) => grpc.ClientReadableStream<Msg>>)[method];
  const stream = fn.call(client, req, {});
  // A stream cancelled after its reader stopped listening still emits its CANCELLED status as an
  // 'error'; without a listener that would be an uncaught exception. Readers see errors through
  // their own listeners (for await).
  stream.on('error', () => undefined);
  return stream;
}

/** A unary call on a peer client; rejects with the peer's status error. */
export function callUnary<T = Msg>(client: grpc.Client, method: string, req: object, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method];
    fn.call(client, req, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) =>
      err ? reject(err) : resolve(res),
    );
  });
}

// ------------------------------------------------------------------ streams


/** Resolves after `ms`, or early when `call` is cancelled. */
export function sleepUnlessCancelled(call: { cancelled: boolean; once(ev: 'cancelled', fn: () => void): unknown; off(ev: 'cancelled', fn: () => void): unknown }, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (call.cancelled) {
      resolve();
      return;
    }
    const onCancel = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      call.off('cancelled', onCancel);
      resolve();
    }, ms);
    call.once('cancelled', onCancel);
  });
}

/** Go's types.ToDiskType: '' and 'hdd' are the hard-drive type (''), others lower-cased. */
export function toDiskType(s: string): string {
  const v = (s ?? '').toLowerCase();
  return v === 'hdd' ? '' : v;
}

/** Go's DiskType.ReadableString. */
export function readableDiskType(t: string): string {
  return t === '' ? 'hdd' : t;
}
