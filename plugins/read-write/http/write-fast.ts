// The fast path for the most frequent write: POST/PUT of a small body (a Content-Length up to
// FAST_WRITE_LIMIT; raw or a multipart form) to `/vid,fid` of a local volume that needs no
// replica, with no `Seaweed-` pairs, no urlencoded form, no query beyond ts/ttl/type/fsync/jwt,
// and no JWT failure. Whether it takes a request is decided from the request line and headers
// alone, before any of the body arrived; everything else — every refusal the routed write would
// answer before reading the body included — is declined untouched and write.ts answers it. A taken
// request goes through the same parse (upload-parse.ts) and store (upload-store.ts) as write.ts,
// so its answers, errors after the body arrived included, are the routed path's. The request-line
// checks are fast-requests.ts's; an HTTP worker thread makes them too and, with the body read,
// asks for the rest here (fastWriteCall).
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { Cradle } from '../../../core/container.js';
import { toHttpStatus } from '../../../core/errors.js';
import type { FastAnswer, FastPath } from '../../../core/http/fast-path.js';
import { goJsonStringify, JSON_ANSWER_HEADERS } from '../../../core/http/json.js';
import { tokenFromRequest } from '../../../core/security/jwt.js';
import { isWriteAllowedFrom, jwtAllows } from './auth.js';
import { uploadLimiter } from './throttle.js';
import { BodyReader, parseUpload, UploadError } from './upload-parse.js';
import { armUploadDeadline, settleUnread } from './upload-deadline.js';
import { storeUpload, type StoreOutcome } from './upload-store.js';
import { fastWriteShape, type FastWriteRequest, type FastWriteShape } from './fast-requests.js';

/** A complete answer: status, headers besides those every answer carries, body. */
export interface FastWriteAnswer {
  status: number;
  headers: string[];
  body: Buffer | undefined;
}

/** A JSON answer with the headers sendJson gives (core/http/json.ts), after `before`. */
function jsonAnswer(status: number, value: unknown, before: string[]): FastWriteAnswer {
  const body = Buffer.from(goJsonStringify(value, false), 'utf8');
  before.push(...JSON_ANSWER_HEADERS, 'Content-Length', String(body.length));
  return { status, headers: before, body };
}

/** A store outcome as write.ts puts it on the wire through fastify. */
function outcomeAnswer(outcome: StoreOutcome): FastWriteAnswer {
  if (!outcome.ok) {
    return jsonAnswer(outcome.status, { error: outcome.message }, outcome.writeOutcome ? ['X-Seaweed-Write-Outcome', outcome.writeOutcome] : []);
  }
  const headers = ['ETag', `"${outcome.etag}"`, 'Content-MD5', outcome.contentMd5];
  if (outcome.status === 204) return { status: 204, headers, body: undefined };
  return jsonAnswer(201, outcome.result, headers);
}

/** What fastify's error handler answers for the routed write (core/http/servers.ts). */
function errorAnswer(cradle: Cradle, e: unknown, requestId: string): FastWriteAnswer {
  const status = (e as { statusCode?: number }).statusCode ?? toHttpStatus(e);
  if (status >= 500) cradle.logger.error({ err: e, reqId: requestId }, 'request failed');
  return jsonAnswer(status, { error: (e as Error).message }, []);
}

/** The main thread's fast write, for the fast path here and for the worker threads' calls. */
class FastWriter {
  readonly limiter: ReturnType<typeof uploadLimiter>;
  private readonly sizeLimit: number;

  constructor(private readonly cradle: Cradle) {
    this.limiter = uploadLimiter(cradle.config);
    this.sizeLimit = cradle.config.fileSizeLimitMB * 1024 * 1024;
  }

  /** The store-state checks: true when the shaped request is the fast write's to take. */
  admits(shape: FastWriteShape, headers: IncomingHttpHeaders, remoteAddress: string | undefined): boolean {
    const { cradle } = this;
    if (shape.length > this.sizeLimit) return false;
    if (!isWriteAllowedFrom(cradle, remoteAddress)) return false;
    const isReplicate = shape.form.get('type') === 'replicate';
    const volume = cradle.store.findVolume(shape.vid);
    // Another replica to write to (or no local volume) means a master lookup: write.ts's case.
    if (!volume || (!isReplicate && volume.replicaPlacement.copyCount() !== 1)) return false;
    if (!jwtAllows(cradle, shape.form.has('jwt') ? { jwt: shape.form.get('jwt') } : {}, headers, shape.fid, true)) return false;
    // A request that would wait for in-flight uploads to drain waits in write.ts.
    return isReplicate || !this.limiter.overLimit();
  }

