// A worker thread's way to the main thread's routed handlers: the client's request, as received,
// goes over an internal unix socket to a server that answers exactly as the listener would
// (servers.ts createCompanionServer), and its answer comes back to the client. Bodies stream both
// ways with backpressure. Only what belongs to the client connection (Connection and its named
// headers, Keep-Alive, Expect) stays behind; the client's address travels in PEER_HEADER, which
// a client cannot set: any it sent is dropped here.
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { lingerOnClose } from '../linger.js';
import { PEER_HEADER } from './protocol.js';

/** Request headers that describe the client's connection, not the request. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'expect', PEER_HEADER]);
/** Answer headers the worker's own server sets for the client connection. */
const ANSWER_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer', 'proxy-connection']);

/** Connection-scoped header names: the fixed ones plus those the Connection header names. */
function droppedNames(fixed: Set<string>, connection: string | string[] | undefined): Set<string> {
  if (connection === undefined) return fixed;
  const named = new Set(fixed);
  for (const token of String(connection).split(',')) {
    const t = token.trim().toLowerCase();
    // Content-Length and Transfer-Encoding frame the body and are never dropped for a request.
    if (t !== '' && t !== 'content-length' && t !== 'transfer-encoding') named.add(t);
  }
  return named;
}

export class MainForwarder {
  private readonly agent: Agent;

  constructor(
    private readonly socketPath: string,
    private readonly idleMs: number,
  ) {
    // Sockets are reused. An idle one is closed here well before the main thread's idle timeout
    // would close it (createCompanionServer), so a request is never sent on a closing socket. The
    // agent's timeout ends only idle sockets; on a busy one it is a notice nobody acts on.
    const retireMs = idleMs > 0 ? Math.max(1000, Math.floor(idleMs / 2)) : 0;
    this.agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo', ...(retireMs ? { timeout: retireMs } : {}) });
  }

  /**
   * Forwards `req` and relays the answer on `res`. `body`: the whole body, already read from the
   * client (a fast path that declined after reading it). An `Expect: 100-continue` was answered
   * by the worker's server as soon as the request arrived, as the main thread's server does.
   */
  forward(req: IncomingMessage, res: ServerResponse, body?: Buffer): void {
    const dropped = droppedNames(HOP_BY_HOP, req.headers.connection);
    const raw = req.rawHeaders;
    const headers: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      if (!dropped.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
    }
    headers.push(PEER_HEADER, req.socket.remoteAddress ?? '');

    let answered = false;
    let upstream: ReturnType<typeof request>;
    try {
      upstream = request({ socketPath: this.socketPath, agent: this.agent, method: req.method, path: req.url, headers, setHost: false });
    } catch {
      // A request line or header node's server took but its client refuses to send.
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      res.end('400 Bad Request');
      return;
    }
    // While the exchange runs, the main thread's connection times it out: a stall on either side
    // stalls both, and its timeouts are the routed path's (a wait for the upload limiter has none).
    const client = req.socket;
    client.setTimeout(0);
    res.once('close', () => {
      if (!client.destroyed) client.setTimeout(this.idleMs);
    });
    const dropClient = () => {
      if (!res.writableFinished) res.destroy();
    };
    upstream.on('error', () => {
      // Before an answer: the main thread dropped the request (a stalled upload, shutdown), and
      // the client's connection goes too, as it would have on the main thread. After: the answer
      // stream says how it ended.
      if (!answered) dropClient();
    });
    upstream.on('response', (answer) => {
      answered = true;
      const out: string[] = [];
      const araw = answer.rawHeaders;
      let hasDate = false;
      for (let i = 0; i < araw.length; i += 2) {
        const name = araw[i].toLowerCase();
        if (ANSWER_HOP_BY_HOP.has(name)) continue;
        if (name === 'date') hasDate = true;
        out.push(araw[i], araw[i + 1]);
      }
      res.sendDate = !hasDate;
      if (answer.headers.connection?.toLowerCase() === 'close') {
        // The main thread ends the exchange (an answer before the body was read): so does the client's connection.
        out.push('Connection', 'close');
        lingerOnClose(req.socket);
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
      answer.on('error', dropClient);
      answer.on('aborted', dropClient);
      answer.pipe(res);
    });
    res.on('close', () => {
      // The client went away first: the main thread stops working for it.
      if (!res.writableFinished) upstream.destroy();
    });
    if (body !== undefined) {
      upstream.end(body);
    } else {
      req.pipe(upstream);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
