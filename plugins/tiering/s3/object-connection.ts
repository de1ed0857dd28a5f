// One keep-alive HTTP/1.1 connection to an S3 endpoint that GETs ranges of an object straight into
// a file (Go: s3manager's Downloader copies each part's body into the file at its offset,
// weed/storage/backend/s3_backend/s3_download.go), or PUTs a range of a file as an object or a
// part of one (s3manager's Uploader reading parts from the file, s3_upload.go). A PUT body is read
// with synchronous reads into two buffers of this connection, one read while the other is on the
// socket, and sent unsigned (UNSIGNED-PAYLOAD): nothing hashes it, nothing is allocated per chunk.
// An answer is read into one reused staging buffer of this connection (net/tls `onread`): no buffer
// per chunk, no stream machinery, nothing for the garbage collector. A full buffer is written at its
// position with a synchronous write, as Go's copy loop does: handing each write to the thread pool
// cost more CPU in thread wake-ups, promises and garbage than the copy itself (s3-transfer.ts).
// The event loop that runs this is therefore blocked while a write lands in the page cache or a
// read comes from it: it is a transfer thread's own (transfer-thread.ts), never the server's. Only what these requests need is spoken: a 2xx body must be framed by
// Content-Length, an error answer is read (bounded) for S3's <Code> and <Message> and ends the
// connection.
import { once } from 'node:events';
import { readSync, writeSync } from 'node:fs';
import { connect as netConnect, isIP, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { signedHeaders, UNSIGNED_PAYLOAD, type SigningKeys } from './sigv4.js';
import { ShortBodyError } from './transfer-support.js';

const KiB = 1024;
/**
 * The staging buffer: the socket fills it, then it is written to the file. 256 KiB keeps the bytes
 * in the CPU cache between the socket read and the file write: 1 MiB stages cost about four times
 * the kernel CPU in the write (1.5 s per GiB against 0.4); smaller ones cost more callbacks.
 */
export const STAGE_SIZE = 256 * KiB;
/** Each of the two buffers a PUT body is read into. */
const SEND_CHUNK = 256 * KiB;
/** A response head longer than this is refused. */
const HEAD_LIMIT = 64 * KiB;
/** Bytes of an error answer's body kept for its code and message. */
const ERROR_BODY_LIMIT = 64 * KiB;
const CONNECT_TIMEOUT_MS = 10_000;
/** A response that sends nothing for this long is given up (the S3 client's requestTimeout). */
const IDLE_TIMEOUT_MS = 60_000;

/** Where the object is and how requests to it are signed. */
export interface ObjectTarget {
  /** The object's URL, its path already encoded. */
  url: URL;
  /** The SigV4 signing region. */
  region: string;
  /** Static keys; none: anonymous requests. */
  keys?: SigningKeys;
}

/** A range of a file sent as a PUT's body. */
export interface FileBody {
  fd: number;
  at: number;
  length: number;
  /** Bytes of the body handed to the socket (called after each chunk). */
  onSent(n: number): void;
}

/** One request: a ranged (or whole) GET whose 2xx body goes into a file, or a PUT of a file's bytes. */
export interface ObjectRequest {
  method: 'GET' | 'PUT';
  /** The query string after the object's path, already encoded (partNumber=…&uploadId=…). */
  query?: string;
  /** The Range header (bytes=a-b), or none for the whole object. */
  range?: string;
  /** More headers to send (and sign), lower-case names. */
  headers?: Record<string, string>;
  /** A PUT's body. */
  body?: FileBody;
  /**
   * Called with a 2xx answer's status, lower-cased headers and body length; returns the file
   * position the body goes to, or throws to refuse the answer.
   */
  place(status: number, headers: Map<string, string>, length: number): number;
  /** The descriptor a 2xx body is written to, with positioned synchronous writes; none: it is read and dropped. */
  fd?: number;
  /** Bytes of the body written to the file (called after each write). */
  onWritten?(n: number): void;
  /** An error that ends the transfer (the progress callback failed); checked before each write and each chunk sent. */
  stopped(): unknown;
  signal?: AbortSignal;
}

type State = 'idle' | 'head' | 'body' | 'error-body';

function writeFully(fd: number, buf: Buffer, n: number, at: number): void {
  for (let off = 0; off < n; ) off += writeSync(fd, buf, off, n - off, at + off);
}

/**
 * An S3 error answer, shaped as the S3 client's exceptions are ($fault, $metadata.httpStatusCode;
 * name: S3's <Code>) so retries and the error text treat both alike. Not the client's own class:
 * a transfer thread that only downloads does not load the client (~100 ms of CPU, 35 MiB).
 */
export class S3AnswerError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number };
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = code;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status };
  }
}

