// Range requests as the Go volume server answers them (its parseRange / ProcessRangeRequest):
// `bytes=` specs, suffix and open ranges, 416 texts, the "no overlap" case, the oversized-sum
// guard, and multipart/byteranges framing byte-identical to Go's mime/multipart writer.
import { randomBytes } from 'node:crypto';

export interface ByteRange {
  start: number;
  length: number;
}

/** Parse failure: `message` is the text Go's http.Error writes (plus a newline). */
export class RangeError416 extends Error {
  constructor(
    message: string,
    /** errNoOverlap: the answer also carries `Content-Range: bytes *\/<size>`. */
    readonly noOverlap: boolean,
  ) {
    super(message);
  }
}

const INVALID = 'invalid range';
const NO_OVERLAP = 'invalid range: failed to overlap';
const INT64_MAX = 9223372036854775807n;

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function trim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s.charCodeAt(a))) a++;
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** strconv.ParseInt(s, 10, 64): a number (exact below 2^53; values past that only compare), or undefined. */
export function parseInt64(s: string): number | undefined {
  let i = 0;
  let neg = false;
  if (s.length > 0 && (s[0] === '+' || s[0] === '-')) {
    neg = s[0] === '-';
    i = 1;
  }
  if (i >= s.length) return undefined;
  for (let k = i; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c < 48 || c > 57) return undefined;
  }
  const digits = s.slice(i);
  if (digits.length > 15) {
    const big = BigInt(digits);
    if (neg ? big > INT64_MAX + 1n : big > INT64_MAX) return undefined;
  }
  const v = Number(digits);
  return neg ? -v : v;
}

/**
 * Parses a Range header for content of `size` bytes. Returns the ranges (possibly none, e.g. for
 * `bytes=`), or throws RangeError416.
 */
export function parseRange(s: string, size: number): ByteRange[] {
  if (s === '') return [];
  if (!s.startsWith('bytes=')) throw new RangeError416(INVALID, false);
  const ranges: ByteRange[] = [];
  let noOverlap = false;
  for (const raw of s.slice(6).split(',')) {
    const ra = trim(raw);
    if (ra === '') continue;
    const dash = ra.indexOf('-');
    if (dash < 0) throw new RangeError416(INVALID, false);
    const startText = trim(ra.slice(0, dash));
    const endText = trim(ra.slice(dash + 1));
    let start: number;
    let length: number;
    if (startText === '') {
      if (endText === '' || endText[0] === '-') throw new RangeError416(INVALID, false);
      let n = parseInt64(endText);
      if (n === undefined || n < 0) throw new RangeError416(INVALID, false);
      if (n > size) n = size;
      start = size - n;
      if (start >= size) {
        noOverlap = true;
        continue;
      }
      length = size - start;
    } else {
      const a = parseInt64(startText);
      if (a === undefined || a < 0) throw new RangeError416(INVALID, false);
      if (a >= size) {
        noOverlap = true;
        continue;
      }
      start = a;
      if (endText === '') {
        length = size - start;
      } else {
        let b = parseInt64(endText);
        if (b === undefined || start > b) throw new RangeError416(INVALID, false);
        if (b >= size) b = size - 1;
        length = b - start + 1;
      }
    }
    ranges.push({ start, length });
  }
  if (noOverlap && ranges.length === 0) throw new RangeError416(NO_OVERLAP, true);
  return ranges;
}

export function sumRanges(ranges: ByteRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.length;
  return n;
}

export function contentRange(r: ByteRange, size: number): string {
  return `bytes ${r.start}-${r.start + r.length - 1}/${size}`;
}

/** A random multipart boundary as Go makes it: 30 random bytes in lowercase hex. */
export function newBoundary(): string {
  return randomBytes(30).toString('hex');
}

/**
 * The header block Go's multipart writer emits before part `index` (keys sorted:
 * Content-Range, Content-Type). The first part has no leading CRLF.
 */
export function partHeader(boundary: string, index: number, r: ByteRange, contentType: string, size: number): string {
  return `${index > 0 ? '\r\n' : ''}--${boundary}\r\nContent-Range: ${contentRange(r, size)}\r\nContent-Type: ${contentType}\r\n\r\n`;
}

/** The closing delimiter Go's multipart writer emits. */
export function closingDelimiter(boundary: string): string {
  return `\r\n--${boundary}--\r\n`;
}

/** Exact byte length of the multipart/byteranges body (Go's rangesMIMESize). */
export function multipartSize(ranges: ByteRange[], boundary: string, contentType: string, size: number): number {
  let n = 0;
  for (let i = 0; i < ranges.length; i++) {
    n += Buffer.byteLength(partHeader(boundary, i, ranges[i], contentType, size), 'latin1') + ranges[i].length;
  }
  return n + Buffer.byteLength(closingDelimiter(boundary), 'latin1');
}
