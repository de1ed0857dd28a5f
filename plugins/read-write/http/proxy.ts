// Reads of volumes this server does not hold (Go's weed/server/volume_server_handlers_read.go
// GetOrHeadHandler) and the download-limit replica fallback (weed/server/volume_server_handlers.go
// tryProxyToReplica): look the volume up on the master, pick another server, then either relay the
// request there (readMode proxy) or redirect the client (any other mode), as Go's
// proxyReqToTargetServer does.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import type { VolumeLocation } from '../../../core/master/master-client.js';
import { peerRequest, peerUrl } from '../../../core/tls/peer-http.js';

// ------------------------------------------------------------------ Go's url.Values encoding

const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-_.~]/.test(ch)) UNRESERVED[c] = 1;
}
const HEX = '0123456789ABCDEF';

/** Go's url.QueryEscape over a byte string (space → '+'). */
export function queryEscape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    if (c < 128 && UNRESERVED[c]) out += s[i];
    else if (c === 32) out += '+';
    else out += '%' + HEX[c >> 4] + HEX[c & 15];
  }
  return out;
}

function unhex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Go's url.QueryUnescape to a byte string; undefined on a bad escape. */
function queryUnescape(s: string): string | undefined {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '+') out += ' ';
    else if (ch === '%') {
      const a = unhex(s.charCodeAt(i + 1));
      const b = unhex(s.charCodeAt(i + 2));
      if (a < 0 || b < 0) return undefined;
      out += String.fromCharCode(a * 16 + b);
      i += 2;
    } else out += ch;
  }
  return out;
}

/** Go's url.ParseQuery (pairs with bad escapes or a ';' are dropped) as ordered key → values. */
export function parseGoQuery(raw: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const part of raw.split('&')) {
    if (part === '' || part.includes(';')) continue;
    const eq = part.indexOf('=');
    const k = queryUnescape(eq >= 0 ? part.slice(0, eq) : part);
    const v = queryUnescape(eq >= 0 ? part.slice(eq + 1) : '');
    if (k === undefined || v === undefined) continue;
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  }
  return m;
}

/** Go's url.Values.Encode: keys sorted, values in order. */
export function encodeGoQuery(m: Map<string, string[]>): string {
  const parts: string[] = [];
  for (const k of [...m.keys()].sort()) {
    const ek = queryEscape(k);
    for (const v of m.get(k)!) parts.push(ek + '=' + queryEscape(v));
  }
  return parts.join('&');
}

// ------------------------------------------------------------------ target selection

const HOP_BY_HOP = ['connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization'];

/** Header names (lower-cased) not to relay: the hop-by-hop set plus those named by Connection. */
function hopByHop(connection: string | string[] | undefined, extra: string[]): Set<string> {
  const drop = new Set<string>([...HOP_BY_HOP, ...extra]);
  const values = connection === undefined ? [] : Array.isArray(connection) ? connection : [connection];
  for (const v of values) {
    for (const token of v.split(',')) {
      const t = token.trim().toLowerCase();
      if (t) drop.add(t);
    }
  }
  return drop;
}

function shuffled<T>(list: T[]): T[] {
  const out = list.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Go's util_http.NormalizeUrl: the peer scheme (https with [https.client] enabled, else http). */
function normalizeUrl(u: string): string {
  return peerUrl(u);
}

/** True for errors that mean the master could not be asked (as opposed to "volume not found"). */
function isTransportError(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' || (e as Error | undefined)?.message === 'no master connected';
}

type Lookup = { kind: 'ok'; target: URL } | { kind: 'status'; status: number };

async function pickTarget(cradle: Cradle, vid: number): Promise<Lookup> {
  const { config, masterClient } = cradle;
  let locations: VolumeLocation[];
  try {
    locations = await masterClient.lookupVolume(vid);
  } catch (e) {
    if (config.readMode === 'proxy' && isTransportError(e)) return { kind: 'status', status: 500 };
    return { kind: 'status', status: 404 };
  }
  if (!locations || locations.length === 0) return { kind: 'status', status: 404 };
  const self = `${config.ip}:${config.port}`;
  for (const loc of locations.length >= 2 ? shuffled(locations) : locations) {
    if (!loc.url.includes(self)) {
      try {
        return { kind: 'ok', target: new URL(normalizeUrl(loc.url)) };
      } catch {
        return { kind: 'status', status: 404 };
      }
    }
  }
  return { kind: 'status', status: 404 };
}

// ------------------------------------------------------------------ proxy / redirect

function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&#34;' : '&#39;'));
}

