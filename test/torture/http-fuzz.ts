// Property-based and random-byte fuzzing of the HTTP API. fast-check generates requests (methods,
// paths, fids, query flags, headers, ranges, multipart and gzip bodies, JWTs of every kind) and raw
// byte streams sent straight to the socket; each answer is classified by the rule in README
// "Torture": a 5xx is allowed only when its text says the server's own storage is at fault, and no
// answer may carry the text of an unhandled JavaScript exception.
import { request } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { FUZZ_VIDS, REF_VID, writeJwt } from './target.js';
import { BROKEN_MANIFEST, GO_PARITY_5XX, JS_BUG, STORAGE_FAULT, pool, type Violation } from './invariants.js';

export interface HttpCase {
  kind: 'http';
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}
export interface RawCase {
  kind: 'raw';
  bytes: Buffer;
}
export type FuzzCase = HttpCase | RawCase;

const hex = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFxg'), minLength: min, maxLength: max });
const pct = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);

// Volume ids: the fuzz volumes, unknown and malformed ones; never the reference volume.
const vidText = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...FUZZ_VIDS.map(String)) },
  { weight: 1, arbitrary: fc.constantFrom('0', '4242', '4294967295', '4294967296', '-1', '99999999999999999999', '', 'x', '1.5', ' 1') },
  { weight: 1, arbitrary: fc.nat().filter((n) => n !== REF_VID).map(String) },
);
const keyCookie = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 1, max: 400 }), fc.constantFrom('0badf00d', '12345678', 'deadbeef')).map(([k, c]) => `${k.toString(16)}${c}`) },
  { weight: 2, arbitrary: hex(0, 40) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map(pct) },
);
const fidPath = fc
  .tuple(vidText, fc.constantFrom(',', '/', ',', ',,'), keyCookie, fc.option(fc.constantFrom('_1', '_0', '_99', '_x', '_-1')), fc.option(fc.constantFrom('.jpg', '.png', '.txt', '.gz', '/name.bin', '/a/b/c.webp', '/%00', '/..%2f..%2fetc')))
  // `/vid,fid/name` is a 400 in Go too (two slashes split as /vid/fid): use `/vid/fid/name` mostly
  .map(([v, sep, kc, delta, ext]) => `/${v}${ext?.startsWith('/') && sep === ',' ? '/' : sep}${kc}${delta ?? ''}${ext ?? ''}`);
const adminPath = fc.constantFrom(
  '/status', '/healthz', '/metrics', '/stats/counter', '/stats/memory', '/stats/disk', '/ui/index.html', '/favicon.ico',
  '/seaweedfsstatic/seaweed50x50.png', '/seaweedfsstatic/../../etc/passwd', '/', '//', '/status?pretty=y', '/vol/vacuum/check',
);
const randomPath = fc.oneof(
  fc.string({ maxLength: 60 }).map((s) => `/${pct(s)}`),
  fc.uint8Array({ maxLength: 40 }).map((b) => `/${[...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')}`),
);
const queryKeys = ['jwt', 'cm', 'ts', 'ttl', 'replication', 'collection', 'type', 'width', 'height', 'mode', 'crop_x1', 'crop_y1', 'crop_x2', 'crop_y2', 'dl', 'readDeleted', 'fsync', 'name', 'offset', 'size', 'dataCenter', 'rack', 'pretty', 'callback', 'resize'];
const queryValue = fc.oneof(fc.constantFrom('', 'true', 'false', '1', '0', '-1', '3m', '1d', '000', '001', 'fill', 'fit', 'replicate', '1e309', '99999999999', 'NaN'), fc.string({ maxLength: 12 }));
const query = fc.array(fc.tuple(fc.constantFrom(...queryKeys), queryValue), { maxLength: 4 }).map((kv) => (kv.length ? `?${kv.map(([k, v]) => `${k}=${pct(v)}`).join('&')}` : ''));

