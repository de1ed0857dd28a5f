// Upload body deadlines and early refusals.
//
// The read deadline is stricter than Go, whose only limit is the connection's no-activity timeout
// (which a client dripping a byte every few seconds never trips): the body must keep arriving at a
// minimum average rate, in the manner of Apache's mod_reqtimeout `body=<idle>,MinRate=500`. The
// deadline starts -idleTimeout seconds after the handler starts reading and every byte received
// moves it MIN_UPLOAD_BYTES_PER_SECOND⁻¹ seconds later. When it passes, the request is destroyed:
// the upload fails like a dropped connection and its spool file is removed.
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { lingerOnClose } from '../../../core/http/linger.js';
import type { BodyReader } from './upload-parse.js';

export const MIN_UPLOAD_BYTES_PER_SECOND = 500;

/** Go's maxPostHandlerReadBytes: how much unread body an answer may still read to keep the connection. */
export const POST_ANSWER_READ_LIMIT = 256 * 1024;

export class UploadDeadlineError extends Error {
  constructor(readonly received: number) {
    super(`upload body arrived slower than ${MIN_UPLOAD_BYTES_PER_SECOND} bytes/s (${received} bytes received)`);
    this.name = 'UploadDeadlineError';
  }
}

/**
 * Arms the body read deadline of `req` (idleMs 0 = none, as -idleTimeout=0 in Go); it disarms
 * itself when the body ends or the request goes. `onExpire` runs just before the request is
 * destroyed. Progress is what the socket received, so it also counts bytes still buffered.
 */
export function armUploadDeadline(req: IncomingMessage, idleMs: number, onExpire?: (e: UploadDeadlineError) => void): () => void {
  if (idleMs <= 0 || req.readableEnded || req.destroyed) return () => undefined;
  const socket = req.socket;
  const startBytes = socket.bytesRead;
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const disarm = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    req.off('end', disarm);
    req.off('close', disarm);
  };
  const check = () => {
    const received = socket.bytesRead - startBytes;
    const due = start + idleMs + (received * 1000) / MIN_UPLOAD_BYTES_PER_SECOND;
    const now = Date.now();
    if (now < due) {
      timer = setTimeout(check, Math.ceil(due - now));
      return;
    }
    disarm();
    const err = new UploadDeadlineError(received);
    onExpire?.(err);
    req.destroy(err);
  };
  timer = setTimeout(check, idleMs);
  req.once('end', disarm);
  req.once('close', disarm);
  return disarm;
}

function contentLengthOf(request: FastifyRequest): number | undefined {
  const h = request.headers['content-length'];
  return h !== undefined && /^[0-9]+$/.test(h) ? Number(h) : undefined;
}

/**
 * Before an answer that did not read the body: as Go's net/http does after a handler, a small rest
 * (declared under POST_ANSWER_READ_LIMIT, or a chunked one that ends within it) is read and
 * discarded so the connection can serve the next request; a larger one is not read at all — the
 * answer goes out at once with `Connection: close` and the connection is closed after it.
 */
export async function settleUnreadBody(request: FastifyRequest, reply: FastifyReply, body: BodyReader): Promise<void> {
  if (!(await settleUnread(request.raw, contentLengthOf(request), body))) return;
  reply.header('Connection', 'close');
  lingerOnClose(request.raw.socket);
}

/**
 * settleUnreadBody on node's request (`declared`: its Content-Length): reads a small rest and
 * resolves false, or resolves true when the answer must close the connection instead.
 */
export async function settleUnread(raw: IncomingMessage, declared: number | undefined, body: BodyReader): Promise<boolean> {
  if (raw.readableEnded || raw.destroyed) return false;
  if (declared !== undefined && declared < POST_ANSWER_READ_LIMIT) {
    await body.finish();
    return false;
  }
  if (declared === undefined) {
    let seen = 0;
    try {
      for (;;) {
        const c = await body.next();
        if (!c) return false;
        seen += c.length;
        if (seen > POST_ANSWER_READ_LIMIT) break;
      }
    } catch {
      return false; // the client went away: nothing to answer on
    }
  }
  return true;
}
