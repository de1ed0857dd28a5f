// What the main thread and the HTTP worker threads (pool.ts, worker-thread.ts) say to each other.
// The main thread owns the store; a worker owns client connections. A worker asks the main thread
// to do what touches volumes (a `call`, answered by the handler a plugin registered under that
// kind) and forwards every request it does not answer itself over an internal socket.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type WorkerListener = 'admin' | 'public';

/** The header a worker names the client's address in on a forwarded request (removed before routing). */
export const PEER_HEADER = 'x-seaweed-worker-peer';

/** Given to each worker thread as its workerData. */
export interface WorkerSetup {
  listeners: { listener: WorkerListener; host: string; port: number; internalPath: string }[];
  serverHeader: string;
  idleTimeoutSeconds: number;
  /** Module URLs exporting `createWorkerFastPath` (see WorkerFastPathModule). */
  fastPathModules: string[];
}

/** worker → main */
export type WorkerMessage =
  | { t: 'ready' }
  | { t: 'listening' }
  /** Calls made in one turn of the worker's event loop: id, kind, payload; three entries each. */
  | { t: 'calls'; calls: unknown[] }
  /** Requests the worker answered itself: method, status, seconds; three entries each. */
  | { t: 'stats'; entries: (string | number)[] }
  | { t: 'log'; msg: string; err: string };

/** main → worker */
export type MainMessage =
  /** Answers ready in one turn of the main thread's event loop: id, error message or '' when none, result; three entries each. */
  | { t: 'replies'; replies: unknown[] }
  | { t: 'listen' }
  | { t: 'stop'; graceMs: number };

/** A request a worker fast path took: answered here or handed to the main thread's routed path. */
export interface WorkerExchange {
  /** The request id the answer carries. */
  readonly id: string;
  /** Sends the answer: status, the plugin's headers (flat name/value list) and body, plus the base headers. */
  send(status: number, headers: string[], body: Uint8Array | undefined): void;
  /** Forwards the request to the main thread; `body` is what of its body was already read (all of it). */
  forward(body?: Buffer): void;
}

export interface WorkerFastPathContext {
  listener: WorkerListener;
  /** Asks the main thread; resolves with what the handler registered for `kind` answered. */
  call(kind: string, payload: unknown): Promise<unknown>;
}

/**
 * Decides synchronously from the request line and headers; to take the request it calls `take()`
 * and answers or forwards through the exchange, else returns false and the request is forwarded.
 */
export type WorkerFastPath = (req: IncomingMessage, res: ServerResponse, take: () => WorkerExchange) => boolean;

/** What a module named in WorkerSetup.fastPathModules exports. */
export interface WorkerFastPathModule {
  createWorkerFastPath(ctx: WorkerFastPathContext): WorkerFastPath;
}

/** A main-thread answer to a worker's call; may be async. `undefined` lets the request take the routed path. */
export type WorkerCallHandler = (payload: unknown) => unknown;