const rangeHeader = fc.oneof(
  fc.tuple(fc.option(fc.nat({ max: 400_000 })), fc.option(fc.nat({ max: 400_000 }))).map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
  fc.array(fc.tuple(fc.nat({ max: 10_000 }), fc.nat({ max: 10_000 })), { minLength: 1, maxLength: 6 }).map((rs) => `bytes=${rs.map(([a, b]) => `${a}-${b}`).join(',')}`),
  fc.constantFrom('bytes=-0', 'bytes=0-', 'bytes=-99999999999999999999', 'bytes=5-1', 'bytes=', 'items=0-1', 'bytes=1-2,', 'bytes=--1', 'bytes= 0 - 1 '),
  fc.string({ maxLength: 30 }),
);
const dateHeader = fc.oneof(fc.constantFrom('Mon, 30 Nov 2026 00:00:00 GMT', 'Thu, 01 Jan 1970 00:00:00 GMT', 'not a date', ''), fc.string({ maxLength: 30 }));

type JwtFor = (fid: string) => string;
const jwtKind = fc.constantFrom<JwtFor>(
  (fid) => writeJwt(fid),
  (fid) => writeJwt(fid),
  () => writeJwt('1,1'),
  () => 'a.b.c',
  () => '',
  () => 'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJmaWQiOiIxLDEifQ.',
  (fid) => writeJwt(fid).slice(0, -3),
  (fid) => Buffer.from(writeJwt(fid)).reverse().toString(),
  () => 'x'.repeat(10_000),
);

const multipart = fc
  .tuple(fc.uint8Array({ maxLength: 20_000 }), fc.string({ maxLength: 30 }), fc.constantFrom('text/plain', 'image/jpeg', 'application/octet-stream', '', 'x/\r\ny'), fc.nat({ max: 5 }))
  .map(([data, name, mime, mode]) => {
    const boundary = 'fuzzb0undary';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n${mime ? `Content-Type: ${mime}\r\n` : ''}\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    let body = Buffer.concat([head, Buffer.from(data), tail]);
    // 0,1: well-formed; 2: truncated; 3: no closing boundary; 4: headers only; 5: boundary mismatch
    if (mode === 2) body = body.subarray(0, Math.floor(body.length / 2));
    if (mode === 3) body = Buffer.concat([head, Buffer.from(data)]);
    if (mode === 4) body = head;
    const ct = mode === 5 ? 'multipart/form-data; boundary=other' : `multipart/form-data; boundary=${boundary}`;
    return { body, ct };
  });
const bodyArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 8_000 }).map((b) => ({ body: Buffer.from(b), ct: 'application/octet-stream' })) },
  { weight: 1, arbitrary: fc.nat({ max: 1_500_000 }).map((n) => ({ body: Buffer.alloc(n, n & 0xff), ct: 'application/octet-stream' })) },
  { weight: 3, arbitrary: multipart },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4_000 }).map((b) => ({ body: gzipSync(Buffer.from(b)), ct: 'text/plain', gzip: true })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((b) => ({ body: Buffer.from(b), ct: 'text/plain', gzip: true })) },
);

