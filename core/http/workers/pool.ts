// The HTTP worker threads (-workers N, N ≥ 2): started before the server announces itself, given
// the main thread's answers to their calls, replaced when one dies, drained on shutdown. The main
// thread keeps the store, gRPC and the heartbeat, and serves what the workers forward through an
// internal unix socket per listener in a directory only this user can open.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { RequestCounters } from '../request-counters.js';
import { PEER_HEADER, type MainMessage, type WorkerCallHandler, type WorkerListener, type WorkerMessage, type WorkerSetup } from './protocol.js';

/** A replacement for a worker that died waits this long, doubling up to RESPAWN_MAX_MS while they keep dying. */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 10_000;
/** A worker that ran this long before dying resets the wait. */
const HEALTHY_RUN_MS = 30_000;

export interface WorkerPoolOptions {
  count: number;
  listeners: { listener: WorkerListener; host: string; port: number; server: (prepare: (req: IncomingMessage) => void) => Server }[];
  serverHeader: string;
  idleTimeoutSeconds: number;
  fastPathModules: string[];
  calls: Map<string, WorkerCallHandler>;
  counters: RequestCounters;
  logger: Logger;
}

/** Takes the client address a worker forwarded and hides the header from the handlers. */
export function adoptForwardedPeer(req: IncomingMessage): void {
  const peer = req.headers[PEER_HEADER];
  delete req.headers[PEER_HEADER];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i].toLowerCase() === PEER_HEADER) raw.splice(i, 2);
  // A unix socket has no peer address; the handlers (whitelist, logs) read the client's here.
  const address = typeof peer === 'string' ? peer : '';
  Object.defineProperty(req.socket, 'remoteAddress', { value: address, configurable: true, writable: true });
  Object.defineProperty(req.socket, 'remoteFamily', { value: address.includes(':') ? 'IPv6' : 'IPv4', configurable: true, writable: true });
}

