// Go's ParseUpload (weed/storage/needle/needle_parse_upload.go ParseUpload/parseUpload, as
// weed/storage/needle/needle.go CreateNeedleFromRequest calls it): file name, type, pairs, gzip,
// compression, Content-MD5, ts/ttl/cm from an upload. The body is pulled from the socket chunk by
// chunk (upload-body.ts, multipart-reader.ts) and counted against the file size limit as it
// arrives, so an oversized upload is refused without being held in memory; big bodies are spooled
// to disk (upload-spool.ts). A gzip body is stored as sent and never inflated whole: its original
// size comes from the gzip trailer.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createGunzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Ttl } from '../../../core/storage/types.js';
import { parseMediaType } from './media-type.js';
// One MIME table and one sniffer for uploads and reads.
import { canonicalHeaderKey, detectContentType, goBase, goExt, typeByExtension } from './mime.js';
import { MultipartReader, type Part } from './multipart-reader.js';
import { type BodyReader, fileOverLimit, readLimited, UploadError } from './upload-body.js';
import { type GoForm, parseGoBool } from './upload-form.js';
import {
  BodyCollector,
  gzipSpool,
  gzipTrailerSizeOf,
  md5OfGunzippedFile,
  SPOOL_HEAD_SIZE,
  SPOOL_THRESHOLD,
  type CollectedBody,
  type SpoolFile,
  type SpoolTarget,
} from './upload-spool.js';

// write.ts imports the body reader from here; kept so its imports need not change.
export { BodyReader, drainRequest, fileOverLimit, UploadError } from './upload-body.js';

const gzipAsync = promisify(gzip);

// ------------------------------------------------------------------ reading parts and bodies

/** Go's util.CleanWindowsPathBase: backslashes count as separators too. */
function cleanWindowsPathBase(p: string): string {
  return goBase(p.replace(/\\/g, '/'));
}

/**
 * Collects a part's data up to limit+1 bytes (Go's LimitReader(sizeLimit+1) then the over-limit
 * check); past the spool threshold into a spool file (removed again on failure).
 */
async function readPartLimited(mr: MultipartReader, limit: number, spool: SpoolTarget | undefined, wantMd5: boolean): Promise<CollectedBody> {
  const c = new BodyCollector(spool, limit, () => fileOverLimit(limit), { wantMd5, copyChunks: true });
  try {
    await mr.readPartData((b) => c.push(b));
    return await c.end();
  } catch (e) {
    await c.discard();
    throw e;
  }
}

/** A raw body of unknown or large length: in memory up to the threshold, else spooled. */
async function readBodyLimited(body: BodyReader, limit: number, spool: SpoolTarget, wantMd5: boolean, spoolFromStart: boolean): Promise<CollectedBody> {
  const c = new BodyCollector(spool, limit, () => fileOverLimit(limit), { wantMd5, copyChunks: false, spoolFromStart });
  try {
    for (;;) {
      const chunk = await body.next();
      if (!chunk) break;
      const p = c.push(chunk);
      if (p) await p;
    }
    return await c.end();
  } catch (e) {
    await c.discard();
    throw e;
  }
}

async function readPartCapped(mr: MultipartReader, cap: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  await mr.readPartData((b) => {
    if (total >= cap) return;
    const take = b.subarray(0, cap - total);
    total += take.length;
    chunks.push(Buffer.from(take));
  });
  return Buffer.concat(chunks).toString('utf8');
}

// ------------------------------------------------------------------ ParseUpload

const CONTROL_FIELDS = new Set(['type', 'fsync', 'ts', 'ttl', 'cm']);
/** Longer values cannot be valid for any control field (Go caps `type`/`fsync` at 10 bytes). */
const CONTROL_FIELD_MAX = 32;

export interface UploadRequest {
  method: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  /** Percent-decoded URL path. */
  path: string;
  contentLength: number | undefined;
}

export interface ParsedUpload {
  fileName: string;
  data: Buffer;
  mimeType: string;
  pairs: Map<string, string>;
  isGzipped: boolean;
  originalSize: number;
  modifiedTime: number;
  ttl: Ttl;
  isChunkedFile: boolean;
  contentMd5: string;
  /**
   * Set when the body was larger than the spool threshold: the stored data is this file's content
   * (`data` is then empty). The caller must remove() it once the write is done.
   */
  spool?: SpoolFile;
}

