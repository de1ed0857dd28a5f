// Fast paths: a plugin may answer the simplest, most frequent requests (a plain GET of a small
// needle) straight on node's request/response, before fastify routes them. A fast path is
// synchronous and all-or-nothing: it either sends a complete answer through `FastReply.send` and
// returns true, or touches nothing and returns false, and the request takes the routed path.
// Per-request routing, hooks and reply objects cost more than reading a 1 KB needle.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface FastReply {
  /** Sends status, the plugin's headers (flat name/value list) and body, plus what every answer carries. */
  send(req: IncomingMessage, res: ServerResponse, status: number, headers: string[], body: Buffer | undefined): void;
}

export type FastPath = (req: IncomingMessage, res: ServerResponse, reply: FastReply) => boolean;
