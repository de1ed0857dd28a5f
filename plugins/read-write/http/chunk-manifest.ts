// Chunk manifests (needle flag 0x80): loading as Go's LoadChunkManifest does
// (weed/operation/chunked_file.go: DecompressData, then json.Unmarshal into ChunkManifest:
// case-insensitive keys, strict types, chunks sorted by offset), bounded in size, and reading the
// logical file they describe by fetching each chunk from a volume server that holds it.
import type { IncomingMessage } from 'node:http';
import { peerGet } from '../../../core/tls/peer-http.js';
import { vsError } from '../../../core/errors.js';
import { inflateBounded, isGzipMagic, TOO_LARGE } from './inflate.js';

/**
 * Most bytes of manifest JSON held in memory (after inflating a gzip-stored one). Go reads a whole
 * manifest into memory, and a manifest is small: an entry is ~60 bytes, so 16 MiB list ~280k
 * chunks, over 1 TiB at weed upload's default 4 MiB chunks. Past it a manifest is refused
 * (VS_ERR_INFLATE_LIMIT) instead of being inflated or parsed whole: a gzip bomb stored with cm=true
 * would otherwise cost its inflated size in memory and block the event loop in JSON.parse.
 */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export interface ChunkInfo {
  fid: string;
  offset: number;
  size: number;
}

export interface ChunkManifest {
  name: string;
  mime: string;
  size: number;
  chunks: ChunkInfo[];
}

export class ManifestError extends Error {}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Finds the value for Go field `field` in a decoded object: exact key, else case-insensitive (last wins). */
function fieldValue(obj: Record<string, unknown>, field: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, field)) return obj[field];
  let found: unknown;
  for (const k of Object.keys(obj)) if (k.toLowerCase() === field) found = obj[k];
  return found;
}

function stringField(obj: Record<string, unknown>, field: string): string {
  const v = fieldValue(obj, field);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new ManifestError(`json: cannot unmarshal ${typeof v} into Go struct field .${field} of type string`);
  return v;
}

function intField(obj: Record<string, unknown>, field: string): number {
  const v = fieldValue(obj, field);
  if (v === undefined || v === null) return 0;
  if (!isInt(v)) throw new ManifestError(`json: cannot unmarshal ${typeof v} into Go struct field .${field} of type int64`);
  return v;
}

/**
 * The manifest JSON of a manifest needle's data: inflated off the event loop when `compressed`
 * (bytes that do not inflate are kept: they then fail to parse, as in Go). Throws
 * VS_ERR_INFLATE_LIMIT when the JSON would pass MAX_MANIFEST_BYTES.
 */
export async function manifestJson(data: Uint8Array, compressed: boolean): Promise<Buffer> {
  let bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  if (compressed && isGzipMagic(bytes)) {
    const inflated = await inflateBounded(bytes, MAX_MANIFEST_BYTES);
    if (inflated === TOO_LARGE) throw vsError('VS_ERR_INFLATE_LIMIT', 'chunk manifest', MAX_MANIFEST_BYTES);
    bytes = inflated;
  }
  if (bytes.length > MAX_MANIFEST_BYTES) throw vsError('VS_ERR_INFLATE_LIMIT', 'chunk manifest', MAX_MANIFEST_BYTES);
  return bytes;
}

/** Go's LoadChunkManifest: manifestJson, then parseChunkManifest. */
export async function loadChunkManifest(data: Uint8Array, compressed: boolean): Promise<ChunkManifest> {
  return parseChunkManifest(await manifestJson(data, compressed));
}

