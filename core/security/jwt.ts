// File-id JWTs as the Go servers issue them: HMAC-signed (HS256/384/512), claims {fid, exp, nbf}.
// The master signs with the write key for assigns; readers present a read-key token.
import { createHmac, timingSafeEqual } from 'node:crypto';

const HMAC_ALGS: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

export interface FileIdClaims {
  fid?: string;
  exp?: number;
  nbf?: number;
  [k: string]: unknown;
}

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

export function signFileIdJwt(key: string, fid: string, expiresAfterSeconds: number, now = Date.now()): string {
  const header = b64url(Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const claims: FileIdClaims = { fid };
  if (expiresAfterSeconds > 0) claims.exp = Math.floor(now / 1000) + expiresAfterSeconds;
  const payload = b64url(Buffer.from(JSON.stringify(claims)));
  const sig = b64url(createHmac('sha256', key).update(`${header}.${payload}`).digest());
  return `${header}.${payload}.${sig}`;
}

/** Verifies signature and time claims; returns the claims or undefined when the token is not valid. */
export function verifyJwt(key: string, token: string, now = Date.now()): FileIdClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  let header: { alg?: string };
  let claims: FileIdClaims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const alg = header && typeof header.alg === 'string' ? HMAC_ALGS[header.alg] : undefined;
  if (!alg || !claims || typeof claims !== 'object' || Array.isArray(claims)) return undefined;
  const expected = createHmac(alg, key).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  // golang-jwt refuses a time claim that is not a JSON number; one that is ignored would never expire.
  for (const t of [claims.exp, claims.nbf]) if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t))) return undefined;
  const nowSec = now / 1000;
  if (typeof claims.exp === 'number' && nowSec >= claims.exp) return undefined;
  if (typeof claims.nbf === 'number' && nowSec < claims.nbf) return undefined;
  return claims;
}

/** Go's GetJwt: `jwt` query parameter, then `Authorization: Bearer …`, then the `AT` cookie. */
export function tokenFromRequest(query: Record<string, unknown>, headers: Record<string, string | string[] | undefined>): string {
  const q = query.jwt;
  const fromQuery = Array.isArray(q) ? q[0] : q;
  if (typeof fromQuery === 'string' && fromQuery !== '') return fromQuery;
  const auth = headers.authorization;
  const bearer = Array.isArray(auth) ? auth[0] : auth;
  if (bearer && bearer.length > 7 && bearer.slice(0, 6).toUpperCase() === 'BEARER') return bearer.slice(7);
  const cookie = headers.cookie;
  const cookieText = Array.isArray(cookie) ? cookie.join('; ') : cookie;
  if (cookieText) {
    for (const part of cookieText.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === 'AT') return part.slice(eq + 1).trim();
    }
  }
  return '';
}
