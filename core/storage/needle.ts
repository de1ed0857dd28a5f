// Needle record codec for versions 1, 2 and 3 (Go: weed/storage/needle/needle_write_v*.go, needle_read.go). Encoding produces the whole
// record (header, body, checksum, timestamp, padding) in one preallocated buffer, byte-identical
// to Go's writer including its padding bytes. Decoding works on views into the read buffer.
import { crc32c, crcMatches } from './crc32c.js';
import { CrcMismatchError, NeedleCorruptedError, SizeMismatchError, UnsupportedVersionError } from './storage-errors.js';
import {
  DATA_SIZE_SIZE,
  LAST_MODIFIED_BYTES_LENGTH,
  NEEDLE_CHECKSUM_SIZE,
  NEEDLE_HEADER_SIZE,
  TIMESTAMP_SIZE,
  TTL_BYTES_LENGTH,
  Ttl,
  actualSize,
  needleIdToHex,
  paddingLength,
  readI32,
  readNeedleId,
  readU16,
  readU32,
  readU64,
  writeNeedleId,
  writeU16,
  writeU32,
  writeU64,
  type Cookie,
  type NeedleId,
  type Size,
  type Version,
} from './types.js';

export const FLAG_IS_COMPRESSED = 0x01;
export const FLAG_HAS_NAME = 0x02;
export const FLAG_HAS_MIME = 0x04;
export const FLAG_HAS_LAST_MODIFIED_DATE = 0x08;
export const FLAG_HAS_TTL = 0x10;
export const FLAG_HAS_PAIRS = 0x20;
export const FLAG_IS_CHUNK_MANIFEST = 0x80;

export const MAX_NAME_SIZE = 255;
export const MAX_MIME_SIZE = 255;
export const MAX_PAIRS_SIZE = 65535;

const EMPTY = new Uint8Array(0);

/** A needle in memory. Byte fields are views (decode) or caller-owned buffers (encode). */
export interface Needle {
  cookie: Cookie;
  id: NeedleId;
  /** Header Size: body length for v2/v3, data length for v1. Computed by the encoder. */
  size: Size;
  dataSize: number;
  data: Uint8Array;
  flags: number;
  name: Uint8Array;
  mime: Uint8Array;
  pairs: Uint8Array;
  /** Unix seconds (40 bits on disk). */
  lastModified: number;
  ttl: Ttl;
  /** Raw CRC-32C of data (after a verified read the raw value even if the file held the legacy form). */
  checksum: number;
  /** v3 only: append time in unix nanoseconds. */
  appendAtNs: bigint;
}

export interface NeedleInit {
  cookie: Cookie;
  id: NeedleId;
  data?: Uint8Array;
  flags?: number;
  name?: Uint8Array | string;
  mime?: Uint8Array | string;
  pairs?: Uint8Array | string;
  lastModified?: number;
  ttl?: Ttl;
  /** Defaults to crc32c(data). */
  checksum?: number;
  appendAtNs?: bigint;
}