function header(req: UploadRequest, name: string): string {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

/** Seaweed-* request headers → pairs (prefix kept here; first value of each). */
function pairHeaders(rawHeaders: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length <= 8 || (name.charCodeAt(0) | 0x20) !== 0x73) continue; // not "seaweed-…"
    const key = canonicalHeaderKey(name);
    if (key.startsWith('Seaweed-') && !out.has(key)) out.set(key, rawHeaders[i + 1]);
  }
  return out;
}

/** Go's util.IsCompressableFileType. */
export function isCompressable(ext: string, mtype: string): { should: boolean; sure: boolean } {
  ext = ext.toLowerCase();
  const semi = mtype.indexOf(';');
  if (semi >= 0) mtype = mtype.slice(0, semi).trim();
  mtype = mtype.toLowerCase();
  if (mtype.startsWith('text/')) return { should: true, sure: true };
  if (['.svg', '.bmp', '.wav'].includes(ext)) return { should: true, sure: true };
  if (mtype.startsWith('image/')) return { should: false, sure: true };
  if (['.zip', '.rar', '.gz', '.bz2', '.xz', '.zst', '.br'].includes(ext)) return { should: false, sure: true };
  if (['.pdf', '.txt', '.html', '.htm', '.css', '.js', '.json'].includes(ext)) return { should: true, sure: true };
  if (['.php', '.java', '.go', '.rb', '.c', '.cpp', '.h', '.hpp'].includes(ext)) return { should: true, sure: true };
  if (['.png', '.jpg', '.jpeg'].includes(ext)) return { should: false, sure: true };
  if (mtype.startsWith('application/')) {
    if (mtype.endsWith('zstd')) return { should: false, sure: true };
    if (mtype.endsWith('xml') || mtype.endsWith('script')) return { should: true, sure: true };
    if (mtype.endsWith('json') || mtype.endsWith('json-seq')) return { should: true, sure: true };
    if (mtype.endsWith('vnd.rar')) return { should: false, sure: true };
  }
  if (mtype.startsWith('audio/')) {
    if (['wave', 'wav', 'x-wav', 'x-pn-wav'].includes(mtype.slice(6))) return { should: true, sure: true };
  }
  return { should: false, sure: false };
}

/** Uncompressed length of a single-member gzip from its trailer (ISIZE, mod 2^32); undefined if not gzip. */
export function gzipTrailerSize(data: Uint8Array): number | undefined {
  if (data.length < 18 || data[0] !== 0x1f || data[1] !== 0x8b) return undefined;
  const p = data.length - 4;
  return (data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24)) >>> 0;
}

/** Most bytes a gzip body is inflated for an MD5 check; past this the compressed bytes are hashed (as Go does when inflating fails). */
const MAX_MD5_INFLATE_BYTES = 1024 * 1024 * 1024;

/** MD5 (base64) and length of the inflated stream, computed in bounded memory; undefined when it cannot be inflated within the cap. */
function md5OfGunzipped(data: Buffer): Promise<{ md5: string; size: number } | undefined> {
  return new Promise((resolve) => {
    const h = createHash('md5');
    let size = 0;
    let settled = false;
    const z = createGunzip();
    const finish = (v: { md5: string; size: number } | undefined) => {
      if (settled) return;
      settled = true;
      resolve(v);
    };
    z.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_MD5_INFLATE_BYTES) {
        z.destroy();
        finish(undefined);
        return;
      }
      h.update(c);
    });
    z.on('error', () => finish(undefined));
    z.on('end', () => finish({ md5: h.digest('base64'), size }));
    z.end(data);
  });
}

/**
 * Go's ParseUpload. `form` holds the query (and any urlencoded body); multipart `type`/`fsync`
 * fields are added to it when the query lacks them, as Go's parser does.
 */
export async function parseUpload(
  req: UploadRequest,
  body: BodyReader,
  form: GoForm,
  sizeLimit: number,
  bodyConsumed: boolean,
  spool?: SpoolTarget,
): Promise<ParsedUpload> {
  let current: CollectedBody | undefined;
  try {
    return await parseUploadInto(req, body, form, sizeLimit, bodyConsumed, spool, (b) => {
      current = b;
    });
  } catch (e) {
    await current?.spool?.remove();
    throw e;
  }
}