/** Fails like a plain bind when another process holds the port (reusePort alone would share it with another of us). */
async function checkPortFree(host: string, port: number): Promise<void> {
  const probe: NetServer = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

export class HttpWorkerPool {
  private readonly workers = new Set<Worker>();
  private readonly internal: Server[] = [];
  private dir = '';
  private setup: WorkerSetup | undefined;
  private stopping = false;
  private respawnMs = RESPAWN_MIN_MS;
  private respawnTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WorkerPoolOptions) {}

  async start(): Promise<void> {
    const { opts } = this;
    for (const l of opts.listeners) await checkPortFree(l.host, l.port);
    this.dir = mkdtempSync(join(tmpdir(), 'weed-volume-http-'));
    const listeners: WorkerSetup['listeners'] = [];
    for (const l of opts.listeners) {
      const internalPath = join(this.dir, `${l.listener}.sock`);
      const server = l.server(adoptForwardedPeer);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: internalPath }, () => resolve());
      });
      this.internal.push(server);
      listeners.push({ listener: l.listener, host: l.host, port: l.port, internalPath });
    }
    this.setup = {
      listeners,
      serverHeader: opts.serverHeader,
      idleTimeoutSeconds: opts.idleTimeoutSeconds,
      fastPathModules: opts.fastPathModules,
    };
    // Every worker binds once all have loaded, so the port opens as a whole (see worker-thread.ts).
    let openPorts = () => {};
    const gate = new Promise<void>((resolve) => {
      openPorts = resolve;
    });
    const spawned = Array.from({ length: opts.count }, () => this.spawn(gate));
    // Awaited below unless startup fails first; then they end unawaited.
    for (const w of spawned) w.listening.catch(() => undefined);
    try {
      await Promise.all(spawned.map((w) => w.ready));
    } finally {
      openPorts();
    }
    await Promise.all(spawned.map((w) => w.listening));
    opts.logger.info({ workers: opts.count }, 'http worker threads listening');
  }

  /**
   * Starts one worker: `ready` once it has loaded, then it binds when `gate` resolves; `listening`
   * once it listens. Both reject if it dies first.
   */
  private spawn(gate: Promise<void> = Promise.resolve()): { ready: Promise<void>; listening: Promise<void> } {
    const { logger, calls, counters } = this.opts;
    const worker = new Worker(new URL('./worker-thread.js', import.meta.url), { workerData: this.setup, name: 'http-worker' });
    this.workers.add(worker);
    const started = Date.now();
    // Answers ready in one turn of the event loop go back in one message.
    let outbox: unknown[] = [];
    const flushReplies = () => {
      const replies = outbox;
      outbox = [];
      worker.postMessage({ t: 'replies', replies } satisfies MainMessage);
    };
    const reply = (id: unknown, error: string, result: unknown) => {
      if (outbox.length === 0) setImmediate(flushReplies);
      outbox.push(id, error, result);
    };
    let markReady = () => {};
    let failReady: (e: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    // A rejection nobody awaits (a respawned worker) is reported through the listening promise.
    ready.catch(() => undefined);
    const listening = new Promise<void>((resolve, reject) => {
      let listening = false;
      let failure: Error | undefined;
      worker.on('message', (m: WorkerMessage) => {
        switch (m.t) {
          case 'calls': {
            const c = m.calls;
            for (let i = 0; i < c.length; i += 3) {
              const id = c[i];
              const handler = calls.get(c[i + 1] as string);
              if (!handler) {
                reply(id, '', undefined);
                continue;
              }
              let result: unknown;
              try {
                result = handler(c[i + 2]);
              } catch (e) {
                reply(id, (e as Error).message || 'call failed', undefined);
                continue;
              }
              if (result instanceof Promise) {
                result.then(
                  (r: unknown) => reply(id, '', r),
                  (e: unknown) => reply(id, (e as Error).message || 'call failed', undefined),
                );
              } else {
                reply(id, '', result);
              }
            }
            return;
          }
          case 'stats': {
            const e = m.entries;
            const metrics = counters.metrics;
            for (let i = 0; i < e.length; i += 3) {
              counters.count(e[i] as string);
              metrics?.done(e[i] as string, e[i + 1] as number, e[i + 2] as number);
            }
            return;
          }
          case 'ready':
            markReady();
            void gate.then(() => worker.postMessage({ t: 'listen' } satisfies MainMessage));
            return;
          case 'listening':
            listening = true;
            resolve();
            return;
          case 'log':
            logger.error({ err: m.err, threadId: worker.threadId }, m.msg);
            return;
        }
      });
      worker.on('error', (err) => {
        failure = err;
      });
      worker.on('exit', (code) => {
        this.workers.delete(worker);
        if (!listening) {
          const err = failure ?? new Error(`http worker exited with code ${code} before listening`);
          failReady(err);
          reject(err);
          if (!this.stopping && this.setup && this.workers.size > 0) this.scheduleRespawn();
          return;
        }
        if (this.stopping) return;
        logger.error({ threadId: worker.threadId, code, err: failure }, 'http worker exited; starting a new one');
        if (Date.now() - started > HEALTHY_RUN_MS) this.respawnMs = RESPAWN_MIN_MS;
        this.scheduleRespawn();
      });
    });
    return { ready, listening };
  }

  private scheduleRespawn(): void {
    if (this.stopping) return;
    const wait = this.respawnMs;
    this.respawnMs = Math.min(RESPAWN_MAX_MS, this.respawnMs * 2);
    const timer = setTimeout(() => {
      if (this.stopping) return;
      this.spawn().listening.catch((err: unknown) => this.opts.logger.error({ err }, 'http worker failed to start'));
    }, wait);
    timer.unref();
    this.respawnTimer = timer;
  }

  /** How many workers run now. */
  get size(): number {
    return this.workers.size;
  }

  /** Workers stop accepting and finish what they serve (at most graceMs); then the internal sockets close. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    const exits = [...this.workers].map(
      (w) =>
        new Promise<void>((resolve) => {
          w.once('exit', () => resolve());
          w.postMessage({ t: 'stop', graceMs } satisfies MainMessage);
        }),
    );
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, graceMs + 1000))]);
    await Promise.all([...this.workers].map((w) => w.terminate()));
    for (const s of this.internal) {
      s.close();
      s.closeAllConnections();
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
