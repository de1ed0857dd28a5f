// POST/PUT of a file id (Go: weed/server/volume_server_handlers_write.go PostHandler): upload throttling, whitelist, form, vid, write JWT,
// streaming upload parse, replicated write, 201/204 answers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import { sendJson, sendJsonError } from '../../../core/http/json.js';
import { parseVolumeId } from '../../../core/storage/file-id.js';
import { tokenFromRequest } from '../../../core/security/jwt.js';
import { checkJwt, isWriteAllowed } from './auth.js';
import { ThrottleAbortedError, uploadLimiter } from './throttle.js';
import { decodedPathOf, GoForm, parseQuery, rawQueryOf } from './upload-form.js';
import { BodyReader, parseUpload, UploadError, type ParsedUpload } from './upload-parse.js';
import { removeStaleSpoolFiles, SpoolError, type SpoolTarget } from './upload-spool.js';
import { armUploadDeadline, settleUnreadBody } from './upload-deadline.js';
import { storeUpload, type StoreOutcome, type StoreRequest } from './upload-store.js';
import { parseUrlPath } from './url-path.js';

const MAX_URLENCODED_BODY = 10 << 20;

function contentLengthOf(request: FastifyRequest): number | undefined {
  const h = request.headers['content-length'];
  if (h === undefined || !/^[0-9]+$/.test(h)) return undefined;
  return Number(h);
}

function storeRequestOf(request: FastifyRequest): StoreRequest {
  return {
    requestId: String(request.id),
    socket: request.raw.socket,
    jwt: () => tokenFromRequest((request.query ?? {}) as Record<string, unknown>, request.headers),
  };
}

/** An AbortSignal that fires when the client goes away before the response is sent. */
function clientGone(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) ac.abort();
  };
  request.raw.socket?.once('close', onClose);
  reply.raw.once('finish', () => request.raw.socket?.off('close', onClose));
  return ac.signal;
}

export function writeHandler(cradle: Cradle) {
  const { config, store } = cradle;
  const limiter = uploadLimiter(config);
  const sizeLimit = config.fileSizeLimitMB * 1024 * 1024;
  const idleMs = Math.max(0, config.idleTimeoutSeconds) * 1000;
  // spool files of a previous process that died mid-upload
  void removeStaleSpoolFiles(
    store.locations.map((l) => l.directory),
    Date.now() - process.uptime() * 1000,
  );

  return async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.url;
    const urlQuery = parseQuery(rawQueryOf(url));
    const isReplicateByUrl = urlQuery.form.get('type') === 'replicate';
    const contentLength = contentLengthOf(request) ?? 0;
    const body = new BodyReader(request.raw);

    // 1. upload throttling (replicate requests count but never wait)
    if (isReplicateByUrl || !limiter.limited) {
      limiter.add(contentLength);
    } else {
      const before = limiter.current;
      let ok: boolean;
      // Nothing is read while waiting, so the idle timeout is off for the (bounded) wait, as in Go
      // where only a pending read or write can time out.
      const socket = request.raw.socket;
      socket.setTimeout(0);
      try {
        ok = await limiter.acquire(contentLength, clientGone(request, reply));
      } catch (e) {
        if (e instanceof ThrottleAbortedError) return sendJsonError(request, reply, 499, 'context canceled');
        throw e;
      } finally {
        if (!socket.destroyed) socket.setTimeout(idleMs);
      }
      if (!ok) {
        await settleUnreadBody(request, reply, body);
        return sendJsonError(request, reply, 429, `reject because inflight upload data ${before} > ${limiter.limitBytes}, and wait timeout`);
      }
    }
    const disarm = armUploadDeadline(request.raw, idleMs, (err) =>
      cradle.logger.warn({ reqId: request.id, remote: request.raw.socket.remoteAddress, received: err.received }, 'upload body too slow; dropping the connection'),
    );
    try {
      return await handleWrite(request, reply, body, urlQuery);
    } finally {
      disarm();
      limiter.release(contentLength);
    }
  };

  async function handleWrite(request: FastifyRequest, reply: FastifyReply, body: BodyReader, urlQuery: ReturnType<typeof parseQuery>) {
    // An answer before the body was read: a small rest is read and discarded, a large one is not
    // read at all (the connection closes after the answer).
    const fail = async (status: number, message: string) => {
      await settleUnreadBody(request, reply, body);
      return sendJsonError(request, reply, status, message);
    };
    // 2. whitelist
    if (!isWriteAllowed(cradle, request)) {
      await settleUnreadBody(request, reply, body);
      return reply.code(401).send();
    }

    // 3. ParseForm: the query, plus an urlencoded body (which is then consumed)
    let form: GoForm = urlQuery.form;
    let formError = urlQuery.error;
    let bodyConsumed = false;
    const ct = String(request.headers['content-type'] ?? '');
    if (ct.split(';', 1)[0].trim().toLowerCase() === 'application/x-www-form-urlencoded') {
      bodyConsumed = true;
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const c = await body.next().catch(() => null);
        if (!c) break;
        total += c.length;
        if (total > MAX_URLENCODED_BODY) {
          formError ||= 'http: POST too large';
          break;
        }
        chunks.push(c);
      }
      const post = parseQuery(Buffer.concat(chunks).toString('utf8'));
      formError = post.error || formError;
      post.form.merge(urlQuery.form);
      form = post.form;
    }
    if (formError) return fail(400, formError);

    // 4. vid
    const path = decodedPathOf(request.url);
    const parts = parseUrlPath(path);
    let vid: number;
    try {
      vid = parseVolumeId(parts.vid);
    } catch (e) {
      return fail(400, (e as Error).message);
    }

    // 5. JWT (write key)
    if (!checkJwt(cradle, request, `${parts.vid},${parts.fid}`, true)) return fail(401, 'wrong jwt');

    // 6. parse the upload into a needle; a large body is spooled to a temp file in the volume's
    //    data directory (the other data directories as fallbacks)
    const spoolTarget: SpoolTarget = { dirs: spoolDirs(vid) };
    let pu: ParsedUpload;
    try {
      pu = await parseUpload(
        {
          method: request.method,
          headers: request.headers,
          rawHeaders: request.raw.rawHeaders,
          path,
          contentLength: contentLengthOf(request),
        },
        body,
        form,
        sizeLimit,
        bodyConsumed,
        spoolTarget,
      );
    } catch (e) {
      if (e instanceof UploadError) return fail(400, e.message);
      if (e instanceof SpoolError) return fail(500, e.message);
      throw e;
    }
    let outcome: StoreOutcome;
    try {
      outcome = await storeUpload(cradle, storeRequestOf(request), pu, form, path, vid);
    } finally {
      await pu.spool?.remove();
    }
    // 8./9. answers
    if (!outcome.ok) {
      if (outcome.writeOutcome) reply.header('X-Seaweed-Write-Outcome', outcome.writeOutcome);
      return fail(outcome.status, outcome.message);
    }
    reply.header('ETag', `"${outcome.etag}"`).header('Content-MD5', outcome.contentMd5);
    if (outcome.status === 204) return reply.code(204).send();
    return sendJson(request, reply, 201, outcome.result);
  }

  /** Directories a large upload to volume `vid` may be spooled in, best first. */
  function spoolDirs(vid: number): string[] {
    const dirs: string[] = [];
    const v = store.findVolume(vid);
    if (v) dirs.push(v.dir);
    for (const loc of store.locations) if (!dirs.includes(loc.directory)) dirs.push(loc.directory);
    return dirs;
  }
}