async function parseUploadInto(
  req: UploadRequest,
  body: BodyReader,
  form: GoForm,
  sizeLimit: number,
  bodyConsumed: boolean,
  spool: SpoolTarget | undefined,
  track: (b: CollectedBody) => void,
): Promise<ParsedUpload> {
  const pu: ParsedUpload = {
    fileName: '',
    data: Buffer.alloc(0),
    mimeType: '',
    pairs: pairHeaders(req.rawHeaders),
    isGzipped: false,
    originalSize: 0,
    modifiedTime: 0,
    ttl: Ttl.EMPTY,
    isChunkedFile: false,
    contentMd5: '',
  };
  let contentType = header(req, 'content-type');

  if (req.method === 'POST' && (contentType === '' || contentType.includes('form-data'))) {
    const mt = parseMediaType(contentType);
    if (!mt || (mt.type !== 'multipart/form-data' && mt.type !== 'multipart/mixed')) {
      throw new UploadError("request Content-Type isn't multipart/form-data");
    }
    const boundary = mt.params.boundary;
    if (!boundary) throw new UploadError('no multipart boundary param in Content-Type');
    const mr = new MultipartReader(body, boundary);
    // Text fields that act like query parameters when the query lacks them: `type` and `fsync`
    // (Go), and `ts`, `ttl`, `cm` (as the Rust server and the upstream suite's Rust profile do).
    const saveControl = (name: string, value: string) => {
      if (!CONTROL_FIELDS.has(name)) return;
      form.setIfAbsent(name, value.slice(0, CONTROL_FIELD_MAX));
    };
    const requestMd5 = header(req, 'content-md5') !== '';
    const take = (b: CollectedBody) => {
      track(b);
      pu.data = b.data;
      pu.spool = b.spool;
    };
    let part = await mr.nextPart();
    if (!part) throw new UploadError('EOF');
    pu.fileName = part.fileName === '' ? '' : cleanWindowsPathBase(part.fileName);
    take(await readPartLimited(mr, sizeLimit, spool, requestMd5 || part.headers.get('Content-MD5') !== ''));
    if (part.fileName === '') saveControl(part.formName, (pu.spool ? pu.spool.head : pu.data).toString('utf8'));
    contentType = part.headers.get('Content-Type');
    pu.contentMd5 = part.headers.get('Content-MD5');
    for (;;) {
      let p2: Part | null;
      try {
        p2 = await mr.nextPart();
      } catch {
        break;
      }
      if (!p2) break;
      if (pu.fileName === '' && p2.fileName !== '') {
        const previous = pu.spool;
        take(await readPartLimited(mr, sizeLimit, spool, requestMd5 || p2.headers.get('Content-MD5') !== ''));
        await previous?.remove();
        pu.fileName = cleanWindowsPathBase(p2.fileName);
        contentType = p2.headers.get('Content-Type');
        pu.contentMd5 = p2.headers.get('Content-MD5');
        part = p2;
        continue;
      }
      if (p2.fileName === '' && CONTROL_FIELDS.has(p2.formName)) {
        saveControl(p2.formName, await readPartCapped(mr, CONTROL_FIELD_MAX));
      }
    }
    pu.isGzipped = part.headers.get('Content-Encoding') === 'gzip';
  } else {
    const disposition = header(req, 'content-disposition');
    if (disposition.includes('name=')) {
      const d = disposition.startsWith('inline') || disposition.startsWith('attachment') ? disposition : 'attachment; ' + disposition;
      const mt = parseMediaType(d);
      if (mt) {
        if ('filename' in mt.params) pu.fileName = mt.params.filename;
        else if ('name' in mt.params) pu.fileName = mt.params.name;
      }
    }
    pu.fileName = pu.fileName !== '' ? cleanWindowsPathBase(pu.fileName) : goBase(req.path);
    if (req.contentLength !== undefined && req.contentLength > sizeLimit) throw fileOverLimit(sizeLimit);
    const threshold = spool?.threshold ?? SPOOL_THRESHOLD;
    if (bodyConsumed) {
      pu.data = Buffer.alloc(0);
    } else if (spool && (req.contentLength === undefined || req.contentLength > threshold)) {
      const b = await readBodyLimited(body, sizeLimit, spool, header(req, 'content-md5') !== '', req.contentLength !== undefined);
      track(b);
      pu.data = b.data;
      pu.spool = b.spool;
    } else {
      pu.data = await readLimited(body, sizeLimit);
    }
    pu.mimeType = contentType;
    pu.isGzipped = header(req, 'content-encoding') === 'gzip';
  }

  pu.isChunkedFile = parseGoBool(form.get('cm')) ?? false;
  const isReplicate = form.get('type') === 'replicate';
  if (isReplicate) {
    pu.mimeType = contentType;
  } else if (!pu.isChunkedFile) {
    const dot = pu.fileName.lastIndexOf('.');
    let mtype = '';
    if (dot > 0) mtype = typeByExtension(pu.fileName.slice(dot).toLowerCase());
    if (contentType !== '' && contentType !== 'application/octet-stream' && mtype !== contentType) pu.mimeType = contentType;
    else if (mtype !== '' && pu.mimeType === '' && mtype !== 'application/octet-stream') pu.mimeType = mtype;
  }

  const ts = form.get('ts');
  pu.modifiedTime = /^[0-9]+$/.test(ts) && BigInt(ts) < 1n << 64n ? Number(BigInt(ts) & ((1n << 64n) - 1n)) : 0;
  pu.ttl = Ttl.parseLenient(form.get('ttl'));

  const expected = header(req, 'content-md5') || pu.contentMd5;
  if (pu.spool) {
    await finishSpooled(pu, pu.spool, expected, isReplicate, spool!, track);
    return pu;
  }
  pu.originalSize = pu.data.length;
  let uncompressedMd5: string | undefined;
  if (pu.isGzipped) {
    if (expected !== '') {
      const r = await md5OfGunzipped(pu.data);
      if (r) {
        pu.originalSize = r.size;
        uncompressedMd5 = r.md5;
      }
    } else {
      const isize = gzipTrailerSize(pu.data);
      if (isize !== undefined) pu.originalSize = isize;
    }
  } else if (!isReplicate) {
    let mimeType = pu.mimeType;
    if (mimeType === '') mimeType = detectContentType(pu.data);
    if (mimeType === 'application/octet-stream') mimeType = '';
    const c = isCompressable(goExt(pu.fileName), mimeType);
    if (c.should && c.sure && pu.data.length > 0) {
      try {
        const compressed = await gzipAsync(pu.data);
        if (compressed.length * 10 < pu.data.length * 9) {
          uncompressedMd5 = expected !== '' ? createHash('md5').update(pu.data).digest('base64') : undefined;
          pu.data = compressed;
          pu.isGzipped = true;
        }
      } catch {
        /* keep the data uncompressed */
      }
    }
  }

  if (expected !== '') {
    const got = uncompressedMd5 ?? createHash('md5').update(pu.data).digest('base64');
    pu.contentMd5 = got;
    if (expected !== got) {
      throw new UploadError(`Content-MD5 did not match md5 of file data expected [${expected}] received [${got}] size ${pu.originalSize}`);
    }
  }
  return pu;
}

