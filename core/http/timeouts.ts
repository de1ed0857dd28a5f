// Connection timeouts of the HTTP listeners. Go wraps every accepted connection in a no-activity
// timeout of -idleTimeout seconds (weed/util/net_timeout.go Conn, via NewIpAndLocalListeners in
// weed/command/volume.go): a read or write that waits longer fails and the connection is dropped.
// Node's equivalent is the socket idle timeout; without it a client that stops sending mid-upload
// holds its connection and its spool file forever.
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

/** Node's default headers deadline, kept explicit: stricter than Go, it cuts a header drip short. */
export const HEADERS_TIMEOUT_MS = 60_000;

/** Applies -idleTimeout (seconds; 0 = none, as in Go) to a server node creates the sockets of. */
export function applyConnectionTimeouts(server: Server | HttpsServer, idleTimeoutSeconds: number): void {
  const idleMs = Math.max(0, Math.floor(idleTimeoutSeconds)) * 1000;
  // No activity in either direction for idleMs: node destroys the socket (no 'timeout' listener).
  server.setTimeout(idleMs);
  server.keepAliveTimeout = idleMs;
  // No whole-request deadline: a large upload on a slow link takes as long as it takes (Go has
  // none); stalls are caught by the idle timeout and the upload body deadline instead.
  server.requestTimeout = 0;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
}
