// The fast path for the most frequent write: POST/PUT of a small body (a Content-Length up to
// FAST_WRITE_LIMIT; raw or a multipart form) to `/vid,fid` of a local volume that needs no
// replica, with no `Seaweed-` pairs, no urlencoded form, no query beyond ts/ttl/type/fsync/jwt,
// and no JWT failure. Whether it takes a request is decided from the request line and headers
// alone, before any of the body arrived; everything else — every refusal the routed write would
// answer before reading the body included — is declined untouched and write.ts answers it. A taken
// request goes through the same parse (upload-parse.ts) and store (upload-store.ts) as write.ts,
// so its answers, errors after the body arrived included, are the routed path's.
import type { IncomingMessage } from 'node:http';
import type { Cradle } from '../../../core/container.js';
import { toHttpStatus } from '../../../core/errors.js';
import type { FastAnswer, FastPath } from '../../../core/http/fast-path.js';
import { goJsonStringify, JSON_ANSWER_HEADERS } from '../../../core/http/json.js';
import { tokenFromRequest } from '../../../core/security/jwt.js';
import { parseFid, parseVolumeId } from '../../../core/storage/file-id.js';
import { isWriteAllowedFrom, jwtAllows } from './auth.js';
import { uploadLimiter } from './throttle.js';
import { GoForm, parseQuery, rawQueryOf, rawPathOf } from './upload-form.js';
import { BodyReader, parseUpload, UploadError } from './upload-parse.js';
import { armUploadDeadline, settleUnread } from './upload-deadline.js';
import { fidTextOf, storeUpload, type StoreOutcome } from './upload-store.js';
import { parseUrlPath } from './url-path.js';

/** Largest body the fast path takes: what a small upload is; larger ones stream through write.ts. */
export const FAST_WRITE_LIMIT = 64 * 1024;

/** Query parameters the fast path understands; any other (`cm`, `pretty`, ...) goes routed. */
const FAST_QUERY_KEYS = new Set(['ts', 'ttl', 'type', 'fsync', 'jwt']);

/** The query as a form, or undefined when it holds anything the fast path leaves to write.ts. */
function fastForm(url: string): GoForm | undefined {
  const query = rawQueryOf(url);
  if (query === '') return new GoForm();
  // No escapes: the query then reads the same to Go's parser and to fastify's (the JWT).
  if (query.indexOf('%') >= 0 || query.indexOf('+') >= 0 || query.indexOf(';') >= 0) return undefined;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (!FAST_QUERY_KEYS.has(eq < 0 ? part : part.slice(0, eq))) return undefined;
  }
  const { form, error } = parseQuery(query);
  return error ? undefined : form;
}

/** True when a request header is a `Seaweed-` pair (stored with the needle: write.ts's case). */
function hasPairHeaders(rawHeaders: string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length > 8 && (name.charCodeAt(0) | 0x20) === 0x73 && name.slice(0, 8).toLowerCase() === 'seaweed-') return true;
  }
  return false;
}

/** A JSON answer with the headers sendJson gives (core/http/json.ts), after `before`. */
function jsonAnswer(answer: FastAnswer, status: number, value: unknown, before: string[]): void {
  const body = Buffer.from(goJsonStringify(value, false), 'utf8');
  before.push(...JSON_ANSWER_HEADERS, 'Content-Length', String(body.length));
  answer.send(status, before, body);
}

/** Puts a store outcome on the wire as write.ts does through fastify. */
function sendOutcome(answer: FastAnswer, outcome: StoreOutcome): void {
  if (!outcome.ok) {
    jsonAnswer(answer, outcome.status, { error: outcome.message }, outcome.writeOutcome ? ['X-Seaweed-Write-Outcome', outcome.writeOutcome] : []);
    return;
  }
  const headers = ['ETag', `"${outcome.etag}"`, 'Content-MD5', outcome.contentMd5];
  if (outcome.status === 204) answer.send(204, headers, undefined);
  else jsonAnswer(answer, 201, outcome.result, headers);
}

