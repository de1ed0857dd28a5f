// Outbound HTTP to other volume servers (replication, proxied reads, chunk fetches). With
// `[https.client] enabled` every such request goes over https with the configured CA and client
// certificate, whatever scheme the address carried (weed/util/http/client NewHttpClient,
// NormalizeHttpScheme); otherwise plain http exactly as before. Process-wide, like Go's global
// HTTP client; plugins use these helpers instead of fetch/http.request.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import http, { type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import https from 'node:https';
import type { HttpsClientMaterial } from './settings.js';

let agent: https.Agent | undefined;

/** Switches outbound requests to https with `m`, or back to plain http when undefined. */
export function configurePeerHttp(m: HttpsClientMaterial | undefined): void {
  if (!m) {
    agent = undefined;
    return;
  }
  // Each new agent carries the current client certificate; pooled sockets of the previous one
  // finish their requests and are not reused.
  agent = new https.Agent({
    keepAlive: true,
    maxSockets: 1024,
    ca: m.ca,
    cert: m.pair?.cert,
    key: m.pair?.key,
    rejectUnauthorized: !m.insecureSkipVerify,
  });
}

export function peerScheme(): 'http' | 'https' {
  return agent ? 'https' : 'http';
}

/** `host:port/path` or a URL with any scheme → a URL with the scheme peers are dialed with. */
export function peerUrl(address: string): string {
  const rest = address.startsWith('http://') ? address.slice(7) : address.startsWith('https://') ? address.slice(8) : address;
  return `${peerScheme()}://${rest}`;
}

/** node's http.request for a peer; the scheme of `options` is replaced by the peer scheme. */
export function peerRequest(options: RequestOptions, callback: (res: IncomingMessage) => void): ClientRequest {
  if (!agent) return http.request({ ...options, protocol: 'http:' }, callback);
  return https.request({ ...options, protocol: 'https:', agent }, callback);
}

/** A URL's hostname without the brackets of an IPv6 literal, as http.request wants it. */
function bare(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** GET of a peer URL (scheme normalised). */
export function peerGet(url: string, options: RequestOptions, callback: (res: IncomingMessage) => void): ClientRequest {
  const u = new URL(peerUrl(url));
  const req = peerRequest(
    { ...options, method: 'GET', hostname: bare(u.hostname), port: u.port, path: u.pathname + u.search },
    callback,
  );
  req.end();
  return req;
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** fetch() for a peer URL: the global fetch over http, node's https client (with the agent) over https. */
export async function peerFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const target = peerUrl(url);
  if (!agent) return fetch(target, init);
  const u = new URL(target);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = peerRequest(
      { method: init.method ?? 'GET', hostname: bare(u.hostname), port: u.port, path: u.pathname + u.search, headers, signal: init.signal ?? undefined },
      resolve,
    );
    req.on('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
    const body = init.body as Buffer | string | AsyncIterable<Uint8Array> | null | undefined;
    if (body === undefined || body === null) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else pipeline(Readable.from(body), req).catch((err: unknown) => req.destroy(err as Error));
  });
  const out = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  const status = res.statusCode ?? 502;
  if (NULL_BODY_STATUS.has(status)) {
    res.resume();
    return new Response(null, { status, headers: out });
  }
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, headers: out });
}