/** S3's error document: <Error><Code>…</Code><Message>…</Message></Error>. */
function s3Error(status: number, body: string): S3AnswerError {
  const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
  return new S3AnswerError(status, field('Code') || `HTTP${status}`, field('Message') || `the S3 server answered ${status}`);
}

export class ObjectConnection {
  private socket: Socket | undefined;
  private readonly stage = Buffer.allocUnsafeSlow(STAGE_SIZE);
  /** A PUT body's two read buffers, made at the first PUT. */
  private sendStages: Buffer[] | undefined;
  private fill = 0;
  /** Where in the stage node reads next: what was handed out at the end of the previous read. */
  private handed = 0;
  private state: State = 'idle';
  /** What the socket's events go to while a request is active. */
  private onRead: (n: number) => void = () => this.drop();
  private onClose: (err: Error | undefined) => void = () => undefined;
  private closeError: Error | undefined;
  /** False once the connection may not carry another request. */
  private reusable = true;

  constructor(private readonly target: ObjectTarget) {}

  /** Whether another request may go over this connection (a closed one opens a new socket). */
  get usable(): boolean {
    return this.state === 'idle';
  }

  private get open(): boolean {
    return this.socket !== undefined && !this.socket.destroyed && this.reusable;
  }

  close(): void {
    this.reusable = false;
    this.socket?.destroy();
  }

  /** Unexpected bytes or a connection not in a state to take them: it is not used again. */
  private drop(): void {
    this.reusable = false;
    this.socket?.destroy();
  }

