// AWS Signature Version 4 for the header-signed requests the tier download sends itself (Go signs
// them through aws-sdk-go's v4.Signer: weed/storage/backend/s3_backend/s3_sessions.go builds the
// session). Only what the tier transfers' own requests need: a GET without a body (the payload
// hash is that of the empty string) or a PUT whose body is not hashed (UNSIGNED-PAYLOAD, as the
// SDKs send streamed bodies); every header given is signed.
import { createHash, createHmac } from 'node:crypto';

export interface SigningKeys {
  accessKey: string;
  secretKey: string;
}

/** SHA-256 of the empty body, hex. */
export const EMPTY_BODY_SHA256 = createHash('sha256').update('').digest('hex');
/** The payload hash of a body sent without one. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** The ISO 8601 basic form SigV4 dates use: 20130524T000000Z. */
export function amzDate(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * An object key as the path of an S3 URL: every segment percent-encoded as RFC 3986 asks (what
 * the S3 SDKs send and sign; S3 takes the path as sent, no second encoding for the signature).
 */
export function encodeKeyPath(key: string): string {
  return key
    .split('/')
    .map(encodeUriPart)
    .join('/');
}

/** A path segment or query value as S3 URLs carry and sign it: percent-encoded as RFC 3986 asks. */
export function encodeUriPart(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const hmac = (key: string | Buffer, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

/** The canonical query string: the (already encoded) parameters sorted by name, then value. */
function canonicalQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .map((p) => (p.includes('=') ? p : `${p}=`))
    .sort((a, b) => {
      const [ka, va] = a.split('=', 2);
      const [kb, vb] = b.split('=', 2);
      return ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0;
    })
    .join('&');
}

/**
 * The headers of a signed request: `headers` plus host, x-amz-date, x-amz-content-sha256 (the
 * empty body's hash unless `payload` says otherwise) and authorization. `path` is the request
 * target as sent (already encoded, with its query string if any).
 */
export function signedHeaders(
  method: string,
  host: string,
  path: string,
  headers: Record<string, string>,
  keys: SigningKeys,
  region: string,
  service: string,
  at: Date,
  payload = EMPTY_BODY_SHA256,
): Record<string, string> {
  const date = amzDate(at);
  const day = date.slice(0, 8);
  const all: Record<string, string> = { host, 'x-amz-content-sha256': payload, 'x-amz-date': date };
  for (const [k, v] of Object.entries(headers)) all[k.toLowerCase()] = v;
  const names = Object.keys(all).sort();
  const signedNames = names.join(';');
  const q = path.indexOf('?');
  const canonicalPath = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : canonicalQuery(path.slice(q + 1));
  const canonical = [method, canonicalPath, query, ...names.map((n) => `${n}:${all[n].trim().replace(/\s+/g, ' ')}`), '', signedNames, payload].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical, 'utf8').digest('hex')].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${keys.secretKey}`, day), region), service), 'aws4_request');
  const signature = createHmac('sha256', signingKey).update(toSign, 'utf8').digest('hex');
  all.authorization = `AWS4-HMAC-SHA256 Credential=${keys.accessKey}/${scope}, SignedHeaders=${signedNames}, Signature=${signature}`;
  return all;
}