export function writeFastPath(cradle: Cradle): FastPath {
  const { config, store, logger } = cradle;
  const limiter = uploadLimiter(config);
  const sizeLimit = config.fileSizeLimitMB * 1024 * 1024;
  const idleMs = Math.max(0, config.idleTimeoutSeconds) * 1000;

  /** Reads, parses and stores a taken upload, and answers it. */
  async function serve(req: IncomingMessage, answer: FastAnswer, length: number, form: GoForm, path: string, vid: number): Promise<void> {
    const body = new BodyReader(req);
    const disarm = armUploadDeadline(req, idleMs, (err) =>
      logger.warn({ reqId: answer.id, remote: req.socket.remoteAddress, received: err.received }, 'upload body too slow; dropping the connection'),
    );
    try {
      let outcome: StoreOutcome;
      try {
        const upload = { method: req.method ?? '', headers: req.headers, rawHeaders: req.rawHeaders, path, contentLength: length };
        const pu = await parseUpload(upload, body, form, sizeLimit, false);
        const jwt = () => tokenFromRequest(form.has('jwt') ? { jwt: form.get('jwt') } : {}, req.headers);
        outcome = await storeUpload(cradle, { requestId: answer.id, socket: req.socket, jwt }, pu, form, path, vid);
      } catch (e) {
        if (!(e instanceof UploadError)) throw e;
        outcome = { ok: false, status: 400, message: e.message };
      }
      // An answer before the whole body arrived (a malformed form): the small rest is read first.
      if (!outcome.ok) await settleUnread(req, length, body);
      sendOutcome(answer, outcome);
    } catch (e) {
      // What fastify's error handler does for the routed write (core/http/servers.ts).
      const status = (e as { statusCode?: number }).statusCode ?? toHttpStatus(e);
      if (status >= 500) logger.error({ err: e, reqId: answer.id }, 'request failed');
      jsonAnswer(answer, status, { error: (e as Error).message }, []);
    } finally {
      disarm();
      limiter.release(length);
    }
  }

  return (req, res, reply) => {
    const method = req.method;
    if (method !== 'POST' && method !== 'PUT') return false;
    const h = req.headers;
    const cl = h['content-length'];
    if (cl === undefined || h['transfer-encoding'] !== undefined || !/^[0-9]{1,6}$/.test(cl)) return false;
    const length = Number(cl);
    if (length > FAST_WRITE_LIMIT || length > sizeLimit) return false;
    const ct = h['content-type'];
    if (ct !== undefined && ct.split(';', 1)[0].trim().toLowerCase() === 'application/x-www-form-urlencoded') return false;
    const url = req.url ?? '';
    const path = rawPathOf(url);
    // `/vid,fid[.ext]` without escapes: the decoded path is the raw one.
    if (path.indexOf('%') >= 0 || path.indexOf('/', 1) >= 0 || path.indexOf(',') < 0) return false;
    const form = fastForm(url);
    if (!form || hasPairHeaders(req.rawHeaders)) return false;
    if (!isWriteAllowedFrom(cradle, req.socket.remoteAddress)) return false;

    const parts = parseUrlPath(path);
    let vid: number;
    try {
      vid = parseVolumeId(parts.vid);
      parseFid(fidTextOf(path));
    } catch {
      return false;
    }
    const isReplicate = form.get('type') === 'replicate';
    const volume = store.findVolume(vid);
    // Another replica to write to (or no local volume) means a master lookup: write.ts's case.
    if (!volume || (!isReplicate && volume.replicaPlacement.copyCount() !== 1)) return false;
    if (!jwtAllows(cradle, form.has('jwt') ? { jwt: form.get('jwt') } : {}, h, `${parts.vid},${parts.fid}`, true)) return false;
    // A request that would wait for in-flight uploads to drain waits in write.ts.
    if (!isReplicate && limiter.overLimit()) return false;

    limiter.add(length);
    const answer = reply.claim(req, res);
    serve(req, answer, length, form, path, vid).catch((err: unknown) => {
      logger.error({ err, reqId: answer.id }, 'fast write failed');
      res.destroy();
    });
    return true;
  };
}