const wildCase: fc.Arbitrary<HttpCase> = fc
  .record({
    method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'GET', 'POST') }, { weight: 1, arbitrary: fc.constantFrom('OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'FOO') }),
    path: fc.oneof({ weight: 8, arbitrary: fidPath }, { weight: 1, arbitrary: adminPath }, { weight: 1, arbitrary: randomPath }),
    query,
    jwt: fc.option(fc.tuple(jwtKind, fc.constantFrom('bearer', 'query', 'cookie'))),
    range: fc.option(rangeHeader, { freq: 3 }),
    ims: fc.option(dateHeader, { freq: 5 }),
    inm: fc.option(fc.constantFrom('"abc"', '*', 'W/"x"', ''), { freq: 6 }),
    ae: fc.option(fc.constantFrom('gzip', 'br, gzip', 'identity', '*', 'gzip;q=0'), { freq: 3 }),
    extra: fc.array(fc.tuple(fc.constantFrom('Seaweed-Foo', 'Content-MD5', 'X-Forwarded-For', 'Content-Disposition', 'Accept', 'If-Match', 'Expect', 'Transfer-Encoding'), fc.string({ maxLength: 20 }).filter((v) => /^[\x20-\x7e]*$/.test(v))), { maxLength: 2 }),
    body: bodyArb,
  })
  .map((r) => {
    const headers: Record<string, string> = {};
    let path = r.path + r.query;
    const fidClaim = r.path.slice(1).replace('/', ',').split(/[/.]/)[0];
    if (r.jwt) {
      const token = r.jwt[0](fidClaim);
      if (r.jwt[1] === 'bearer') headers.Authorization = `Bearer ${token}`;
      else if (r.jwt[1] === 'cookie') headers.Cookie = `AT=${token}`;
      else path += `${path.includes('?') ? '&' : '?'}jwt=${pct(token)}`;
    }
    if (r.range !== null) headers.Range = r.range;
    if (r.ims !== null) headers['If-Modified-Since'] = r.ims;
    if (r.inm !== null) headers['If-None-Match'] = r.inm;
    if (r.ae !== null) headers['Accept-Encoding'] = r.ae;
    for (const [k, v] of r.extra) if (k !== 'Transfer-Encoding' && k !== 'Expect') headers[k] = v;
    let body: Buffer | undefined;
    if (r.body && r.method !== 'GET' && r.method !== 'HEAD') {
      body = r.body.body;
      headers['Content-Type'] = r.body.ct;
      if ('gzip' in r.body) headers['Content-Encoding'] = 'gzip';
    }
    // Node's client refuses raw spaces and control bytes in a path: send them percent-encoded.
    path = path.replace(/[^\x21-\x7e]/g, (ch) => pct(ch));
    return { kind: 'http' as const, method: r.method, path, headers, body };
  });

// A gzip body that inflates to 32 MiB: stored as sent, it must never be inflated into memory whole.
let bomb: Buffer | undefined;
const gzipBomb = () => (bomb ??= gzipSync(Buffer.alloc(32 * 1024 * 1024)));

// Chunk manifests naming fids of the fuzz volumes (itself included: a read must not loop).
const manifest = fc
  .array(fc.tuple(fc.constantFrom(...FUZZ_VIDS), fc.integer({ min: 1, max: 300 }), fc.nat({ max: 50_000 }), fc.nat({ max: 50_000 })), { minLength: 1, maxLength: 5 })
  .map((chunks) => {
    const list = chunks.map(([v, k, off, size]) => ({ fid: `${v},${k.toString(16)}0badf00d`, offset: off, size }));
    const size = list.reduce((n, c) => Math.max(n, c.offset + c.size), 0);
    return { body: Buffer.from(JSON.stringify({ name: 'm.bin', mime: 'application/octet-stream', size, chunks: list })), ct: 'application/json', cm: true };
  });