/** The end of ParseUpload for a spooled body: sizes, sniffing, compression and MD5 from the file, streamed. */
async function finishSpooled(
  pu: ParsedUpload,
  file: SpoolFile,
  expected: string,
  isReplicate: boolean,
  target: SpoolTarget,
  track: (b: CollectedBody) => void,
): Promise<void> {
  pu.originalSize = file.size;
  let uncompressedMd5: string | undefined;
  if (pu.isGzipped) {
    if (expected !== '') {
      const r = await md5OfGunzippedFile(file.path, MAX_MD5_INFLATE_BYTES);
      if (r) {
        pu.originalSize = r.size;
        uncompressedMd5 = r.md5;
      }
    } else {
      const isize = gzipTrailerSizeOf(file.head, file.tail, file.size);
      if (isize !== undefined) pu.originalSize = isize;
    }
  } else if (!isReplicate) {
    let mimeType = pu.mimeType;
    if (mimeType === '') mimeType = detectContentType(file.head.subarray(0, SPOOL_HEAD_SIZE));
    if (mimeType === 'application/octet-stream') mimeType = '';
    const c = isCompressable(goExt(pu.fileName), mimeType);
    if (c.should && c.sure && file.size > 0) {
      let gz: SpoolFile | undefined;
      try {
        gz = await gzipSpool(file, target.dirs);
      } catch {
        /* keep the data uncompressed */
      }
      if (gz && gz.size * 10 < file.size * 9) {
        uncompressedMd5 = expected !== '' ? file.md5Base64() : undefined;
        track({ data: pu.data, spool: gz });
        pu.spool = gz;
        pu.isGzipped = true;
        await file.remove();
      } else {
        await gz?.remove();
      }
    }
  }

  if (expected !== '') {
    const got = uncompressedMd5 ?? pu.spool!.md5Base64();
    pu.contentMd5 = got;
    if (expected !== got) {
      throw new UploadError(`Content-MD5 did not match md5 of file data expected [${expected}] received [${got}] size ${pu.originalSize}`);
    }
  }
}
