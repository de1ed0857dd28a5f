// Replicated writes and deletes (Go's weed/topology/store_replicate.go ReplicatedWrite and
// ReplicatedDelete). The server
// that receives a client request finds the other replicas from the master, writes locally and
// forwards the request with `type=replicate` in parallel; the first replica failure fails the
// request (local data is not rolled back).
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Socket } from 'node:net';
import type { Cradle } from '../../../core/container.js';
import type { VolumeLocation } from '../../../core/master/master-client.js';
import { goJsonStringify } from '../../../core/http/json.js';
import type { Ttl } from '../../../core/storage/types.js';
import { peerFetch, peerUrl } from '../../../core/tls/peer-http.js';

/** The address the master lists this server under. */
export function selfUrl(cradle: Cradle): string {
  const { ip, port } = cradle.config;
  return ip.includes(':') && !ip.startsWith('[') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function isTransportError(e: unknown): boolean {
  return typeof (e as { code?: unknown })?.code === 'number' || /no master|not connected|ECONN|timed? ?out/i.test(String((e as Error)?.message));
}

/**
 * Go's getRemoteReplications: the other replicas of a volume. Empty when the local volume has a
 * single copy. The master is asked every time (no cached answer: a replica that went down or
 * read-only must stop counting at once). Only locations that take the operation count: for a
 * write, those not read-only; for a delete, those not read-only or read-only but deletable. Throws
 * Go's texts on a failed lookup or when fewer locations count than the local volume's copy count,
 * before anything is written locally.
 */
export async function remoteReplicas(cradle: Cradle, vid: number, forWrite: boolean): Promise<VolumeLocation[]> {
  const v = cradle.store.findVolume(vid);
  if (v && v.replicaPlacement.copyCount() === 1) return [];
  let locations: VolumeLocation[];
  try {
    locations = await cradle.masterClient.lookupVolume(vid, false);
  } catch (e) {
    if (isTransportError(e)) throw new Error(`replicating lookup failed for ${vid}: ${(e as Error).message}`, { cause: e });
    locations = []; // the master answered, but knows no location
  }
  const takes = (l: VolumeLocation) => (forWrite ? !l.read_only : !l.read_only || !!l.read_only_can_delete);
  const usable = locations.filter(takes);
  const self = selfUrl(cradle);
  const remote = usable.filter((l) => l.url !== self);
  if (v) {
    const copies = v.replicaPlacement.copyCount();
    if (usable.length < copies) {
      cradle.masterClient.invalidateLookup(vid);
      const label = forWrite ? 'writable replication' : 'replication';
      throw new Error(`${label} locations [${usable.length}] is less than volume ${vid} replication copy count [${copies}]`);
    }
  }
  return remote;
}

/** Go's DistributedOperation: all in parallel, the first failure wins; `[url]: error`. */
async function distributed(locations: VolumeLocation[], op: (l: VolumeLocation) => Promise<void>): Promise<void> {
  if (locations.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    let pending = locations.length;
    for (const l of locations) {
      op(l).then(
        () => {
          if (--pending === 0) resolve();
        },
        (e: unknown) => reject(new Error(`[${l.url}]: ${(e as Error).message ?? String(e)}`)),
      );
    }
  });
}

// ------------------------------------------------------------------ multipart body

function needsQuoting(v: string): boolean {
  return v === '' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v);
}

/** Go's mime.FormatMediaType for a form-data disposition: params sorted, quoted or RFC 2231 encoded. */
export function formatDisposition(params: Record<string, string>): string {
  let out = 'form-data';
  for (const key of Object.keys(params).sort()) {
    const value = params[key];
    out += '; ';
    if (/[\u0080-\uffff]/.test(value)) {
      let enc = '';
      for (const b of Buffer.from(value, 'utf8')) {
        const c = String.fromCharCode(b);
        enc += /[!#$&+\-.^_`|~0-9A-Za-z]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
      }
      out += `${key}*=utf-8''${enc}`;
    } else if (needsQuoting(value)) {
      out += `${key}="${value.replace(/(["\\])/g, '\\$1')}"`;
    } else {
      out += `${key}=${value}`;
    }
  }
  return out;
}

export interface ReplicaWrite {
  /** Percent-decoded request path, as Go's r.URL.Path. */
  path: string;
  data: Uint8Array;
  /** When set, the data is this file's content (a spooled large upload), streamed; `data` is unused. */
  file?: { path: string; size: number };
  name: string;
  mime: string;
  isCompressed: boolean;
  isChunkManifest: boolean;
  lastModified: number;
  ttl: Ttl;
  fsync: boolean;
  /** Pairs as stored (keys without the Seaweed- prefix). */
  pairs: Record<string, string>;
  jwt: string;
  contentMd5: string;
  requestId: string;
}

function encodePath(p: string): string {
  return p
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%2C/gi, ','))
    .join('/');
}

function uploadUrl(location: VolumeLocation, w: ReplicaWrite): string {
  const q: [string, string][] = [];
  if (w.isChunkManifest) q.push(['cm', 'true']);
  if (w.fsync) q.push(['fsync', 'true']);
  if (w.lastModified > 0) q.push(['ts', String(w.lastModified)]);
  q.push(['ttl', w.ttl.toString()]);
  q.push(['type', 'replicate']);
  const query = q.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return peerUrl(`${location.url}${encodePath(w.path)}?${query}`);
}

