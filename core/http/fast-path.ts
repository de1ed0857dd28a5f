// Fast paths: a plugin may answer the simplest, most frequent requests (a plain GET of a small
// needle, a small upload) straight on node's request/response, before fastify routes them. The
// decision is synchronous and all-or-nothing: a fast path either takes the request and returns
// true, or touches nothing and returns false, and the request takes the routed path. It takes a
// request by sending a complete answer through `FastReply.send` at once, or by `FastReply.claim`
// when the answer needs what is still to arrive (an upload's body); from then on it owns the
// request and must answer it (or destroy it) itself.
// Per-request routing, hooks and reply objects cost more than reading a 1 KB needle.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A claimed request's answer, sent later. */
export interface FastAnswer {
  /** The request id the answer will carry (for log lines written before it is sent). */
  readonly id: string;
  /** Sends status, the plugin's headers (flat name/value list) and body, plus what every answer carries. */
  send(status: number, headers: string[], body: Buffer | undefined): void;
}

export interface FastReply {
  /** Sends status, the plugin's headers (flat name/value list) and body, plus what every answer carries. */
  send(req: IncomingMessage, res: ServerResponse, status: number, headers: string[], body: Buffer | undefined): void;
  /** Takes the request for an answer sent later: counted and timed from now, as the routed path does. */
  claim(req: IncomingMessage, res: ServerResponse): FastAnswer;
}

export type FastPath = (req: IncomingMessage, res: ServerResponse, reply: FastReply) => boolean;