  /** Parses and stores an admitted upload; the outcome, parse errors included (not other failures). */
  async store(r: FastWriteRequest, shape: FastWriteShape, body: BodyReader, requestId: string, socket: Socket | undefined): Promise<StoreOutcome> {
    const { form } = shape;
    try {
      const upload = { method: r.method, headers: r.headers, rawHeaders: r.rawHeaders, path: shape.path, contentLength: shape.length };
      const pu = await parseUpload(upload, body, form, this.sizeLimit, false);
      const jwt = () => tokenFromRequest(form.has('jwt') ? { jwt: form.get('jwt') } : {}, r.headers);
      return await storeUpload(this.cradle, { requestId, socket, jwt }, pu, form, shape.path, shape.vid);
    } catch (e) {
      if (!(e instanceof UploadError)) throw e;
      return { ok: false, status: 400, message: e.message };
    }
  }

  /** The answer to a worker thread's upload whose whole body it read, or undefined to decline. */
  async call(payload: FastWriteCall): Promise<FastWriteAnswer | undefined> {
    const r: FastWriteRequest = payload;
    const shape = fastWriteShape(r);
    if (!shape || !this.admits(shape, r.headers, payload.remoteAddress)) return undefined;
    this.limiter.add(shape.length);
    try {
      const body = new BodyReader(Readable.from([Buffer.from(payload.body.buffer, payload.body.byteOffset, payload.body.length)]));
      return outcomeAnswer(await this.store(r, shape, body, payload.requestId, undefined));
    } catch (e) {
      return errorAnswer(this.cradle, e, payload.requestId);
    } finally {
      this.limiter.release(shape.length);
    }
  }
}

/** A worker thread's upload, with its whole (small) body. */
export interface FastWriteCall extends FastWriteRequest {
  remoteAddress: string | undefined;
  requestId: string;
  body: Uint8Array;
}

/** The main thread's answer to a worker thread's fast write call. */
export function fastWriteCall(cradle: Cradle): (payload: unknown) => Promise<FastWriteAnswer | undefined> {
  const writer = new FastWriter(cradle);
  return (payload) => writer.call(payload as FastWriteCall);
}

export function writeFastPath(cradle: Cradle): FastPath {
  const { config, logger } = cradle;
  const writer = new FastWriter(cradle);
  const idleMs = Math.max(0, config.idleTimeoutSeconds) * 1000;

  /** Reads, parses and stores a taken upload, and answers it. */
  async function serve(req: IncomingMessage, answer: FastAnswer, r: FastWriteRequest, shape: FastWriteShape): Promise<void> {
    const body = new BodyReader(req);
    const disarm = armUploadDeadline(req, idleMs, (err) =>
      logger.warn({ reqId: answer.id, remote: req.socket.remoteAddress, received: err.received }, 'upload body too slow; dropping the connection'),
    );
    let out: FastWriteAnswer;
    try {
      const outcome = await writer.store(r, shape, body, answer.id, req.socket);
      // An answer before the whole body arrived (a malformed form): the small rest is read first.
      if (!outcome.ok) await settleUnread(req, shape.length, body);
      out = outcomeAnswer(outcome);
    } catch (e) {
      out = errorAnswer(cradle, e, answer.id);
    } finally {
      disarm();
      writer.limiter.release(shape.length);
    }
    answer.send(out.status, out.headers, out.body);
  }

  return (req, res, reply) => {
    const r: FastWriteRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders };
    const shape = fastWriteShape(r);
    if (!shape || !writer.admits(shape, req.headers, req.socket.remoteAddress)) return false;
    writer.limiter.add(shape.length);
    const answer = reply.claim(req, res);
    serve(req, answer, r, shape).catch((err: unknown) => {
      logger.error({ err, reqId: answer.id }, 'fast write failed');
      res.destroy();
    });
    return true;
  };
}