// Well-formed requests on the fuzz volumes (valid fid, token, range, body), so that the cases reach
// the storage paths and not only the parsers; the wild ones mix every malformation.
const tameCase: fc.Arbitrary<HttpCase> = fc
  .record({
    method: fc.constantFrom('GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'DELETE'),
    vid: fc.constantFrom(...FUZZ_VIDS),
    key: fc.integer({ min: 1, max: 300 }),
    cookie: fc.constantFrom('0badf00d', '0badf00d', '12345678'),
    form: fc.constantFrom('comma', 'comma', 'slash', '.txt', '.jpg', '.png', '.webp'),
    q: fc.option(fc.constantFrom('?ts=1700000000', '?cm=false', '?ttl=3m', '?readDeleted=true', '?dl=true', '?width=20&height=20', '?width=3000&height=1&mode=fill', '?crop_x1=1&crop_y1=1&crop_x2=5&crop_y2=5', '?fsync=true', '?name=x.txt'), { freq: 3 }),
    range: fc.option(
      fc.oneof(
        fc.tuple(fc.nat({ max: 30_000 }), fc.nat({ max: 30_000 })).map(([a, b]) => `bytes=${Math.min(a, b)}-${Math.max(a, b)}`),
        fc.nat({ max: 2000 }).map((n) => `bytes=${Array.from({ length: n + 2 }, (_, i) => `${i}-${i}`).join(',')}`),
      ),
      { freq: 3 },
    ),
    gzipAccepted: fc.boolean(),
    body: fc.option(
      fc.oneof(
        { weight: 6, arbitrary: fc.uint8Array({ maxLength: 30_000 }).map((b) => ({ body: Buffer.from(b), ct: 'application/octet-stream' })) },
        { weight: 3, arbitrary: multipart },
        { weight: 1, arbitrary: manifest },
        { weight: 1, arbitrary: fc.constant(0).map(() => ({ body: gzipBomb(), ct: 'text/plain', gzip: true })) },
      ),
      { nil: undefined },
    ),
  })
  .map((r) => {
    const kc = `${r.key.toString(16)}${r.cookie}`;
    const path = r.form === 'slash' ? `/${r.vid}/${kc}/f.bin` : r.form === 'comma' ? `/${r.vid},${kc}` : `/${r.vid},${kc}${r.form}`;
    const headers: Record<string, string> = { Authorization: `Bearer ${writeJwt(`${r.vid},${kc}`)}` };
    if (r.range) headers.Range = r.range;
    if (r.gzipAccepted) headers['Accept-Encoding'] = 'gzip';
    let body: Buffer | undefined;
    let q = r.q ?? '';
    if ((r.method === 'POST' || r.method === 'PUT') && r.body) {
      body = r.body.body;
      headers['Content-Type'] = r.body.ct;
      if ('gzip' in r.body) headers['Content-Encoding'] = 'gzip';
      if ('cm' in r.body) q = '?cm=true';
    }
    return { kind: 'http' as const, method: r.method, path: path + q, headers, body };
  });

export const httpCase: fc.Arbitrary<HttpCase> = fc.oneof(tameCase, wildCase);

// Raw bytes on the socket: pure noise, and valid request lines with noise after them.
export const rawCase: fc.Arbitrary<RawCase> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 2_000 }).map((b) => ({ kind: 'raw' as const, bytes: Buffer.from(b) })),
  fc
    .tuple(fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'), fidPath, fc.uint8Array({ maxLength: 600 }), fc.constantFrom('', 'Content-Length: 5\r\n', 'Content-Length: -1\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 99999999999999999999\r\n'))
    .map(([m, p, noise, h]) => ({ kind: 'raw' as const, bytes: Buffer.concat([Buffer.from(`${m} ${p} HTTP/1.1\r\nHost: x\r\n${h}`), Buffer.from(noise), Buffer.from('\r\n\r\n')]) })),
);

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof({ weight: 9, arbitrary: httpCase }, { weight: 1, arbitrary: rawCase });

const ANSWER_BOUND_MS = 15_000;

interface Answer {
  status: number;
  body: string;
}

function send(base: URL, c: HttpCase): Promise<Answer | 'reset' | 'timeout' | 'unsendable'> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: Answer | 'reset' | 'timeout' | 'unsendable') => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve(a);
      }
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish('timeout');
    }, ANSWER_BOUND_MS);
    const headers = { ...c.headers };
    if (c.body) headers['Content-Length'] = String(c.body.length);
    let req: ReturnType<typeof request>;
    try {
      req = request({ host: base.hostname, port: base.port, method: c.method, path: c.path, headers, agent: false });
    } catch {
      return finish('unsendable'); // refused by Node's client before anything went out
    }
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      let n = 0;
      res.on('data', (d: Buffer) => {
        if (n < 4096) parts.push(d);
        n += d.length;
      });
      res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8', 0, 4096) }));
      res.on('error', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
    });
    // The server may answer (413, 401…) and close before the whole body went out.
    req.on('error', () => finish('reset'));
    req.end(c.body);
  });
}

