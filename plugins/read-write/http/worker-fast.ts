// The data path's fast paths on an HTTP worker thread (core/http/workers/): the same requests the
// main thread's fast paths take (fast-requests.ts decides for both), answered by asking the main
// thread, which owns the volumes: a plain read as `rw.read` (read-fast.ts answerPlainRead), a small
// upload, once its whole body is here, as `rw.write` (write-fast.ts). What the main thread declines
// is forwarded to its routed handlers, the upload with the body already read.
import type { IncomingMessage } from 'node:http';
import type { WorkerExchange, WorkerFastPath, WorkerFastPathContext } from '../../../core/http/workers/protocol.js';
import { fastWriteShape, isPlainReadRequest } from './fast-requests.js';

export const READ_CALL = 'rw.read';
export const WRITE_CALL = 'rw.write';

interface CallAnswer {
  status?: number;
  headers: string[];
  body: Uint8Array | undefined;
}

/** Reads a body of the declared length; resolves undefined when the client went away first. */
function readBody(req: IncomingMessage, length: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (c: Buffer) => {
      total += c.length;
      chunks.push(c);
    });
    req.once('end', () => resolve(total === length ? Buffer.concat(chunks, total) : undefined));
    req.once('close', () => {
      if (!req.readableEnded) resolve(undefined);
    });
  });
}

export function createWorkerFastPath(ctx: WorkerFastPathContext): WorkerFastPath {
  const answer = (x: WorkerExchange, a: CallAnswer | undefined, body?: Buffer) => {
    if (a) x.send(a.status ?? 200, a.headers, a.body);
    else x.forward(body);
  };
  return (req, res, take) => {
    const method = req.method;
    const url = req.url ?? '';
    if (method === 'GET' || method === 'HEAD') {
      if (!isPlainReadRequest(method, url, req.headers)) return false;
      const x = take();
      ctx.call(READ_CALL, [method, url, req.headers['accept-encoding']]).then(
        (a) => answer(x, a as CallAnswer | undefined),
        () => x.forward(),
      );
      return true;
    }
    // The public listener takes no writes (the main thread's fast paths: fast-paths.ts).
    if (ctx.listener !== 'admin' || (method !== 'POST' && method !== 'PUT')) return false;
    const r = { method, url, headers: req.headers, rawHeaders: req.rawHeaders };
    const shape = fastWriteShape(r);
    if (!shape) return false;
    const x = take();
    void readBody(req, shape.length).then((body) => {
      if (!body) {
        res.destroy();
        return;
      }
      const payload = { ...r, remoteAddress: req.socket.remoteAddress, requestId: x.id, body };
      ctx.call(WRITE_CALL, payload).then(
        (a) => answer(x, a as CallAnswer | undefined, body),
        () => x.forward(body),
      );
    });
    return true;
  };
}
