// File-id JWT checks for the store handlers (Go's weed/server/volume_server_handlers.go
// maybeCheckJwtAuthorization) and the write whitelist (weed/security/guard.go checkWhiteList).
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { Cradle } from '../../../core/container.js';
import { tokenFromRequest, verifyJwt } from '../../../core/security/jwt.js';

/** The claim a request must carry: `<vid>,<fid>` with the literal vid text and any `_delta` removed. */
export function claimFid(vidText: string, fidText: string): string {
  let fid = fidText;
  const sep = fid.lastIndexOf('_');
  if (sep > 0) fid = fid.slice(0, sep);
  return `${vidText},${fid}`;
}

/**
 * Go's maybeCheckJwtAuthorization. `fidForClaim` is `<vid>,<fid>` (a `_delta` suffix is removed
 * here too). Writes and deletes use the write key, reads the read key; no key configured → allowed.
 * Only the first token source present (query `jwt`, Authorization bearer, cookie `AT`) is checked.
 */
export function checkJwt(cradle: Cradle, request: FastifyRequest, fidForClaim: string, isWrite: boolean): boolean {
  return jwtAllows(cradle, (request.query ?? {}) as Record<string, unknown>, request.headers, fidForClaim, isWrite);
}

/** checkJwt from the parsed query and the headers (the fast paths have no fastify request). */
export function jwtAllows(
  cradle: Cradle,
  query: Record<string, unknown>,
  headers: IncomingHttpHeaders,
  fidForClaim: string,
  isWrite: boolean,
): boolean {
  const security = cradle.config.security;
  const key = isWrite ? security.jwtSigning.key : security.jwtSigningRead.key;
  if (!key) return true;
  const token = tokenFromRequest(query, headers);
  if (!token) return false;
  const claims = verifyJwt(key, token);
  if (!claims) return false;
  const comma = fidForClaim.indexOf(',');
  const expected = comma >= 0 ? claimFid(fidForClaim.slice(0, comma), fidForClaim.slice(comma + 1)) : fidForClaim;
  return claims.fid === expected;
}

/** Whitelist check for writes and deletes on the admin port: false → 401 empty. */
export function isWriteAllowed(cradle: Cradle, request: FastifyRequest): boolean {
  return isWriteAllowedFrom(cradle, request.raw.socket.remoteAddress);
}

/** isWriteAllowed from the TCP peer address. */
export function isWriteAllowedFrom(cradle: Cradle, remoteAddress: string | undefined): boolean {
  return cradle.guard.isWhiteListed(remoteAddress ?? '');
}