/**
 * Serves a read for volume `vid` from another server: 301 redirect (readMode ≠ proxy) or a relayed
 * request. `vidText`/`fidText` are the URL's vid and fid (the redirect target is `/<vid>,<fid>`).
 */
export async function proxyOrRedirect(
  cradle: Cradle,
  request: FastifyRequest,
  reply: FastifyReply,
  vid: number,
  vidText: string,
  fidText: string,
): Promise<FastifyReply> {
  const picked = await pickTarget(cradle, vid);
  if (picked.kind === 'status') return reply.code(picked.status).send();
  const target = picked.target;
  const url = request.url;
  const q = url.indexOf('?');
  const rawQuery = q >= 0 ? url.slice(q + 1) : '';

  if (cradle.config.readMode !== 'proxy') {
    const args = new Map<string, string[]>();
    const collection = parseGoQuery(rawQuery).get('collection')?.[0];
    if (collection) args.set('collection', [collection]);
    args.set('proxied', ['true']);
    const basePath = target.pathname === '/' ? '' : target.pathname;
    const location = `${target.protocol}//${target.host}${basePath}/${vidText},${fidText}?${encodeGoQuery(args)}`;
    reply.code(301).header('Location', location);
    if (request.method === 'GET' || request.method === 'HEAD') reply.header('Content-Type', 'text/html; charset=utf-8');
    if (request.method === 'GET') return reply.send(`<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n`);
    return reply.send();
  }

  const query = parseGoQuery(rawQuery);
  query.set('proxied', ['true']);
  const path = (q >= 0 ? url.slice(0, q) : url) + '?' + encodeGoQuery(query);
  const drop = hopByHop(request.headers.connection, ['host', 'content-length', 'transfer-encoding']);
  const headers: OutgoingHttpHeaders = {};
  const raw = request.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if (drop.has(k.toLowerCase())) continue;
    const prev = headers[k];
    if (prev === undefined) headers[k] = raw[i + 1];
    else headers[k] = Array.isArray(prev) ? [...prev, raw[i + 1]] : [String(prev), raw[i + 1]];
  }

  reply.hijack();
  const res = reply.raw;
  const own = reply.getHeaders();
  return new Promise<FastifyReply>((resolve) => {
    let finished = false;
    const done = () => {
      if (!finished) {
        finished = true;
        resolve(reply);
      }
    };
    const upstream = peerRequest(
      { hostname: target.hostname, port: target.port, method: request.method, path, headers },
      (up) => {
        const out: string[] = [];
        for (const [k, v] of Object.entries(own)) {
          if (v === undefined) continue;
          if (Array.isArray(v)) for (const x of v) out.push(k, String(x));
          else out.push(k, String(v));
        }
        const respDrop = hopByHop((up.headers as IncomingHttpHeaders).connection, ['server', 'transfer-encoding']);
        const rh = up.rawHeaders;
        for (let i = 0; i < rh.length; i += 2) {
          if (respDrop.has(rh[i].toLowerCase())) continue;
          out.push(rh[i], rh[i + 1]);
        }
        try {
          res.writeHead(up.statusCode ?? 502, out);
        } catch {
          up.destroy();
          res.destroy();
          done();
          return;
        }
        up.pipe(res);
        up.on('error', () => res.destroy());
        res.on('close', () => {
          if (!up.complete) up.destroy();
          done();
        });
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) {
        const out: string[] = [];
        for (const [k, v] of Object.entries(own)) if (v !== undefined) out.push(k, String(v));
        out.push('Content-Length', '0');
        if (!res.destroyed) res.writeHead(500, out).end();
      } else {
        res.destroy();
      }
      done();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      done();
    });
    upstream.end();
  });
}
