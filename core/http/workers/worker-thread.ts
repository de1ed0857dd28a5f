// An HTTP worker thread (pool.ts starts them): it listens on the server's ports beside the other
// workers (reusePort: the kernel spreads connections), answers what the plugins' worker fast paths
// take by asking the main thread (which owns every volume), and forwards the rest to the main
// thread's routed handlers (forward.ts). It holds no volume state, so every answer is as current
// as the main thread's.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { writeCompleteAnswer } from '../answer.js';
import { answerClientError } from '../client-error.js';
import { oneAtATimePerConnection } from '../one-at-a-time.js';
import { newRequestId } from '../request-id.js';
import { applyConnectionTimeouts } from '../timeouts.js';
import { MainForwarder } from './forward.js';
import type { MainMessage, WorkerExchange, WorkerFastPath, WorkerFastPathModule, WorkerMessage, WorkerSetup } from './protocol.js';

/** How often answered requests are reported to the main thread's counters and metrics. */
const STATS_FLUSH_MS = 50;

function parentOf(): MessagePort {
  if (!parentPort) throw new Error('worker-thread.js runs as a worker thread');
  return parentPort;
}
const port = parentOf();
const setup = workerData as WorkerSetup;

const post = (m: WorkerMessage) => port.postMessage(m);

// ---------------------------------------------------------------- calls to the main thread
// Calls made during one turn of the event loop go in one message: a message costs the main
// thread more than answering a small read does.
let nextCallId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let outbox: unknown[] = [];
const flushCalls = () => {
  const calls = outbox;
  outbox = [];
  post({ t: 'calls', calls });
};
function call(kind: string, payload: unknown): Promise<unknown> {
  const id = nextCallId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    if (outbox.length === 0) setImmediate(flushCalls);
    outbox.push(id, kind, payload);
  });
}

// ---------------------------------------------------------------- counters of answered requests
let stats: (string | number)[] = [];
const flushStats = () => {
  if (stats.length === 0) return;
  post({ t: 'stats', entries: stats });
  stats = [];
};
setInterval(flushStats, STATS_FLUSH_MS).unref();

// ---------------------------------------------------------------- listeners
const servers: Server[] = [];
const forwarders: MainForwarder[] = [];

/** Builds each listener's server (its modules loaded); nothing listens yet. */
async function prepare(): Promise<void> {
  for (const l of setup.listeners) {
    const forwarder = new MainForwarder(l.internalPath, Math.max(0, Math.floor(setup.idleTimeoutSeconds)) * 1000);
    forwarders.push(forwarder);
    const paths: WorkerFastPath[] = [];
    for (const url of setup.fastPathModules) {
      const mod = (await import(url)) as WorkerFastPathModule;
      paths.push(mod.createWorkerFastPath({ listener: l.listener, call }));
    }
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      const start = performance.now();
      let taken: WorkerExchange | undefined;
      const take = (): WorkerExchange => {
        const id = newRequestId();
        taken = {
          id,
          send(status, headers, body) {
            stats.push(req.method ?? '', status, (performance.now() - start) / 1000);
            writeCompleteAnswer(req, res, setup.serverHeader, id, status, headers, body);
          },
          forward(body) {
            forwarder.forward(req, res, body);
          },
        };
        return taken;
      };
      for (let i = 0; i < paths.length; i++) {
        try {
          if (paths[i](req, res, take)) return;
        } catch (err) {
          // A fast path that throws before answering leaves the request to the routed path.
          post({ t: 'log', msg: 'worker fast path failed', err: String((err as Error)?.stack ?? err) });
          if (taken || res.headersSent) {
            res.destroy();
            return;
          }
        }
      }
      forwarder.forward(req, res);
    };
    const server = createServer(oneAtATimePerConnection(handle));
    server.on('clientError', answerClientError);
    applyConnectionTimeouts(server, setup.idleTimeoutSeconds);
    servers.push(server);
  }
}

/** Binds every listener beside the other workers'. */
async function listen(): Promise<void> {
  for (let i = 0; i < servers.length; i++) {
    const server = servers[i];
    const l = setup.listeners[i];
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: l.host, port: l.port, reusePort: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }
}

/** Stops accepting, lets in-flight requests finish (at most graceMs), then leaves. */
async function stop(graceMs: number): Promise<void> {
  // A keep-alive connection becomes idle when its answer is out: closed then, not at the deadline.
  let deadline: NodeJS.Timeout | undefined;
  const sweep = setInterval(() => {
    for (const s of servers) s.closeIdleConnections();
  }, 50);
  await Promise.race([
    Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeIdleConnections();
          }),
      ),
    ),
    new Promise((r) => {
      deadline = setTimeout(r, graceMs);
    }),
  ]);
  // Nothing may keep the thread's event loop alive once it is done: it exits when the loop is empty.
  clearTimeout(deadline);
  clearInterval(sweep);
  for (const s of servers) s.closeAllConnections();
  for (const f of forwarders) f.close();
  flushStats();
  port.close();
}

port.on('message', (m: MainMessage) => {
  if (m.t === 'replies') {
    const r = m.replies;
    for (let i = 0; i < r.length; i += 3) {
      const p = pending.get(r[i] as number);
      if (!p) continue;
      pending.delete(r[i] as number);
      if (r[i + 1] !== '') p.reject(new Error(r[i + 1] as string));
      else p.resolve(r[i + 2]);
    }
  } else if (m.t === 'listen') {
    listen().then(
      () => post({ t: 'listening' }),
      (err: unknown) => {
        // The pool logs the exit with this error.
        throw err;
      },
    );
  } else if (m.t === 'stop') {
    void stop(m.graceMs);
  }
});

// Loading modules takes a while: the pool binds every worker only once all are ready, so the port
// opens (which callers take as "the server is up") when the main thread is about to announce itself.
prepare().then(
  () => post({ t: 'ready' }),
  (err: unknown) => {
    throw err;
  },
);
