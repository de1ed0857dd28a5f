// The answer to a request node's parser refuses (a bad request line, a header too large, a
// conflicting Content-Length): fastify's default clientError answer, for every listener, whichever
// thread parses it, so a malformed request is answered alike with or without worker threads.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nothing left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status: number;
  let message: string;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = 'Client Timeout';
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'Exceeded maximum allowed HTTP header size';
  } else {
    status = 400;
    message = 'Client Error';
  }
  const text = STATUS_CODES[status] ?? '';
  const body = `{"error":"${text}","message":"${message}","statusCode":${status}}`;
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