function sendRaw(base: URL, c: RawCase): Promise<Answer | 'reset' | 'timeout'> {
  return new Promise((resolve) => {
    const sock = connect(Number(base.port), base.hostname);
    const parts: Buffer[] = [];
    let settled = false;
    const finish = (a: Answer | 'reset' | 'timeout') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(a);
    };
    // Half-open sockets are the client's business: after the bound we just close ours.
    const timer = setTimeout(() => {
      const text = Buffer.concat(parts).toString('latin1');
      finish(text ? { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), body: text.slice(0, 2000) } : 'timeout');
    }, 2_000);
    sock.on('data', (d) => parts.push(d));
    sock.on('error', () => finish('reset'));
    sock.on('close', () => {
      const text = Buffer.concat(parts).toString('latin1');
      finish(text ? { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), body: text.slice(0, 2000) } : 'reset');
    });
    sock.end(c.bytes);
  });
}

export function describeCase(c: FuzzCase): string {
  if (c.kind === 'raw') return `raw ${JSON.stringify(c.bytes.toString('latin1').slice(0, 120))}`;
  return `${c.method} ${c.path.slice(0, 160)} ${JSON.stringify(c.headers).slice(0, 300)} body=${c.body?.length ?? 0}`;
}

export interface HttpStats {
  cases: number;
  byStatus: Record<string, number>;
  /** 5xx answers allowed (storage at fault, or Go parity), by text (for the report). */
  storageFaults: Record<string, number>;
}

/** Sends the cases (4 at a time) and returns the violations of the answer rule. */
export async function runHttpCases(url: string, cases: FuzzCase[], stats: HttpStats): Promise<Violation[]> {
  const base = new URL(url);
  const out: Violation[] = [];
  await pool(cases, 4, async (c) => {
    let a = c.kind === 'raw' ? await sendRaw(base, c) : await send(base, c);
    // A HEAD answer has no text: judge a 5xx by the text of the same request as GET.
    if (c.kind === 'http' && c.method === 'HEAD' && typeof a !== 'string' && a.status >= 500) {
      const g = await send(base, { ...c, method: 'GET' });
      if (typeof g !== 'string' && g.status === a.status) a = g;
    }
    stats.cases++;
    const key = typeof a === 'string' ? a : String(a.status);
    stats.byStatus[key] = (stats.byStatus[key] ?? 0) + 1;
    // A raw stream that never forms a request may legitimately get no answer (the parser waits).
    if (a === 'timeout' && c.kind === 'http') out.push({ kind: 'http-hang', detail: `no answer within ${ANSWER_BOUND_MS} ms: ${describeCase(c)}` });
    if (typeof a === 'string') return;
    const allowed5xx = STORAGE_FAULT.test(a.body) || GO_PARITY_5XX.test(a.body) || BROKEN_MANIFEST.test(a.body);
    if (a.status >= 500 && allowed5xx) {
      const k = `${a.status} ${a.body.slice(0, 100).replace(/[0-9a-f]{6,}/g, 'N')}`;
      stats.storageFaults[k] = (stats.storageFaults[k] ?? 0) + 1;
    }
    if (a.status >= 500 && !allowed5xx) out.push({ kind: 'http-5xx', detail: `${a.status} ${a.body.slice(0, 300)} ← ${describeCase(c)}` });
    else if (a.status >= 400 && JS_BUG.test(a.body)) out.push({ kind: 'http-js-error', detail: `${a.status} ${a.body.slice(0, 300)} ← ${describeCase(c)}` });
  });
  return out;
}
