// Basic on-disk types of the SeaweedFS volume format: offsets (4/5 bytes, 8-byte units), needle
// ids, cookies, sizes and their tombstone conventions, needle versions, TTL and replica placement.
import type { OffsetWidth } from './offset-width.js';
import { InvalidReplicaPlacementError, InvalidTtlError } from './storage-errors.js';

export type { OffsetWidth } from './offset-width.js';

// ---------------------------------------------------------------------------------------------
// Needle ids, cookies, sizes
// ---------------------------------------------------------------------------------------------

/**
 * Needle id: an unsigned 64-bit integer. Represented as `bigint` at API boundaries because ids can
 * use all 64 bits (the master's snowflake sequencer produces ids above 2^53, where `number` would
 * silently lose precision). A bigint costs ~100 ns per request, which is noise next to the rest of
 * a request; the bulk paths that touch millions of ids (.idx streaming, needle-map load, map
 * iteration) never build bigints: they work on the two uint32 halves (hi, lo) read straight from
 * the buffers and only materialise a bigint when a caller asks for one.
 */
export type NeedleId = bigint;
/** Cookie: uint32 as a non-negative number. */
export type Cookie = number;
/** Size: int32 (signed). See the conventions below. */
export type Size = number;

export const NEEDLE_ID_SIZE = 8;
export const COOKIE_SIZE = 4;
export const SIZE_SIZE = 4;
export const NEEDLE_HEADER_SIZE = COOKIE_SIZE + NEEDLE_ID_SIZE + SIZE_SIZE; // 16
export const DATA_SIZE_SIZE = 4;
export const NEEDLE_CHECKSUM_SIZE = 4;
export const TIMESTAMP_SIZE = 8;
export const NEEDLE_PADDING_SIZE = 8;
export const LAST_MODIFIED_BYTES_LENGTH = 5;
export const TTL_BYTES_LENGTH = 2;
export const MAX_NEEDLE_ID = 0xffff_ffff_ffff_ffffn;

/**
 * Size conventions (index and in-memory map):
 *  - `> 0`: live, readable; `0`: live but empty (an empty upload);
 *  - `-1` (TombstoneFileSize, 0xFFFFFFFF in the file): deletion record, index-only value;
 *  - other negatives: in-memory only, a deleted entry keeps `-size` so readDeleted can still read.
 */
export const TOMBSTONE_FILE_SIZE = -1;

export function isTombstone(size: Size): boolean {
  return size === TOMBSTONE_FILE_SIZE;
}
export function isDeletedSize(size: Size): boolean {
  return size < 0;
}
export function isValidSize(size: Size): boolean {
  return size > 0;
}
/** Go's Size.Raw(): the physical body size of an entry (0 for a tombstone). */
export function rawSize(size: Size): number {
  if (size === TOMBSTONE_FILE_SIZE) return 0;
  return size < 0 ? -size : size;
}

/** Lowercase hex without leading zeros, as Go prints a NeedleId (`%x` / NeedleId.String()). */
export function needleIdToHex(id: NeedleId): string {
  return id.toString(16);
}

