// One keep-alive HTTP/1.1 connection to an S3 endpoint that GETs ranges of an object straight into
// a file (Go: s3manager's Downloader copies each part's body into the file at its offset,
// weed/storage/backend/s3_backend/s3_download.go). The socket reads into two reused staging
// buffers of this connection (net/tls `onread`): no buffer per chunk, no stream machinery, nothing
// for the garbage collector; one buffer fills while the other is written at its position. Only what
// a GET of an object needs is spoken: a 2xx body must be framed by Content-Length, an error answer
// is read (bounded) for S3's <Code> and <Message> and ends the connection.
import { once } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import { connect as netConnect, isIP, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { signedHeaders, type SigningKeys } from './sigv4.js';
import { ShortBodyError } from './transfer-support.js';

const KiB = 1024;
/**
 * Each staging buffer: the socket fills one while the other is written (two per connection).
 * 256 KiB keeps the bytes in the CPU cache between the socket read and the file write: 1 MiB
 * stages cost the write threads about four times the kernel CPU (1.5 s per GiB against 0.4);
 * smaller ones cost the event loop more callbacks.
 */
export const STAGE_SIZE = 256 * KiB;
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

/** One ranged (or whole) GET whose body goes into `fh`. */
export interface GetRequest {
  /** The Range header (bytes=a-b), or none for the whole object. */
  range?: string;
  /**
   * Called with a 2xx answer's status, lower-cased headers and body length; returns the file
   * position the body goes to, or throws to refuse the answer.
   */
  place(status: number, headers: Map<string, string>, length: number): number;
  fh: FileHandle;
  /** Bytes of the body written to the file (called after each write). */
  onWritten(n: number): void;
  /** An error that ends the transfer (the progress callback failed); checked before each write. */
  stopped(): unknown;
  signal?: AbortSignal;
}

type State = 'idle' | 'head' | 'body' | 'error-body' | 'done';

async function writeFully(fh: FileHandle, buf: Buffer, n: number, at: number): Promise<void> {
  for (let off = 0; off < n; ) {
    const { bytesWritten } = await fh.write(buf, off, n - off, at + off);
    off += bytesWritten;
  }
}

/** S3's error document: <Error><Code>…</Code><Message>…</Message></Error>. */
function s3Error(status: number, body: string): S3ServiceException {
  const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
  return new S3ServiceException({
    name: field('Code') || `HTTP${status}`,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: field('Message') || `the S3 server answered ${status}`,
  });
}

export class ObjectConnection {
  private socket: Socket | undefined;
  private readonly stages = [Buffer.allocUnsafeSlow(STAGE_SIZE), Buffer.allocUnsafeSlow(STAGE_SIZE)];
  private cur = 0;
  private fill = 0;
  /** The buffer node reads into next: the one handed out at the end of the previous read. */
  private handed = { stage: 0, at: 0 };
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
      // after each read: the rest of the current staging buffer (never empty: a full one is
      // handed to its write, and the other taken, before this is asked)
      buffer: () => {
        this.handed = { stage: this.cur, at: this.fill };
        return this.stages[this.cur].subarray(this.fill);
      },
      callback: (n: number) => {
        // node asks for the next buffer only after a read, so bytes that arrive after cur/fill
        // were reset between requests land where the last read left off: move them into place
        const h = this.handed;
        if (h.stage !== this.cur || h.at !== this.fill) {
          if (n > STAGE_SIZE - this.fill) {
            this.drop();
            return true;
          }
          this.stages[h.stage].copy(this.stages[this.cur], this.fill, h.at, h.at + n);
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
   * Sends the GET and writes a 2xx body into the file where `req.place` says. Settles only once no
   * write is in flight; a body cut short throws ShortBodyError after what came is written.
   */
  async get(req: GetRequest): Promise<void> {
    if (this.state !== 'idle') throw new Error('a request is already running on this connection');
    if (req.signal?.aborted) throw req.signal.reason;
    const socket = this.open ? this.socket! : await this.connect(req.signal);
    if (this.state !== 'idle') throw new Error('a request is already running on this connection');
    const { url, keys, region } = this.target;
    const path = url.pathname + url.search;
    const extra: Record<string, string> = req.range ? { range: req.range } : {};
    const headers = keys ? signedHeaders('GET', url.host, path, extra, keys, region, 's3', new Date()) : { host: url.host, ...extra };
    let head = `GET ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    head += '\r\n';

    return new Promise<void>((resolve, reject) => {
      let status = 0;
      let remaining = 0;
      let pos = 0;
      let errorLength = -1;
      let inflight: Promise<void> | undefined;
      let failure: { e: unknown } | undefined;
      const stages = this.stages;

      const finish = (e?: { e: unknown }) => {
        if (this.state === 'done' || this.state === 'idle') return;
        this.state = 'done';
        req.signal?.removeEventListener('abort', abort);
        // nothing may still write to the file once this settles
        void (inflight ?? Promise.resolve())
          .catch(() => undefined)
          .then(() => {
            this.onRead = () => this.drop();
            this.onClose = () => undefined;
            const err = e ?? failure;
            if (err) {
              this.drop();
            } else {
              this.cur = 0;
              this.fill = 0;
            }
            this.state = 'idle';
            if (err) reject(err.e);
            else resolve();
          });
      };
      const fail = (e: unknown) => {
        failure ??= { e };
        this.reusable = false;
        socket.destroy();
        finish();
      };
      const abort = () => fail(req.signal?.reason);

      /** Writes the filled staging buffer at its position and reads on into the other one. */
      const submit = (last: boolean) => {
        const buf = stages[this.cur];
        const n = this.fill;
        const at = pos;
        pos += n;
        remaining -= n;
        this.fill = 0;
        this.cur ^= 1;
        const prev = inflight;
        const write = (async () => {
          if (prev) await prev;
          const stop = req.stopped();
          if (stop !== undefined) throw stop;
          if (n > 0) await writeFully(req.fh, buf, n, at);
          req.onWritten(n);
        })();
        inflight = write;
        write.catch((e: unknown) => fail(e));
        if (prev) {
          // the other buffer is still being written: no read may land in it before that is done
          socket.pause();
          void prev.then(
            () => {
              if (this.state === 'body') socket.resume();
            },
            () => undefined,
          );
        }
        if (last) void write.then(() => finish(), () => undefined);
      };

      const errorDone = (): boolean => {
        const body = stages[this.cur].subarray(0, this.fill);
        if (errorLength >= 0) return this.fill >= errorLength;
        // chunked: the last chunk's marker
        return body.indexOf('0\r\n\r\n', 0, 'latin1') === 0 || body.indexOf('\r\n0\r\n\r\n', 0, 'latin1') >= 0;
      };
      const endError = () => {
        const text = stages[this.cur].toString('utf8', 0, Math.min(this.fill, ERROR_BODY_LIMIT));
        fail(s3Error(status, text));
      };

      const onHead = (end: number) => {
        const buf = stages[this.cur];
        const lines = buf.toString('latin1', 0, end).split('\r\n');
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
        buf.copyWithin(0, end + 4, this.fill);
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
        if (chunked || length < 0) throw new Error(`the S3 server answered GET ${status} without a Content-Length`);
        pos = req.place(status, fields, length);
        remaining = length;
        this.state = 'body';
        onBody();
      };

      const onBody = () => {
        if (this.fill > remaining) {
          fail(new Error(`the S3 server sent more than the ${remaining} bytes of its Content-Length`));
        } else if (this.fill === remaining) {
          submit(true);
        } else if (this.fill === STAGE_SIZE) {
          submit(false);
        }
      };

      this.onRead = (n: number) => {
        this.fill += n;
        try {
          if (this.state === 'head') {
            const end = stages[this.cur].subarray(0, this.fill).indexOf('\r\n\r\n', Math.max(0, this.fill - n - 3), 'latin1');
            if (end >= 0) onHead(end);
            else if (this.fill >= HEAD_LIMIT) throw new Error(`the S3 server's answer head exceeds ${HEAD_LIMIT} bytes`);
          } else if (this.state === 'body') {
            onBody();
          } else if (this.state === 'error-body') {
            if (errorDone() || this.fill >= ERROR_BODY_LIMIT) endError();
          } else {
            // bytes after the answer ended (or while its last write runs): a broken server
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
        } else if (this.state === 'body' && remaining === 0) {
          // the whole body came and its last write is running: a close now ends nothing
        } else if (this.state === 'body') {
          // what came is written, so a retry resumes after it
          const cut = new ShortBodyError(`the object's body ended ${remaining - this.fill} bytes short at ${pos + this.fill}${err ? ` (${err.message})` : ''}`);
          if (req.signal?.aborted) failure ??= { e: req.signal.reason };
          failure ??= { e: cut };
          if (this.fill > 0) submit(false);
          finish();
        }
      };

      this.state = 'head';
      this.cur = 0;
      this.fill = 0;
      req.signal?.addEventListener('abort', abort, { once: true });
      socket.resume();
      socket.write(head);
    });
  }
}
