// POST/PUT of a file id. (Being built.)
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import { sendJsonError } from '../../../core/http/json.js';

export function writeHandler(_cradle: Cradle) {
  return async (request: FastifyRequest, reply: FastifyReply) => sendJsonError(request, reply, 501, 'write path not built yet');
}