function bytesOf(v: Uint8Array | string | undefined): Uint8Array {
  if (v === undefined) return EMPTY;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/** Builds a needle; flags for name/mime/pairs/lastModified/ttl must be set by the caller (as Go does). */
export function newNeedle(init: NeedleInit): Needle {
  const data = init.data ?? EMPTY;
  return {
    cookie: init.cookie >>> 0,
    id: init.id,
    size: 0,
    dataSize: data.length,
    data,
    flags: init.flags ?? 0,
    name: bytesOf(init.name),
    mime: bytesOf(init.mime),
    pairs: bytesOf(init.pairs),
    lastModified: init.lastModified ?? 0,
    ttl: init.ttl ?? Ttl.EMPTY,
    checksum: init.checksum ?? crc32c(data),
    appendAtNs: init.appendAtNs ?? 0n,
  };
}

export const hasName = (n: { flags: number }) => (n.flags & FLAG_HAS_NAME) !== 0;
export const hasMime = (n: { flags: number }) => (n.flags & FLAG_HAS_MIME) !== 0;
export const hasLastModified = (n: { flags: number }) => (n.flags & FLAG_HAS_LAST_MODIFIED_DATE) !== 0;
export const hasTtl = (n: { flags: number }) => (n.flags & FLAG_HAS_TTL) !== 0;
export const hasPairs = (n: { flags: number }) => (n.flags & FLAG_HAS_PAIRS) !== 0;
export const isCompressed = (n: { flags: number }) => (n.flags & FLAG_IS_COMPRESSED) !== 0;
export const isChunkManifest = (n: { flags: number }) => (n.flags & FLAG_IS_CHUNK_MANIFEST) !== 0;

/** The header Size the encoder will write for this needle (and sets it on `n`). */
export function computeNeedleSize(n: Needle, version: Version): Size {
  if (version === 1) return n.data.length;
  if (n.data.length === 0) return 0;
  let size = DATA_SIZE_SIZE + n.data.length + 1;
  if (hasName(n)) size += 1 + Math.min(n.name.length, MAX_NAME_SIZE);
  if (hasMime(n)) size += 1 + Math.min(n.mime.length, MAX_MIME_SIZE);
  if (hasLastModified(n)) size += LAST_MODIFIED_BYTES_LENGTH;
  if (hasTtl(n)) size += TTL_BYTES_LENGTH;
  if (hasPairs(n)) size += 2 + Math.min(n.pairs.length, MAX_PAIRS_SIZE);
  return size;
}

/** On-disk length of the record encodeNeedle() will produce. */
export function encodedLength(n: Needle, version: Version): number {
  return actualSize(computeNeedleSize(n, version), version);
}

/**
 * Encodes the whole record into one buffer (allocated here unless `into` is given, in which case
 * the record is written at `into[pos..]`). Sets n.size and n.dataSize. Returns the record bytes.
 */
export function encodeNeedle(n: Needle, version: Version, into?: Uint8Array, pos = 0): Buffer {
  if (version !== 1 && version !== 2 && version !== 3) {
    throw new UnsupportedVersionError(version, `unsupported version: ${version}`);
  }
  const size = computeNeedleSize(n, version);
  const total = actualSize(size, version);
  n.size = size;
  n.dataSize = n.data.length;
  let buf: Buffer;
  if (into) {
    buf = Buffer.from(into.buffer, into.byteOffset + pos, total);
  } else {
    buf = Buffer.allocUnsafe(total);
  }
  writeU32(buf, 0, n.cookie);
  writeNeedleId(buf, 4, n.id);
  writeU32(buf, 12, size);
  let p = NEEDLE_HEADER_SIZE;
  if (version !== 1 && size > 0) {
    writeU32(buf, p, n.data.length);
    p += DATA_SIZE_SIZE;
  }
  buf.set(n.data, p);
  p += n.data.length;
  writeRecordTail(n, version, size, buf, p, readU32(buf, 4), readU32(buf, 8));
  return buf;
}

/**
 * Writes what follows a record's data, exactly as Go lays it out: the metadata fields (v2/v3 with
 * data), the checksum, v3's AppendAtNs and the padding. Go fills the padding from its reused header
 * scratch buffer, so the pad bytes depend on the id halves (`idHi`, `idLo`) and, for v2, on a
 * LastModified written before them; they are reproduced byte for byte.
 */
function writeRecordTail(n: NeedleRecordMeta, version: Version, size: Size, buf: Buffer, start: number, idHi: number, idLo: number): void {
  const pad = paddingLength(size, version);
  const be = (x: number) => [x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff];
  let p = start;
  if (version === 1) {
    writeU32(buf, p, n.checksum);
    p += NEEDLE_CHECKSUM_SIZE;
    const idBytes = [...be(idHi), ...be(idLo)];
    for (let i = 0; i < pad; i++) buf[p + i] = idBytes[i];
    return;
  }
  let scratchHi = idHi;
  if (size > 0) {
    buf[p++] = n.flags & 0xff;
    if (hasName(n)) {
      const len = Math.min(n.name.length, MAX_NAME_SIZE);
      buf[p++] = len;
      buf.set(n.name.subarray(0, len), p);
      p += len;
    }
    if (hasMime(n)) {
      const len = Math.min(n.mime.length, MAX_MIME_SIZE);
      buf[p++] = len;
      buf.set(n.mime.subarray(0, len), p);
      p += len;
    }
    if (hasLastModified(n)) {
      const lm = n.lastModified;
      const lo = lm >>> 0;
      buf[p] = (Math.floor(lm / 2 ** 32) >>> 0) & 0xff;
      writeU32(buf, p + 1, lo);
      p += LAST_MODIFIED_BYTES_LENGTH;
      scratchHi = lo;
    }
    if (hasTtl(n)) {
      n.ttl.writeBytes(buf, p);
      p += TTL_BYTES_LENGTH;
    }
    if (hasPairs(n)) {
      const len = Math.min(n.pairs.length, MAX_PAIRS_SIZE);
      writeU16(buf, p, len);
      p += 2;
      buf.set(n.pairs.subarray(0, len), p);
      p += len;
    }
  }
  writeU32(buf, p, n.checksum);
  p += NEEDLE_CHECKSUM_SIZE;
  if (version === 2) {
    // v2 padding: [X (4 bytes)][id low 4 bytes], X = the high id bytes or LastModified's low word.
    const scratch = [...be(scratchHi), ...be(idLo)];
    for (let i = 0; i < pad; i++) buf[p + i] = scratch[i];
    return;
  }
  writeU64(buf, p, n.appendAtNs);
  p += TIMESTAMP_SIZE;
  // v3 padding: the first bytes of [Size BE][00 00 00 00].
  const sizeBytes = [...be(size), 0, 0, 0, 0];
  for (let i = 0; i < pad; i++) buf[p + i] = sizeBytes[i];
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

export interface NeedleHeader {
  cookie: Cookie;
  id: NeedleId;
  size: Size;
}

export function parseNeedleHeader(buf: Uint8Array, pos = 0): NeedleHeader {
  return { cookie: readU32(buf, pos), id: readNeedleId(buf, pos + 4), size: readI32(buf, pos + 12) };
}

function emptyNeedle(h: NeedleHeader): Needle {
  return {
    cookie: h.cookie,
    id: h.id,
    size: h.size,
    dataSize: 0,
    data: EMPTY,
    flags: 0,
    name: EMPTY,
    mime: EMPTY,
    pairs: EMPTY,
    lastModified: 0,
    ttl: Ttl.EMPTY,
    checksum: 0,
    appendAtNs: 0n,
  };
}

function corrupted(k: number): NeedleCorruptedError {
  return new NeedleCorruptedError(`index out of range ${k}: needle data corrupted`);
}

/**
 * Parses the fields after Data (flags, name, mime, lastModified, ttl, pairs) from `b[start..end)`
 * into `n`, tolerant like Go: each field is read only while bytes remain; a field that would run
 * past the end is a corruption error. Returns the index after the parsed fields.
 */
export function parseNonDataFields(n: Needle, b: Uint8Array, start: number, end: number): number {
  let i = start;
  if (i < end) n.flags = b[i++];
  if (i < end && hasName(n)) {
    const len = b[i++];
    if (i + len > end) throw corrupted(2);
    n.name = b.subarray(i, i + len);
    i += len;
  }
  if (i < end && hasMime(n)) {
    const len = b[i++];
    if (i + len > end) throw corrupted(3);
    n.mime = b.subarray(i, i + len);
    i += len;
  }
  if (i < end && hasLastModified(n)) {
    if (i + LAST_MODIFIED_BYTES_LENGTH > end) throw corrupted(4);
    n.lastModified = b[i] * 2 ** 32 + readU32(b, i + 1);
    i += LAST_MODIFIED_BYTES_LENGTH;
  }
  if (i < end && hasTtl(n)) {
    if (i + TTL_BYTES_LENGTH > end) throw corrupted(5);
    n.ttl = Ttl.fromBytes(b, i);
    i += TTL_BYTES_LENGTH;
  }
  if (i < end && hasPairs(n)) {
    if (i + 2 > end) throw corrupted(6);
    const len = readU16(b, i);
    i += 2;
    if (i + len > end) throw corrupted(7);
    n.pairs = b.subarray(i, i + len);
    i += len;
  }
  return i;
}

/** Parses a v2/v3 body `b[start..start+size)` (DataSize, Data, then the optional fields). */
function parseBodyV2(n: Needle, b: Uint8Array, start: number, size: number): void {
  const end = start + size;
  let i = start;
  if (i < end) {
    if (i + DATA_SIZE_SIZE > end) throw corrupted(1);
    n.dataSize = readU32(b, i);
    i += DATA_SIZE_SIZE;
    if (i + n.dataSize > end) throw corrupted(1);
    n.data = b.subarray(i, i + n.dataSize);
    i += n.dataSize;
  }
  parseNonDataFields(n, b, i, end);
}

/**
 * Reads the tail (checksum, v3 AppendAtNs) at `b[pos..]`. When data is non-empty the stored
 * checksum must equal crc32c(data) or its legacy form (`verifiedCrc` may pass a CRC already
 * computed by a streaming reader); n.checksum becomes the raw CRC.
 */
export function parseTail(n: Needle, b: Uint8Array, pos: number, version: Version, verify = true): void {
  if (pos + NEEDLE_CHECKSUM_SIZE > b.length) {
    throw new NeedleCorruptedError(`needle ${needleIdToHex(n.id)} tail out of range: needle data corrupted`);
  }
  const stored = readU32(b, pos);
  if (n.data.length > 0 && verify) {
    const crc = crc32c(n.data);
    if (!crcMatches(stored, crc)) throw new CrcMismatchError(needleIdToHex(n.id), crc, stored);
    n.checksum = crc;
  } else {
    n.checksum = stored;
  }
  if (version === 3) {
    const t = pos + NEEDLE_CHECKSUM_SIZE;
    if (t + TIMESTAMP_SIZE > b.length) {
      throw new NeedleCorruptedError(`needle ${needleIdToHex(n.id)} tail out of range: needle data corrupted`);
    }
    n.appendAtNs = readU64(b, t);
  }
}

export interface DecodeOptions {
  /** Expected header size from the index; a different header size is a SizeMismatchError. */
  expectedSize?: Size;
  /** Verify the data checksum (default true). */
  verifyCrc?: boolean;
}

/**
 * Decodes a whole record `b[pos..pos+actualSize)` (Go's ReadBytes). Byte fields are views into `b`.
 */
export function decodeNeedle(b: Uint8Array, version: Version, opts: DecodeOptions = {}, pos = 0): Needle {
  if (b.length - pos < NEEDLE_HEADER_SIZE) {
    throw new NeedleCorruptedError('needle header out of range: needle data corrupted');
  }
  const h = parseNeedleHeader(b, pos);
  if (opts.expectedSize !== undefined && h.size !== opts.expectedSize) {
    throw new SizeMismatchError();
  }
  const n = emptyNeedle(h);
  if (h.size < 0 || pos + NEEDLE_HEADER_SIZE + h.size > b.length) {
    throw new NeedleCorruptedError(
      `needle ${needleIdToHex(h.id)} size ${h.size} out of range for body length ${b.length - pos - NEEDLE_HEADER_SIZE}: needle data corrupted`,
    );
  }
  const bodyStart = pos + NEEDLE_HEADER_SIZE;
  if (version === 1) {
    n.data = b.subarray(bodyStart, bodyStart + h.size);
    n.dataSize = h.size;
  } else if (version === 2 || version === 3) {
    parseBodyV2(n, b, bodyStart, h.size);
  } else {
    throw new UnsupportedVersionError(version, `unsupported version ${version}!`);
  }
  parseTail(n, b, bodyStart + h.size, version, opts.verifyCrc ?? true);
  return n;
}

/**
 * Metadata of a needle read without its data (for streaming big needles): everything but `data`
 * is filled; `dataOffset` is the file position of the first data byte.
 */
export interface NeedleMeta extends Needle {
  dataOffset: number;
  /** The checksum as stored in the record (raw or legacy form); verify streamed data against it. */
  storedChecksum: number;
}

/** Length of the fixed prefix needed to start a meta read: header + DataSize. */
export const META_PREFIX_LENGTH = NEEDLE_HEADER_SIZE + DATA_SIZE_SIZE;

/**
 * Builds needle metadata from the 20-byte prefix (header + DataSize) and the bytes from the end of
 * data to the end of the record (`tail`). Version 2/3 only (v1 has no DataSize field).
 */
export function decodeNeedleMeta(
  prefix: Uint8Array,
  tail: Uint8Array,
  version: Version,
  recordOffset: number,
  expectedSize?: Size,
): NeedleMeta {
  const h = parseNeedleHeader(prefix, 0);
  if (expectedSize !== undefined && h.size !== expectedSize) throw new SizeMismatchError();
  const n = emptyNeedle(h) as NeedleMeta;
  n.dataOffset = recordOffset + META_PREFIX_LENGTH;
  if (h.size > 0) {
    n.dataSize = readU32(prefix, NEEDLE_HEADER_SIZE);
    const nonDataLen = h.size - DATA_SIZE_SIZE - n.dataSize;
    if (nonDataLen < 0) throw corrupted(1);
    parseNonDataFields(n, tail, 0, nonDataLen);
    parseTail(n, tail, nonDataLen, version, false);
  } else {
    parseTail(n, tail, 0, version, false);
  }
  n.storedChecksum = n.checksum;
  return n;
}

/** Length of the tail a meta read needs: record end minus the end of data. */
export function metaTailLength(size: Size, dataSize: number, version: Version): number {
  const recordLen = actualSize(size, version);
  if (size <= 0) return recordLen - NEEDLE_HEADER_SIZE;
  return recordLen - META_PREFIX_LENGTH - dataSize;
}

/** HTTP ETag of a needle: 8 lowercase hex digits of the raw CRC. */
export function needleEtag(n: { checksum: number }): string {
  return (n.checksum >>> 0).toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------------------------------------
// Framing a data payload held elsewhere (streamed writes of large bodies)
// ---------------------------------------------------------------------------------------------

/** Everything of a needle but its data: what the record around a streamed payload needs. */
export type NeedleRecordMeta = Pick<
  Needle,
  'cookie' | 'id' | 'flags' | 'name' | 'mime' | 'pairs' | 'lastModified' | 'ttl' | 'checksum' | 'appendAtNs'
>;

/** The bytes of a record before and after its data (see encodeNeedleFrame). */
export interface NeedleFrame {
  /** Header, then (v2/v3 with data) the DataSize field. */
  prefix: Buffer;
  /** Flags … pairs (v2/v3 with data), checksum, v3 AppendAtNs, padding. */
  suffix: Buffer;
  /** Header Size. */
  size: Size;
  /** Whole record length: prefix + dataSize + suffix. */
  length: number;
}

/** The header Size of a needle with `dataSize` data bytes (computeNeedleSize without the data). */
export function needleSizeFor(n: Pick<Needle, 'flags' | 'name' | 'mime' | 'pairs'>, dataSize: number, version: Version): Size {
  if (version === 1) return dataSize;
  if (dataSize === 0) return 0;
  let size = DATA_SIZE_SIZE + dataSize + 1;
  if (hasName(n)) size += 1 + Math.min(n.name.length, MAX_NAME_SIZE);
  if (hasMime(n)) size += 1 + Math.min(n.mime.length, MAX_MIME_SIZE);
  if (hasLastModified(n)) size += LAST_MODIFIED_BYTES_LENGTH;
  if (hasTtl(n)) size += TTL_BYTES_LENGTH;
  if (hasPairs(n)) size += 2 + Math.min(n.pairs.length, MAX_PAIRS_SIZE);
  return size;
}

/** Largest header Size a record can carry (Size is an int32 on disk and in the index). */
export const MAX_NEEDLE_SIZE = 0x7fffffff;

/**
 * The record around `dataSize` data bytes the caller holds elsewhere (a spooled upload): writing
 * prefix, the data, then suffix produces exactly what encodeNeedle() produces for the same needle
 * with the data in place (padding bytes included). `n.checksum` must be the raw CRC-32C of the data.
 */
export function encodeNeedleFrame(n: NeedleRecordMeta, dataSize: number, version: Version): NeedleFrame {
  if (version !== 1 && version !== 2 && version !== 3) {
    throw new UnsupportedVersionError(version, `unsupported version: ${version}`);
  }
  const size = needleSizeFor(n, dataSize, version);
  if (size > MAX_NEEDLE_SIZE) throw new RangeError(`needle size ${size} exceeds the largest record size ${MAX_NEEDLE_SIZE}`);
  const length = actualSize(size, version);
  const withDataSize = version !== 1 && size > 0;
  const prefix = Buffer.allocUnsafe(NEEDLE_HEADER_SIZE + (withDataSize ? DATA_SIZE_SIZE : 0));
  writeU32(prefix, 0, n.cookie);
  writeNeedleId(prefix, 4, n.id);
  writeU32(prefix, 12, size);
  if (withDataSize) writeU32(prefix, NEEDLE_HEADER_SIZE, dataSize);
  const suffix = Buffer.allocUnsafe(length - prefix.length - dataSize);
  writeRecordTail(n, version, size, suffix, 0, readU32(prefix, 4), readU32(prefix, 8));
  return { prefix, suffix, size, length };
}
