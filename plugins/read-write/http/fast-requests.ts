// The request-line and header checks of the fast paths (no store state): which requests a fast
// read (read-fast.ts) or fast write (write-fast.ts) may take. Pure, so an HTTP worker thread
// (worker-fast.ts) makes the same decisions without loading the store.
import type { IncomingHttpHeaders } from 'node:http';
import { parseFid, parseVolumeId } from '../../../core/storage/file-id.js';
import { GoForm, parseQuery, rawQueryOf, rawPathOf } from './upload-form.js';
import { fidTextOf, parseUrlPath } from './url-path.js';

/** The request-line and header checks of a plain read. */
export function isPlainReadRequest(method: string | undefined, url: string, h: IncomingHttpHeaders): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (url.indexOf('?') >= 0 || url.indexOf('%') >= 0) return false;
  return h.range === undefined && h['if-none-match'] === undefined && h['if-modified-since'] === undefined;
}

/** Largest body the fast path takes: what a small upload is; larger ones stream through write.ts. */
export const FAST_WRITE_LIMIT = 64 * 1024;

/** Query parameters the fast path understands; any other (`cm`, `pretty`, ...) goes routed. */
const FAST_QUERY_KEYS = new Set(['ts', 'ttl', 'type', 'fsync', 'jwt']);

/** The query as a form, or undefined when it holds anything the fast path leaves to write.ts. */
function fastForm(url: string): GoForm | undefined {
  const query = rawQueryOf(url);
  if (query === '') return new GoForm();
  // No escapes: the query then reads the same to Go's parser and to fastify's (the JWT).
  if (query.indexOf('%') >= 0 || query.indexOf('+') >= 0 || query.indexOf(';') >= 0) return undefined;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (!FAST_QUERY_KEYS.has(eq < 0 ? part : part.slice(0, eq))) return undefined;
  }
  const { form, error } = parseQuery(query);
  return error ? undefined : form;
}

/** True when a request header is a `Seaweed-` pair (stored with the needle: write.ts's case). */
function hasPairHeaders(rawHeaders: string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length > 8 && (name.charCodeAt(0) | 0x20) === 0x73 && name.slice(0, 8).toLowerCase() === 'seaweed-') return true;
  }
  return false;
}

/** The parts of an upload request the fast write looks at. */
export interface FastWriteRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
}

/** A small upload the fast write may take, as far as its request line and headers tell (no store state). */
export interface FastWriteShape {
  length: number;
  form: GoForm;
  path: string;
  vid: number;
  fid: string;
}

/** The request-line and header checks of the fast write: a worker thread makes them too. */
export function fastWriteShape(r: FastWriteRequest): FastWriteShape | undefined {
  if (r.method !== 'POST' && r.method !== 'PUT') return undefined;
  const h = r.headers;
  const cl = h['content-length'];
  if (cl === undefined || h['transfer-encoding'] !== undefined || !/^[0-9]{1,6}$/.test(cl)) return undefined;
  const length = Number(cl);
  if (length > FAST_WRITE_LIMIT) return undefined;
  const ct = h['content-type'];
  if (ct !== undefined && ct.split(';', 1)[0].trim().toLowerCase() === 'application/x-www-form-urlencoded') return undefined;
  const path = rawPathOf(r.url);
  // `/vid,fid[.ext]` without escapes: the decoded path is the raw one.
  if (path.indexOf('%') >= 0 || path.indexOf('/', 1) >= 0 || path.indexOf(',') < 0) return undefined;
  const form = fastForm(r.url);
  if (!form || hasPairHeaders(r.rawHeaders)) return undefined;
  const parts = parseUrlPath(path);
  let vid: number;
  try {
    vid = parseVolumeId(parts.vid);
    parseFid(fidTextOf(path));
  } catch {
    return undefined;
  }
  return { length, form, path, vid, fid: `${parts.vid},${parts.fid}` };
}