  private async connect(signal: AbortSignal | undefined): Promise<Socket> {
    const { url } = this.target;
    const secure = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port) || (secure ? 443 : 80);
    const onread: OnReadOpts = {
      // after each read: the rest of the staging buffer (never empty: a full one is written
      // out before this is asked)
      buffer: () => {
        this.handed = this.fill;
        return this.stage.subarray(this.fill);
      },
      callback: (n: number) => {
        // node asks for the next buffer only after a read, so bytes that arrive after `fill`
        // was reset between requests land where the last read left off: move them into place
        const h = this.handed;
        if (h !== this.fill) {
          if (n > STAGE_SIZE - this.fill) {
            this.drop();
            return true;
          }
          this.stage.copyWithin(this.fill, h, h + n);
        }
        this.onRead(n);
        return true;
      },
    };
    // tls.connect takes `onread` as net.connect does (its typings lack it)
    const socket = secure
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'], onread } as ConnectionOptions & { onread: OnReadOpts })
      : netConnect({ host, port, onread });
    this.socket?.destroy();
    this.socket = socket;
    this.reusable = true;
    this.closeError = undefined;
    socket.on('error', (e) => {
      if (this.socket === socket) this.closeError ??= e;
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.reusable = false;
      this.onClose(this.closeError);
    });
    const timer = setTimeout(() => socket.destroy(new Error(`connect to ${url.host} timed out after ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    const abort = () => socket.destroy(signal?.reason as Error);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await once(socket, secure ? 'secureConnect' : 'connect');
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
    }
    socket.setNoDelay(true);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy(new Error(`the S3 server sent nothing for ${IDLE_TIMEOUT_MS / 1000} s`)));
    // flowing, so an end of the connection between requests is seen at once
    socket.resume();
    return socket;
  }

  /**
   * Sends the request (a PUT's body read from its file as the socket takes it) and writes a 2xx
   * answer's body into the file where `req.place` says; a body cut short throws ShortBodyError
   * after what came is written.
   */
  async request(req: ObjectRequest): Promise<void> {
    if (this.state !== 'idle') throw new Error('a request is already running on this connection');
    if (req.signal?.aborted) throw req.signal.reason;
    const socket = this.open ? this.socket! : await this.connect(req.signal);
    if (this.state !== 'idle') throw new Error('a request is already running on this connection');
    const { url, keys, region } = this.target;
    const query = [url.search.slice(1), req.query ?? ''].filter((q) => q !== '').join('&');
    const path = url.pathname + (query ? `?${query}` : '');
    const extra: Record<string, string> = { ...req.headers, ...(req.range ? { range: req.range } : {}) };
    if (req.method === 'PUT') extra['content-length'] = String(req.body?.length ?? 0);
    const payload = req.method === 'PUT' ? UNSIGNED_PAYLOAD : undefined;
    const headers = keys ? signedHeaders(req.method, url.host, path, extra, keys, region, 's3', new Date(), payload) : { host: url.host, ...extra };
    let head = `${req.method} ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    head += '\r\n';

    return new Promise<void>((resolve, reject) => {
      let status = 0;
      let remaining = 0;
      let pos = 0;
      let errorLength = -1;
      let failure: { e: unknown } | undefined;
      /** Every byte of the request's body is handed to the socket: a 2xx answer may come. */
      let bodyQueued = req.body === undefined;
      const stage = this.stage;

      const finish = () => {
        if (this.state === 'idle') return;
        req.signal?.removeEventListener('abort', abort);
        this.onRead = () => this.drop();
        this.onClose = () => undefined;
        if (failure) this.drop();
        else this.fill = 0;
        this.state = 'idle';
        if (failure) reject(failure.e);
        else resolve();
      };
      const fail = (e: unknown) => {
        failure ??= { e };
        this.reusable = false;
        socket.destroy();
        finish();
      };
      const abort = () => fail(req.signal?.reason);

      /** Writes the filled staging buffer at its position; false when that failed (the GET is over). */
      const submit = (): boolean => {
        const n = this.fill;
        const at = pos;
        pos += n;
        remaining -= n;
        this.fill = 0;
        try {
          const stop = req.stopped();
          if (stop !== undefined) throw stop;
          if (n > 0 && req.fd !== undefined) writeFully(req.fd, stage, n, at);
          req.onWritten?.(n);
          return true;
        } catch (e) {
          fail(e);
          return false;
        }
      };

      const errorDone = (): boolean => {
        const body = stage.subarray(0, this.fill);
        if (errorLength >= 0) return this.fill >= errorLength;
        // chunked: the last chunk's marker
        return body.indexOf('0\r\n\r\n', 0, 'latin1') === 0 || body.indexOf('\r\n0\r\n\r\n', 0, 'latin1') >= 0;
      };
      const endError = () => {
        const text = stage.toString('utf8', 0, Math.min(this.fill, ERROR_BODY_LIMIT));
        fail(s3Error(status, text));
      };

      const onHead = (end: number) => {
        const lines = stage.toString('latin1', 0, end).split('\r\n');
        const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
        if (!m) throw new Error(`not an HTTP/1.1 answer: ${JSON.stringify(lines[0].slice(0, 80))}`);
        status = Number(m[2]);
        const fields = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          const had = fields.get(name);
          fields.set(name, had === undefined ? value : `${had}, ${value}`);
        }
        if (m[1] === '0' || /\bclose\b/i.test(fields.get('connection') ?? '')) this.reusable = false;
        // the body's first bytes go to the front of the buffer
        stage.copyWithin(0, end + 4, this.fill);
        this.fill -= end + 4;
        const cl = fields.get('content-length');
        const length = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1;
        const chunked = fields.has('transfer-encoding');
        if (status < 200 || status >= 300) {
          this.state = 'error-body';
          errorLength = chunked ? -1 : length >= 0 ? length : -1;
          if (errorLength > ERROR_BODY_LIMIT) errorLength = ERROR_BODY_LIMIT;
          if (errorDone() || this.fill >= ERROR_BODY_LIMIT) endError();
          return;
        }
        if (chunked || length < 0) throw new Error(`the S3 server answered ${req.method} ${status} without a Content-Length`);
        if (!bodyQueued) throw new Error(`the S3 server answered ${status} before the request's body was sent`);
        pos = req.place(status, fields, length);
        remaining = length;
        this.state = 'body';
        onBody();
      };

      const onBody = () => {
        if (this.fill > remaining) {
          fail(new Error(`the S3 server sent more than the ${remaining} bytes of its Content-Length`));
        } else if (this.fill === remaining) {
          if (submit()) finish();
        } else if (this.fill === STAGE_SIZE) {
          submit();
        }
      };

      this.onRead = (n: number) => {
        this.fill += n;
        try {
          if (this.state === 'head') {
            const end = stage.subarray(0, this.fill).indexOf('\r\n\r\n', Math.max(0, this.fill - n - 3), 'latin1');
            if (end >= 0) onHead(end);
            else if (this.fill >= HEAD_LIMIT) throw new Error(`the S3 server's answer head exceeds ${HEAD_LIMIT} bytes`);
          } else if (this.state === 'body') {
            onBody();
          } else if (this.state === 'error-body') {
            if (errorDone() || this.fill >= ERROR_BODY_LIMIT) endError();
          } else {
            // bytes after the answer ended: a broken server
            this.fill -= n;
            fail(new Error('the S3 server sent bytes after its answer'));
          }
        } catch (e) {
          fail(e);
        }
      };
      this.onClose = (err) => {
        if (this.state === 'head') {
          fail(failure?.e ?? err ?? new Error('the S3 server closed the connection before answering'));
        } else if (this.state === 'error-body') {
          endError();
        } else if (this.state === 'body') {
          // what came is written (a failed write ends the GET with its own error), so a retry
          // resumes after it
          const cut = new ShortBodyError(`the object's body ended ${remaining - this.fill} bytes short at ${pos + this.fill}${err ? ` (${err.message})` : ''}`);
          if (this.fill > 0 && !submit()) return;
          if (req.signal?.aborted) failure ??= { e: req.signal.reason };
          failure ??= { e: cut };
          finish();
        }
      };

      this.state = 'head';
      this.fill = 0;
      req.signal?.addEventListener('abort', abort, { once: true });
      socket.resume();
      socket.write(head);
      if (req.body) {
        const sending = () => this.state === 'head' && !failure;
        this.sendBody(socket, req.body, sending, req.stopped, () => void (bodyQueued = true)).catch((e: unknown) => {
          if (sending()) fail(e);
        });
      }
    });
  }

  /**
   * Sends `body` while `sending()` holds (no answer yet): each chunk is read into the buffer whose
   * earlier write the socket has finished, so at most two chunks are on their way at once.
   */
  private async sendBody(socket: Socket, body: FileBody, sending: () => boolean, stopped: () => unknown, queued: () => void): Promise<void> {
    const bufs = (this.sendStages ??= [Buffer.allocUnsafeSlow(SEND_CHUNK), Buffer.allocUnsafeSlow(SEND_CHUNK)]);
    let at = body.at;
    let left = body.length;
    let next = 0;
    let previous: Promise<void> | undefined;
    while (left > 0 && sending()) {
      const stop = stopped();
      if (stop !== undefined) throw stop;
      const buf = bufs[next];
      next ^= 1;
      const n = readSync(body.fd, buf, 0, Math.min(SEND_CHUNK, left), at);
      if (n === 0) throw new Error(`the file ended at ${at}, before the ${body.length} bytes to send from ${body.at}`);
      at += n;
      left -= n;
      const written = new Promise<void>((resolve) => socket.write(n === buf.length ? buf : buf.subarray(0, n), () => resolve()));
      if (left === 0) queued();
      if (previous) await previous;
      body.onSent(n);
      previous = written;
    }
    if (body.length === 0) queued();
    if (previous) await previous;
  }
}

/** Idle keep-alive connections handed from one part to the next. */
export class ConnectionPool {
  private readonly idle: ObjectConnection[] = [];
  private readonly all = new Set<ObjectConnection>();

  constructor(private readonly target: ObjectTarget) {}

  /** One request over an idle connection (or a new one); the connection is kept only after a clean answer (it reconnects if the server closed it meanwhile). */
  async request(req: ObjectRequest): Promise<void> {
    const conn = this.idle.pop() ?? new ObjectConnection(this.target);
    this.all.add(conn);
    try {
      await conn.request(req);
    } catch (e) {
      this.drop(conn);
      throw e;
    }
    if (conn.usable) this.idle.push(conn);
    else this.drop(conn);
  }

  private drop(conn: ObjectConnection): void {
    conn.close();
    this.all.delete(conn);
  }

  close(): void {
    for (const c of this.all) c.close();
    this.all.clear();
    this.idle.length = 0;
  }
}
