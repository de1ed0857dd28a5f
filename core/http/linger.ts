// Go's closeWriteAndWait (net/http server.go, under every Go handler): an answer sent on a connection that is then closed with request bytes still unread is followed
// by a FIN, and the socket is kept (not read) a moment before it is closed. Closed at once, the
// kernel answers the client's next write with a reset and a client still sending its body may lose
// the answer.

import type { Socket } from 'node:net';

/** Go's rstAvoidanceDelay: how long a connection closed with unread data lingers after its answer. */
export const CLOSE_LINGER_MS = 500;

/** Makes node's end of a `Connection: close` exchange (socket.destroySoon) linger as Go's does. */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function (this: Socket) {
    this.pause();
    this.end();
    setTimeout(() => this.destroy(), CLOSE_LINGER_MS).unref();
  };
}
