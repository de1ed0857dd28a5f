// A raw HTTP client for tests: no automatic decompression, bodies as Buffers.
import { request, type IncomingMessage } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function rawRequest(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function multipartBody(fileName: string, mime: string, data: Buffer): { body: Buffer; contentType: string } {
  const boundary = `----tsweed${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: ${mime}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, data, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * Sends `chunks` as the body with backpressure (no Content-Length header means chunked) and
 * resolves once the answer is in and the whole body was written (a server may answer early), or
 * once the answer is in and the server closed the connection before taking the rest (as it does
 * after refusing a large body: the write then fails, the answer stands).
 */
export function sendStream(url: string, method: string, headers: Record<string, string>, chunks: Iterable<Buffer>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers });
    let answer: RawResponse | undefined;
    let response: IncomingMessage | undefined;
    let bodySent = false;
    const settle = () => {
      if (answer && bodySent) resolve(answer);
    };
    req.on('finish', () => {
      bodySent = true;
      settle();
    });
    req.on('response', (res) => {
      response = res;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        answer = { status: res.statusCode ?? 0, body: Buffer.concat(parts), headers: res.headers };
        settle();
      });
    });
    // A server that answered and closed without taking the whole body: the answer stands.
    req.on('close', () => {
      if (answer) resolve(answer);
    });
    req.on('error', (err) => {
      if (answer) return resolve(answer);
      if (!response || response.complete) return reject(err);
      // The answer's head is in: wait for its end, which the closing server sent before closing.
      response.once('end', () => (answer ? resolve(answer) : reject(err)));
      response.once('close', () => (answer ? resolve(answer) : reject(err)));
    });
    const it = chunks[Symbol.iterator]();
    const pump = () => {
      for (;;) {
        if (req.destroyed) return;
        const n = it.next();
        if (n.done) return void req.end();
        if (!req.write(n.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

export interface FreshRequestOptions {
  headers?: Record<string, string>;
  /** One buffer: sent with its Content-Length (unless `headers` sets one). Several: sent chunked. */
  body?: Buffer | Buffer[];
  /** Waits this long before each body piece after the first (a slow client). */
  pieceDelayMs?: number;
  /** Sends `Expect: 100-continue` and the body only once the server said 100 Continue. */
  expectContinue?: boolean;
  /** The client address to connect from (any 127.x.y.z is loopback on Linux). */
  localAddress?: string;
}

/**
 * One request on a connection of its own (no agent, `Connection: close`): on a server whose port
 * several threads listen on, each request is a new connection the kernel may give to any of them.
 * Resolves with the answer even when the server answered early and closed before taking the body.
 */
export function freshRequest(method: string, url: string, opts: FreshRequestOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    const pieces = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
    if (!Array.isArray(opts.body) && opts.body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) {
      headers['Content-Length'] = String(opts.body.length);
    }
    if (opts.expectContinue) headers.Expect = '100-continue';
    const req = request(url, { method, headers, agent: false, localAddress: opts.localAddress });
    let answer: RawResponse | undefined;
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        answer = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
        resolve(answer);
      });
      res.on('error', (e) => (answer ? undefined : reject(e)));
    });
    req.on('error', (e) => (answer ? undefined : reject(e)));
    const sendBody = async () => {
      for (let i = 0; i < pieces.length; i++) {
        if (answer || req.destroyed) return;
        if (i > 0 && opts.pieceDelayMs) await new Promise((r) => setTimeout(r, opts.pieceDelayMs));
        if (!req.write(pieces[i])) await new Promise((r) => req.once('drain', r));
      }
      if (!req.destroyed) req.end();
    };
    if (opts.expectContinue) req.on('continue', () => void sendBody());
    else if (pieces.length === 0) req.end();
    else void sendBody();
    if (opts.expectContinue) req.flushHeaders();
  });
}