export function needleIdFromHalves(hi: number, lo: number): NeedleId {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
export function needleIdHi(id: NeedleId): number {
  return Number(id >> 32n) >>> 0;
}
export function needleIdLo(id: NeedleId): number {
  return Number(id & 0xffff_ffffn) >>> 0;
}

export function writeNeedleId(buf: Uint8Array, pos: number, id: NeedleId): void {
  writeU32(buf, pos, needleIdHi(id));
  writeU32(buf, pos + 4, needleIdLo(id));
}
export function readNeedleId(buf: Uint8Array, pos: number): NeedleId {
  return needleIdFromHalves(readU32(buf, pos), readU32(buf, pos + 4));
}

// Small big-endian helpers that work on any Uint8Array (Buffer or not).
export function readU32(buf: Uint8Array, pos: number): number {
  return ((buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]) >>> 0;
}
export function readI32(buf: Uint8Array, pos: number): number {
  return (buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3];
}
export function writeU32(buf: Uint8Array, pos: number, v: number): void {
  buf[pos] = v >>> 24;
  buf[pos + 1] = v >>> 16;
  buf[pos + 2] = v >>> 8;
  buf[pos + 3] = v;
}
export function readU16(buf: Uint8Array, pos: number): number {
  return (buf[pos] << 8) | buf[pos + 1];
}
export function writeU16(buf: Uint8Array, pos: number, v: number): void {
  buf[pos] = v >>> 8;
  buf[pos + 1] = v;
}
export function readU64(buf: Uint8Array, pos: number): bigint {
  return (BigInt(readU32(buf, pos)) << 32n) | BigInt(readU32(buf, pos + 4));
}
export function writeU64(buf: Uint8Array, pos: number, v: bigint): void {
  writeU32(buf, pos, Number((v >> 32n) & 0xffff_ffffn));
  writeU32(buf, pos + 4, Number(v & 0xffff_ffffn));
}

// ---------------------------------------------------------------------------------------------
// Offsets
// ---------------------------------------------------------------------------------------------

/** Entry size of .idx / .ecx / .sdx rows: 8 (id) + width + 4 (size). */
export function indexEntrySize(width: OffsetWidth): 16 | 17 {
  return width === 5 ? 17 : 16;
}

/** Go's MaxPossibleVolumeSize: 32 GiB for 4-byte offsets, 8 TiB for 5-byte offsets. */
export function maxPossibleVolumeSize(width: OffsetWidth): number {
  return width === 5 ? 4 * 1024 * 1024 * 1024 * 8 * 256 : 4 * 1024 * 1024 * 1024 * 8;
}

/**
 * Go's 4-byte offset wrap-around (needle_read.go ReadData, volume_read.go readNeedleMeta): a
 * 4-byte-offset volume that grew past MaxPossibleVolumeSize stores offsets modulo it, so a record
 * that does not match its index entry at `offset` may sit MaxPossibleVolumeSize further on.
 * Returns that position, or -1 when no retry applies. Every wrap-around retry asks this.
 */
export function wrappedOffset(width: OffsetWidth, offset: number): number {
  const max = maxPossibleVolumeSize(width);
  return width === 4 && offset < max ? offset + max : -1;
}

export const MAX_VOLUME_SIZE_4 = 34_359_738_368;

/**
 * Offset unit value (byte offset / 8) as stored, truncated to the width like Go's ToOffset
 * (a 4-byte build wraps at 32 GiB).
 */
export function toOffsetUnits(byteOffset: number, width: OffsetWidth): number {
  const u = Math.floor(byteOffset / NEEDLE_PADDING_SIZE);
  return width === 5 ? u % 2 ** 40 : u % 2 ** 32;
}

/**
 * Writes an offset (given in bytes) in the stored form. 4 bytes: units as uint32 BE. 5 bytes: the
 * low 32 bits BE followed by the high byte (bits 32..39) LAST.
 */
export function writeOffset(buf: Uint8Array, pos: number, byteOffset: number, width: OffsetWidth): void {
  const u = toOffsetUnits(byteOffset, width);
  const lo = u % 2 ** 32;
  writeU32(buf, pos, lo);
  if (width === 5) buf[pos + 4] = Math.floor(u / 2 ** 32) & 0xff;
}

/** Reads a stored offset; returns the byte offset (units * 8). */
export function readOffset(buf: Uint8Array, pos: number, width: OffsetWidth): number {
  const lo = readU32(buf, pos);
  const hi = width === 5 ? buf[pos + 4] : 0;
  return (hi * 2 ** 32 + lo) * NEEDLE_PADDING_SIZE;
}

// ---------------------------------------------------------------------------------------------
// Versions and record geometry
// ---------------------------------------------------------------------------------------------

export type Version = 1 | 2 | 3;
export const VERSION1: Version = 1;
export const VERSION2: Version = 2;
export const VERSION3: Version = 3;
export const CURRENT_VERSION: Version = 3;

export function isSupportedVersion(v: number): v is Version {
  return v === 1 || v === 2 || v === 3;
}

/** Padding after the checksum (and AppendAtNs in v3): always 1..8, never 0. */
export function paddingLength(size: Size, version: Version): number {
  const tail = version === 3 ? NEEDLE_CHECKSUM_SIZE + TIMESTAMP_SIZE : NEEDLE_CHECKSUM_SIZE;
  return NEEDLE_PADDING_SIZE - ((((NEEDLE_HEADER_SIZE + size + tail) % NEEDLE_PADDING_SIZE) + NEEDLE_PADDING_SIZE) % NEEDLE_PADDING_SIZE);
}

/** Bytes after the 16-byte header: body + checksum (+ timestamp) + padding. */
export function needleBodyLength(size: Size, version: Version): number {
  const tail = version === 3 ? NEEDLE_CHECKSUM_SIZE + TIMESTAMP_SIZE : NEEDLE_CHECKSUM_SIZE;
  return size + tail + paddingLength(size, version);
}

/** Total on-disk record length of a needle whose header Size is `size`. */
export function actualSize(size: Size, version: Version): number {
  return NEEDLE_HEADER_SIZE + needleBodyLength(size, version);
}

// ---------------------------------------------------------------------------------------------
// TTL
// ---------------------------------------------------------------------------------------------

export const TTL_UNIT_EMPTY = 0;
export const TTL_UNIT_MINUTE = 1;
export const TTL_UNIT_HOUR = 2;
export const TTL_UNIT_DAY = 3;
export const TTL_UNIT_WEEK = 4;
export const TTL_UNIT_MONTH = 5;
export const TTL_UNIT_YEAR = 6;

const UNIT_SECONDS = [0, 60, 3600, 86_400, 604_800, 2_592_000, 31_536_000];
const UNIT_LETTERS = ['', 'm', 'h', 'd', 'w', 'M', 'y'];

function unitFromLetter(c: string): number {
  const i = UNIT_LETTERS.indexOf(c);
  return i > 0 ? i : 0;
}

/** A TTL as stored: (count, unit), 2 bytes on disk, `count<<8 | unit` on the wire. */
export class Ttl {
  static readonly EMPTY = new Ttl(0, 0);

  constructor(readonly count: number, readonly unit: number) {}

  /**
   * Parses a TTL string the way Go's ReadTTL does: empty → no TTL; trailing letter m/h/d/w/M/y is
   * the unit; all digits = minutes; the result is normalised (fitTtlCount: 60m → 1h, 24h → 1d...).
   * Unknown unit letters give an empty TTL. A malformed count throws Go's strconv text.
   */
  static parse(s: string): Ttl {
    if (s === '') return Ttl.EMPTY;
    const last = s[s.length - 1];
    let countText = s.slice(0, -1);
    let unitChar = last;
    if (last >= '0' && last <= '9') {
      countText = s;
      unitChar = 'm';
    }
    if (!/^[+-]?[0-9]+$/.test(countText)) {
      throw new InvalidTtlError(`strconv.Atoi: parsing ${JSON.stringify(countText)}: invalid syntax`);
    }
    const count = Number(countText);
    return Ttl.fit(count, unitFromLetter(unitChar));
  }

  /** Like parse() but never throws: a malformed string gives the empty TTL (Go's upload path). */
  static parseLenient(s: string): Ttl {
    try {
      return Ttl.parse(s);
    } catch {
      return Ttl.EMPTY;
    }
  }

  /** Go's fitTtlCount. */
  static fit(count: number, unit: number): Ttl {
    if (count < 0) return Ttl.EMPTY;
    const seconds = count * (UNIT_SECONDS[unit] ?? 0);
    if (seconds === 0) return Ttl.EMPTY;
    for (const u of [TTL_UNIT_YEAR, TTL_UNIT_MONTH, TTL_UNIT_WEEK, TTL_UNIT_DAY, TTL_UNIT_HOUR]) {
      const per = UNIT_SECONDS[u];
      if (seconds % per === 0 && seconds / per < 256) return new Ttl(seconds / per, u);
    }
    if (Math.floor(seconds / 60) < 256) return new Ttl(Math.floor(seconds / 60), TTL_UNIT_MINUTE);
    for (const u of [TTL_UNIT_HOUR, TTL_UNIT_DAY, TTL_UNIT_WEEK, TTL_UNIT_MONTH, TTL_UNIT_YEAR]) {
      const c = Math.floor(seconds / UNIT_SECONDS[u]);
      if (c < 256) return new Ttl(c, u);
    }
    return Ttl.EMPTY;
  }

  static fromBytes(buf: Uint8Array, pos = 0): Ttl {
    return Ttl.of(buf[pos], buf[pos + 1]);
  }

  /** From the wire form `count<<8 | unit`. */
  static fromUint32(v: number): Ttl {
    return Ttl.of((v >>> 8) & 0xff, v & 0xff);
  }

  static of(count: number, unit: number): Ttl {
    if (count === 0 && unit === 0) return Ttl.EMPTY;
    return new Ttl(count & 0xff, unit & 0xff);
  }

  writeBytes(buf: Uint8Array, pos = 0): void {
    buf[pos] = this.count;
    buf[pos + 1] = this.unit;
  }

  /** Wire form; 0 when the count is 0. */
  toUint32(): number {
    if (this.count === 0) return 0;
    return ((this.count << 8) | this.unit) >>> 0;
  }

  /** "3d", "5m"...; empty when count or unit is 0 (or the unit is unknown). */
  toString(): string {
    if (this.count === 0 || this.unit === 0) return '';
    const letter = UNIT_LETTERS[this.unit];
    return letter ? `${this.count}${letter}` : '';
  }

  isEmpty(): boolean {
    return this.toString() === '';
  }

  minutes(): number {
    const s = UNIT_SECONDS[this.unit];
    return s ? (this.count * s) / 60 : 0;
  }

  seconds(): number {
    return this.count * (UNIT_SECONDS[this.unit] ?? 0);
  }

  equals(o: Ttl): boolean {
    return this.count === o.count && this.unit === o.unit;
  }
}

// ---------------------------------------------------------------------------------------------
// Replica placement
// ---------------------------------------------------------------------------------------------

/** "XYZ": X other data centers, Y other racks, Z other servers on the same rack. Byte = X*100+Y*10+Z. */
export class ReplicaPlacement {
  constructor(
    readonly diffDataCenterCount: number,
    readonly diffRackCount: number,
    readonly sameRackCount: number,
  ) {}

  /** Go's NewReplicaPlacementFromString, including its error texts. */
  static parse(t: string): ReplicaPlacement {
    const byteLen = Buffer.byteLength(t);
    if (byteLen === 0) t = '000';
    else if (byteLen === 1) t = '00' + t;
    else if (byteLen === 2) t = '0' + t;
    const counts = [0, 0, 0];
    let bytePos = 0;
    for (const ch of t) {
      const count = (ch.codePointAt(0) ?? 0) - 48;
      if (count < 0) throw new InvalidReplicaPlacementError(`unknown replication type: ${t}`);
      if (bytePos < 3) counts[bytePos] = count;
      bytePos += Buffer.byteLength(ch);
    }
    const value = counts[0] * 100 + counts[1] * 10 + counts[2];
    if (value > 255) throw new InvalidReplicaPlacementError(`unexpected replication type: ${t}`);
    return new ReplicaPlacement(counts[0], counts[1], counts[2]);
  }

  static fromByte(b: number): ReplicaPlacement {
    b &= 0xff;
    return new ReplicaPlacement(Math.floor(b / 100), Math.floor(b / 10) % 10, b % 10);
  }

  toByte(): number {
    return (this.diffDataCenterCount * 100 + this.diffRackCount * 10 + this.sameRackCount) & 0xff;
  }

  toString(): string {
    return String.fromCharCode(
      this.diffDataCenterCount + 48,
      this.diffRackCount + 48,
      this.sameRackCount + 48,
    );
  }

  copyCount(): number {
    return this.diffDataCenterCount + this.diffRackCount + this.sameRackCount + 1;
  }

  hasReplication(): boolean {
    return this.diffDataCenterCount !== 0 || this.diffRackCount !== 0 || this.sameRackCount !== 0;
  }

  equals(o: ReplicaPlacement): boolean {
    return (
      this.diffDataCenterCount === o.diffDataCenterCount &&
      this.diffRackCount === o.diffRackCount &&
      this.sameRackCount === o.sameRackCount
    );
  }
}
