// One request at a time per connection, as Go's server reads a connection's next request only once
// the handler of the one before has returned. Node hands pipelined requests to the handler as they
// are parsed, so a GET pipelined behind a POST could be answered before the POST has stored its
// needle (and, with worker threads, a read asked of the main thread could pass a forwarded
// delete). The next request of a connection waits until the answer before it is sent.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const kBusy = Symbol('a request of this connection is being answered');
const kWaiting = Symbol('requests of this connection waiting their turn');

interface Turns {
  [kBusy]?: boolean;
  [kWaiting]?: [IncomingMessage, ServerResponse][];
}

export function oneAtATimePerConnection(handler: Handler): Handler {
  const run = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as Socket & Turns;
    socket[kBusy] = true;
    let done = false;
    const next = () => {
      if (done) return;
      done = true;
      const waiting = socket[kWaiting]?.shift();
      if (waiting) run(waiting[0], waiting[1]);
      else socket[kBusy] = false;
    };
    res.once('finish', next);
    res.once('close', next);
    handler(req, res);
  };
  return (req, res) => {
    const socket = req.socket as Socket & Turns;
    if (socket[kBusy]) (socket[kWaiting] ??= []).push([req, res]);
    else run(req, res);
  };
}