/** Parses manifest JSON. Throws ManifestError when Go's Unmarshal would fail. */
export function parseChunkManifest(bytes: Uint8Array): ChunkManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch (e) {
    throw new ManifestError((e as Error).message);
  }
  const cm: ChunkManifest = { name: '', mime: '', size: 0, chunks: [] };
  if (doc === null) return cm;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ManifestError('json: cannot unmarshal into Go value of type operation.ChunkManifest');
  const obj = doc as Record<string, unknown>;
  cm.name = stringField(obj, 'name');
  cm.mime = stringField(obj, 'mime');
  cm.size = intField(obj, 'size');
  const chunks = fieldValue(obj, 'chunks');
  if (chunks !== undefined && chunks !== null) {
    if (!Array.isArray(chunks)) throw new ManifestError('json: cannot unmarshal into Go struct field ChunkManifest.chunks of type operation.ChunkList');
    for (const c of chunks) {
      if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new ManifestError('json: invalid chunk entry');
      const co = c as Record<string, unknown>;
      cm.chunks.push({ fid: stringField(co, 'fid'), offset: intField(co, 'offset'), size: intField(co, 'size') });
    }
  }
  cm.chunks.sort((a, b) => a.offset - b.offset);
  return cm;
}

/** Σ chunk sizes: the length of the logical file. */
export function manifestTotalSize(chunks: ChunkInfo[]): number {
  let n = 0;
  for (const c of chunks) n += c.size;
  return n;
}

/** Where chunk fids are resolved to URLs (master lookup, cached) and told about failures. */
export interface ChunkLocator {
  /** `http://host:port/<fid>` candidates for a chunk, best first. */
  urls(fid: string): Promise<string[]>;
  /** Drops cached locations of a volume after a failed fetch. */
  invalidate(fid: string): void;
}

export class ChunkReadError extends Error {}

function fetchChunk(url: string, offset: number, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const req = peerGet(url, { headers, signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 416) {
        res.resume();
        reject(new ChunkReadError('Invalid range'));
      } else if (status === 200 && offset > 0) {
        res.resume();
        reject(new ChunkReadError('Range requests are not supported by the remote server'));
      } else if (status !== 200 && status !== 206) {
        res.resume();
        reject(new ChunkReadError(`${url}: ${status} ${res.statusMessage ?? ''}`.trim()));
      } else {
        resolve(res);
      }
    });
    req.on('error', reject);
  });
}

/**
 * Yields bytes [start, start+length) of the logical file: from the chunk that contains `start`,
 * then the following chunks in offset order (Go's ChunkedFileReader.WriteTo), each fetched with a
 * `Range: bytes=<off>-` when starting inside it. A chunk is tried on each location in turn until
 * one answers; once bytes of a chunk were delivered a failure ends the stream with an error.
 */
export async function* readChunkedRange(
  chunks: ChunkInfo[],
  start: number,
  length: number,
  locator: ChunkLocator,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  if (length <= 0) return;
  let index = -1;
  let within = 0;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    if (start >= c.offset && start < c.offset + c.size) {
      index = i;
      within = start - c.offset;
      break;
    }
  }
  if (index < 0) throw new ChunkReadError('Invalid range');
  let remaining = length;
  for (; index < chunks.length && remaining > 0; index++) {
    const c = chunks[index];
    const want = Math.min(c.size - within, remaining);
    let delivered = 0;
    let lastErr: unknown;
    const urls = await locator.urls(c.fid);
    for (const url of urls) {
      let res: IncomingMessage;
      try {
        res = await fetchChunk(url, within, signal);
      } catch (e) {
        lastErr = e;
        if (signal?.aborted) throw e;
        locator.invalidate(c.fid);
        continue;
      }
      try {
        for await (const piece of res as AsyncIterable<Buffer>) {
          const take = Math.min(piece.length, want - delivered);
          if (take > 0) {
            delivered += take;
            yield take === piece.length ? piece : piece.subarray(0, take);
          }
          if (delivered >= want) break;
        }
      } finally {
        if (!res.complete) res.destroy();
      }
      if (delivered < want) {
        throw new ChunkReadError(`${url}: ${delivered} of ${want} bytes: unexpected EOF`);
      }
      lastErr = undefined;
      break;
    }
    if (delivered < want) {
      throw lastErr instanceof Error ? lastErr : new ChunkReadError(`chunk ${c.fid}: no location`);
    }
    remaining -= want;
    within = 0;
  }
}
