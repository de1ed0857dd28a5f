// DELETE of a file id. (Being built.)
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import { sendJsonError } from '../../../core/http/json.js';

export function deleteHandler(_cradle: Cradle) {
  return async (request: FastifyRequest, reply: FastifyReply) => sendJsonError(request, reply, 501, 'delete path not built yet');
}
