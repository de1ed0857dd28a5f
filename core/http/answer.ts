// What every answer of the HTTP listeners carries and how a complete small answer goes on the
// wire, shared by the fast paths of the main thread (servers.ts) and of the HTTP worker threads
// (workers/worker-thread.ts), so both answer byte for byte alike.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serverVersion } from '../version.js';
import { REQUEST_ID_HEADER } from './request-id.js';

/** The Server header Go's volume server sends. */
export function serverHeaderOf(offsetBytes: 4 | 5): string {
  return `SeaweedFS Volume ${serverVersion(offsetBytes)}`;
}

/** Server, request id and CORS reflection, as a flat name/value list (any client request id is ignored, as Go's middleware does). */
export function baseHeaders(serverHeader: string, requestId: string, origin: string | undefined): string[] {
  const h = ['Server', serverHeader, REQUEST_ID_HEADER, requestId];
  if (origin) h.push('Access-Control-Allow-Origin', '*', 'Access-Control-Allow-Credentials', 'true');
  return h;
}

/** Sends a complete answer: the base headers, then the caller's, then the body. */
export function writeCompleteAnswer(
  req: IncomingMessage,
  res: ServerResponse,
  serverHeader: string,
  requestId: string,
  status: number,
  headers: string[],
  body: Uint8Array | undefined,
): void {
  const all = baseHeaders(serverHeader, requestId, req.headers.origin);
  for (let i = 0; i < headers.length; i++) all.push(headers[i]);
  res.writeHead(status, all);
  // A small body goes as a latin1 string: node then sends head and body in one write, instead
  // of a writev of two buffers with its extra bookkeeping.
  if (body !== undefined && body.length <= 16 * 1024) res.end(Buffer.from(body.buffer, body.byteOffset, body.length).toString('latin1'), 'latin1');
  else res.end(body);
}