async function postReplica(location: VolumeLocation, w: ReplicaWrite): Promise<void> {
  const url = uploadUrl(location, w);
  const boundary = randomBytes(30).toString('hex');
  let head = `--${boundary}\r\n`;
  head += `Content-Disposition: ${formatDisposition({ name: 'file', filename: w.name })}\r\n`;
  head += `Idempotency-Key: ${url}\r\n`;
  if (w.mime) head += `Content-Type: ${w.mime}\r\n`;
  if (w.isCompressed) head += 'Content-Encoding: gzip\r\n';
  if (w.contentMd5) head += `Content-Md5: ${w.contentMd5}\r\n`;
  head += '\r\n';
  const headBytes = Buffer.from(head, 'utf8');
  const tailBytes = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  const dataLength = w.file ? w.file.size : w.data.length;
  const headers: Record<string, string> = { 'Content-Type': `multipart/form-data; boundary=${boundary}` };
  let body: Buffer | AsyncIterable<Uint8Array>;
  if (w.file) {
    // streamed from the spool file with the request's backpressure; the length is known up front
    body = fileBody(headBytes, w.file.path, tailBytes);
    headers['Content-Length'] = String(headBytes.length + w.file.size + tailBytes.length);
  } else {
    body = Buffer.concat([headBytes, w.data, tailBytes]);
  }
  for (const [k, v] of Object.entries(w.pairs)) headers[`Seaweed-${k}`] = v;
  if (w.jwt) headers.Authorization = `Bearer ${w.jwt}`;
  if (w.requestId) headers['X-Amz-Request-Id'] = w.requestId;
  const timeoutMs = 10_000 + Math.floor((dataLength * 1000) / (1 << 20));
  let resp: Response;
  try {
    const init = { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs), ...(w.file ? { duplex: 'half' } : {}) };
    resp = await peerFetch(url, init as RequestInit);
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new Error(`upload ${w.name} ${dataLength} bytes to ${url}: ${cause ?? (e as Error).message}`, { cause: e });
  }
  if (resp.status === 204) {
    await resp.arrayBuffer().catch(() => undefined);
    return;
  }
  const text = await resp.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`unmarshal ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (parsed !== null && typeof parsed !== 'object') throw new Error(`unmarshal ${url}: cannot unmarshal into UploadResult`);
  let error = parsed && typeof (parsed as { error?: unknown }).error === 'string' ? (parsed as { error: string }).error : '';
  if (resp.status === 409 && !error) error = 'Conflict';
  if (error) throw new Error(`unmarshalled error ${url}: ${error}`);
}

/** A multipart body: `head`, the content of the file at `path`, `tail`. */
async function* fileBody(head: Buffer, path: string, tail: Buffer): AsyncGenerator<Uint8Array> {
  yield head;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) yield chunk as Buffer;
  yield tail;
}

/**
 * Runs `op` with the idle timeout of the client's connection off. The client is waiting for our
 * answer, not idle: Go's -idleTimeout only cuts a pending read or write (weed/util/net_timeout.go),
 * so Go answers once a slow replica's own timeout ends (30 s for a delete, as long as the idle
 * timeout), where node would drop the connection without an answer. `op` is bounded by its own
 * timeouts.
 */
async function whileClientWaits<T>(client: Socket | undefined, op: () => Promise<T>): Promise<T> {
  const idleMs = client?.timeout ?? 0;
  if (client && idleMs > 0) client.setTimeout(0);
  try {
    return await op();
  } finally {
    if (client && idleMs > 0 && !client.destroyed) client.setTimeout(idleMs);
  }
}

/** Forwards a write to the replicas; rejects with Go's `failed to write to replicas …` text. */
export async function replicateWrite(vid: number, locations: VolumeLocation[], w: ReplicaWrite, client?: Socket): Promise<void> {
  try {
    await whileClientWaits(client, () => distributed(locations, (l) => postReplica(l, w)));
  } catch (e) {
    throw new Error(`failed to write to replicas for volume ${vid}: ${(e as Error).message}`, { cause: e });
  }
}

async function deleteReplica(location: VolumeLocation, path: string, jwt: string): Promise<void> {
  const url = peerUrl(`${location.url}${encodePath(path)}?type=replicate`);
  const headers: Record<string, string> = {};
  if (jwt) headers.Authorization = `BEARER ${jwt}`;
  const resp = await peerFetch(url, { method: 'DELETE', headers, signal: AbortSignal.timeout(30_000) }).catch((e: unknown) => {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new Error(`Delete ${url}: ${cause ?? (e as Error).message}`, { cause: e });
  });
  const text = await resp.text();
  if ([200, 202, 204, 404].includes(resp.status)) return;
  try {
    const m = JSON.parse(text) as { error?: unknown };
    if (m && typeof m.error === 'string') throw new Error(m.error);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  throw new Error(text);
}

/** Forwards a delete to the replicas (not cancelled by the client going away). */
export async function replicateDelete(locations: VolumeLocation[], path: string, jwt: string, client?: Socket): Promise<void> {
  await whileClientWaits(client, () => distributed(locations, (l) => deleteReplica(l, path, jwt)));
}

/** Pairs JSON as Go's json.Marshal(map[string]string) writes it: sorted keys, HTML-escaped. */
export function pairsJson(pairs: Map<string, string>): string {
  const sorted: Record<string, string> = {};
  for (const k of [...pairs.keys()].sort()) sorted[k] = pairs.get(k)!;
  return goJsonStringify(sorted, false).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
