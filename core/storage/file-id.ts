// File ids ("fid"): `<vid>,<needleIdHex><cookieHex8>[_<delta>]` (Go: weed/storage/needle/file_id.go ParseFileIdFromString). Parsing
// follows Go's ParsePath / ParseNeedleIdCookie / splitVolumeId with their exact error texts.
import { InvalidFileIdError } from './storage-errors.js';
import { MAX_NEEDLE_ID, type Cookie, type NeedleId } from './types.js';

export interface NeedleIdCookie {
  id: NeedleId;
  cookie: Cookie;
}

export interface FileId extends NeedleIdCookie {
  volumeId: number;
}

const HEX_RE = /^[0-9a-fA-F]+$/;
const DEC_RE = /^[0-9]+$/;

/** Go's strconv.Quote for a byte string held as latin1 (one char per byte). */
function goQuote(bytes: string): string {
  let out = '"';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes.charCodeAt(i);
    if (b < 0x80) {
      i++;
      if (b === 0x22) out += '\\"';
      else if (b === 0x5c) out += '\\\\';
      else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
      else if (b === 7) out += '\\a';
      else if (b === 8) out += '\\b';
      else if (b === 12) out += '\\f';
      else if (b === 10) out += '\\n';
      else if (b === 13) out += '\\r';
      else if (b === 9) out += '\\t';
      else if (b === 11) out += '\\v';
      else out += '\\x' + b.toString(16).padStart(2, '0');
      continue;
    }
    // Multi-byte UTF-8 sequence: keep it if valid, else escape the lead byte.
    const len = b >= 0xf0 && b < 0xf8 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    let ok = len > 0 && i + len <= bytes.length;
    for (let k = 1; ok && k < len; k++) ok = (bytes.charCodeAt(i + k) & 0xc0) === 0x80;
    if (ok) {
      out += Buffer.from(bytes.slice(i, i + len), 'latin1').toString('utf8');
      i += len;
    } else {
      out += '\\x' + b.toString(16).padStart(2, '0');
      i++;
    }
  }
  return out + '"';
}

function toBytes(s: string): string {
  // URL paths are nearly always ASCII, which is its own byte string.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.from(s, 'utf8').toString('latin1');
  return s;
}
function fromBytes(b: string): string {
  return Buffer.from(b, 'latin1').toString('utf8');
}

function parseUintError(func: string, bytes: string, reason: 'invalid syntax' | 'value out of range'): string {
  return `strconv.${func}: parsing ${goQuote(bytes)}: ${reason}`;
}

/** strconv.ParseUint(s, 16, bits) on a byte string; returns the value or throws the strconv text. */
function parseHexUint(bytes: string, bits: 32 | 64): bigint | string {
  if (bytes === '' || !HEX_RE.test(bytes)) return parseUintError('ParseUint', bytes, 'invalid syntax');
  const v = BigInt('0x' + bytes);
  if (v >= 1n << BigInt(bits)) return parseUintError('ParseUint', bytes, 'value out of range');
  return v;
}

/** strconv.ParseUint(s, 10, 64) on a byte string. */
function parseDecUint64(bytes: string): bigint | string {
  if (bytes === '' || !DEC_RE.test(bytes)) return parseUintError('ParseUint', bytes, 'invalid syntax');
  const v = BigInt(bytes);
  if (v > MAX_NEEDLE_ID) return parseUintError('ParseUint', bytes, 'value out of range');
  return v;
}

function parseNeedleIdCookieBytes(kc: string): NeedleIdCookie {
  if (kc.length <= 8) throw new InvalidFileIdError('KeyHash is too short.');
  if (kc.length > 24) throw new InvalidFileIdError('KeyHash is too long.');
  const split = kc.length - 8;
  const idText = kc.slice(0, split);
  const cookieText = kc.slice(split);
  const id = parseHexUint(idText, 64);
  if (typeof id === 'string') {
    throw new InvalidFileIdError(`Parse needleId error: needle id ${fromBytes(idText)} format error: ${id}`);
  }
  // eight hex digits always fit 32 bits
  const cookie = HEX_RE.test(cookieText) ? parseInt(cookieText, 16) : parseHexUint(cookieText, 32);
  if (typeof cookie === 'string') {
    throw new InvalidFileIdError(`Parse cookie error: needle cookie ${fromBytes(cookieText)} format error: ${cookie}`);
  }
  return { id, cookie: Number(cookie) };
}

/** Go's ParseNeedleIdCookie: `<idhex><cookie8>` without delta. */
export function parseNeedleIdCookie(text: string): NeedleIdCookie {
  return parseNeedleIdCookieBytes(toBytes(text));
}

/**
 * Go's Needle.ParsePath: the fid part after the comma (extension already removed), with an
 * optional `_<delta>` suffix that adds to the needle id.
 */
export function parseFid(fid: string): NeedleIdCookie {
  let b = toBytes(fid);
  if (b.length <= 8) throw new InvalidFileIdError(`Invalid fid: ${fid}`);
  let delta = '';
  const deltaIndex = b.lastIndexOf('_');
  if (deltaIndex > 0) {
    delta = b.slice(deltaIndex + 1);
    b = b.slice(0, deltaIndex);
  }
  const r = parseNeedleIdCookieBytes(b);
  if (delta !== '') {
    const d = parseDecUint64(delta);
    if (typeof d === 'string') throw new InvalidFileIdError(d);
    if (d > MAX_NEEDLE_ID - r.id) {
      throw new InvalidFileIdError(`delta ${d} overflows needle id ${r.id.toString(16)}`);
    }
    r.id += d;
  }
  return r;
}

/** Go's NewVolumeId: decimal uint64, truncated to uint32. */
export function parseVolumeId(text: string): number {
  // Up to 15 digits is exact in a double: no BigInt for the common case.
  if (text.length > 0 && text.length <= 15 && DEC_RE.test(text)) return Number(text) % 0x1_0000_0000;
  const v = parseDecUint64(toBytes(text));
  if (typeof v === 'string') throw new InvalidFileIdError(v);
  return Number(v & 0xffff_ffffn);
}

/** Go's ParseFileIdFromString: `<vid>,<idhex><cookie8>` (no delta). */
export function parseFileId(text: string): FileId {
  const comma = text.indexOf(',');
  if (comma <= 0) throw new InvalidFileIdError('wrong fid format');
  const volumeId = parseVolumeId(text.slice(0, comma));
  const { id, cookie } = parseNeedleIdCookie(text.slice(comma + 1));
  return { volumeId, id, cookie };
}

/**
 * Go's formatNeedleIdCookie: the 8 id bytes then the 4 cookie bytes, leading zero bytes of the id
 * dropped (whole bytes), lowercase hex.
 */
export function formatNeedleIdCookie(id: NeedleId, cookie: Cookie): string {
  let idHex = id.toString(16);
  if (idHex === '0') idHex = '';
  else if (idHex.length % 2 === 1) idHex = '0' + idHex;
  return idHex + (cookie >>> 0).toString(16).padStart(8, '0');
}

export function formatFileId(volumeId: number, id: NeedleId, cookie: Cookie): string {
  return `${volumeId >>> 0},${formatNeedleIdCookie(id, cookie)}`;
}
