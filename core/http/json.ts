// JSON replies as Go's writeJson produces them: compact (or 2-space indented with ?pretty=…),
// `<`, `>` and `&` escaped, nosniff, and no JSONP even when ?callback= is given.
import type { FastifyReply, FastifyRequest } from 'fastify';

export function goJsonStringify(value: unknown, pretty: boolean): string {
  const text = pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
  if (!/[<>&]/.test(text)) return text;
  return text.replace(/[<>&]/g, (c) => (c === '<' ? '\\u003c' : c === '>' ? '\\u003e' : '\\u0026'));
}

export function wantsPretty(request: FastifyRequest): boolean {
  const q = request.query as Record<string, unknown> | undefined;
  const p = q?.pretty;
  return typeof p === 'string' ? p !== '' : Array.isArray(p) ? p.length > 0 && p[0] !== '' : false;
}

/** The headers of every JSON answer (flat name/value list), for fastify replies and fast paths alike. */
export const JSON_ANSWER_HEADERS: readonly string[] = ['Content-Type', 'application/json; charset=utf-8', 'X-Content-Type-Options', 'nosniff'];

export function sendJson(request: FastifyRequest, reply: FastifyReply, status: number, value: unknown): FastifyReply {
  reply.code(status);
  for (let i = 0; i < JSON_ANSWER_HEADERS.length; i += 2) reply.header(JSON_ANSWER_HEADERS[i], JSON_ANSWER_HEADERS[i + 1]);
  return reply.send(goJsonStringify(value, wantsPretty(request)));
}

export function sendJsonError(request: FastifyRequest, reply: FastifyReply, status: number, message: string): FastifyReply {
  return sendJson(request, reply, status, { error: message });
}
