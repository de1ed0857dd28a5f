// Scrubbing a volume's files (Go: weed/storage/volume_checking.go ScrubIndex / Scrub /
// scrubVolumeData and weed/storage/idx/check.go CheckIndexFile), with Go's error texts. Both
// files are streamed in bounded chunks: the .idx in segments of rows, the .dat through one read
// window (records larger than the window are verified piecewise). The caller's `onChunk` hook
// runs after every chunk: it throttles, yields and aborts a cancelled scan.
//
// Go holds the volume's read lock for the whole scan, which stalls writes. Here the scan works on
// a snapshot instead: the .idx length and the .dat size are read together while writes are held
// off for a moment; rows below that length and the records they point at never change (both files
// are append-only). A compaction commit replaces both files: the scan notices the new revision and
// starts over.
import { open, type FileHandle } from 'node:fs/promises';
import { Crc32c, crcMatches } from './crc32c.js';
import { decodeNeedle, newNeedle, parseNeedleHeader, parseNonDataFields, type Needle } from './needle.js';
import { NeedleCorruptedError, SizeMismatchError, hex8 } from './storage-errors.js';
import { SUPER_BLOCK_SIZE } from './super-block.js';
import {
  DATA_SIZE_SIZE,
  NEEDLE_CHECKSUM_SIZE,
  NEEDLE_HEADER_SIZE,
  NEEDLE_PADDING_SIZE,
  TIMESTAMP_SIZE,
  indexEntrySize,
  maxPossibleVolumeSize,
  needleIdFromHalves,
  needleIdToHex,
  rawSize,
  readU32,
  type OffsetWidth,
  type Size,
  type Version,
} from './types.js';
import { walkIndexFile } from './idx.js';
import type { Volume } from './volume.js';

/** Rows read per .idx segment (1 MiB of 16-byte rows). */
export const SCAN_IDX_ROWS = 64 * 1024;
/** The .dat read window; larger records are verified in pieces of this size. */
export const SCAN_DAT_WINDOW = 1024 * 1024;
/** The most bytes the optional fields after Data can take (flags, name, mime, modified, ttl, pairs). */
const MAX_NON_DATA = 1 + 1 + 255 + 1 + 255 + 5 + 2 + 2 + 65535;

export interface ScanHooks {
  /** Runs after each chunk read (`bytes` long): throttles, yields, throws to abort the scan. */
  onChunk?(bytes: number): Promise<void>;
}

export interface ScrubOutcome {
  /** Index rows processed (Go counts every row, tombstones included). */
  files: number;
  /** Problems found, in Go's wording and order. */
  errors: string[];
}

/** Go's GetActualSize with Go's truncated modulo, so even a corrupt negative size measures as Go measures it. */
export function goActualSize(size: number, version: Version): number {
  const tail = version === 3 ? NEEDLE_CHECKSUM_SIZE + TIMESTAMP_SIZE : NEEDLE_CHECKSUM_SIZE;
  const padding = NEEDLE_PADDING_SIZE - ((NEEDLE_HEADER_SIZE + size + tail) % NEEDLE_PADDING_SIZE);
  return NEEDLE_HEADER_SIZE + size + tail + padding;
}

/** Go's text of an os error from opening `path`. */
function openErrorText(path: string, e: NodeJS.ErrnoException): string {
  const reason =
    e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
  return `open ${path}: ${reason}`;
}

interface Snapshot {
  fh: FileHandle;
  idxSize: number;
  datSize: number;
  revision: number;
}

/** Opens the .idx and reads both sizes with writes held off; an error text when the .idx cannot be opened. */
async function takeSnapshot(v: Volume): Promise<Snapshot | string> {
  const name = v.fileName('.idx');
  let fh: FileHandle;
  try {
    fh = await open(name, 'r');
  } catch (e) {
    return `failed to open IDX file ${name} for volume ${v.id}: ${openErrorText(name, e as NodeJS.ErrnoException)}`;
  }
  try {
    return await v.runExclusive(async () => {
      const idxSize = (await fh.stat()).size;
      const datSize = (await v.dataFileStat()).size;
      return { fh, idxSize, datSize, revision: v.superBlock.compactionRevision };
    });
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

/** Go's openIndex check: an empty .idx is only fine for a .dat holding no more than its super block. */
function zeroSizeIndexError(v: Volume, s: Snapshot): string | undefined {
  if (s.idxSize === 0 && s.datSize > SUPER_BLOCK_SIZE) return `zero-size IDX file for volume ${v.id} with store size ${s.datSize}`;
  return undefined;
}

/** Calls `fn` for every row below `rows`, one segment at a time, with the hook after each segment. */
async function walkRows(
  fh: FileHandle,
  width: OffsetWidth,
  rows: number,
  hooks: ScanHooks,
  fn: (hi: number, lo: number, offset: number, size: Size, row: number) => void,
  afterSegment?: () => Promise<void>,
): Promise<void> {
  const es = indexEntrySize(width);
  for (let from = 0; from < rows; from += SCAN_IDX_ROWS) {
    const n = Math.min(SCAN_IDX_ROWS, rows - from);
    await walkIndexFile(fh, width, (hi, lo, u, size, row) => fn(hi, lo, u * NEEDLE_PADDING_SIZE, size, row), {
      fromRow: from,
      rows: n,
      readRows: n,
    });
    if (afterSegment) await afterSegment();
    await hooks.onChunk?.(n * es);
  }
}

async function readRowId(fh: FileHandle, row: number, width: OffsetWidth): Promise<bigint> {
  const b = Buffer.alloc(8);
  await fh.read(b, 0, 8, row * indexEntrySize(width));
  return needleIdFromHalves(readU32(b, 0), readU32(b, 4));
}

function overlapText(id: bigint, row: number, start: number, size: number, lastId: bigint, lastStart: number, lastSize: number, version: Version): string {
  const span = (at: number, sz: number) => {
    const len = goActualSize(sz, version);
    return len !== 0 ? at + len - 1 : at;
  };
  return `needle ${id} (#${row + 1}) at [${start}-${span(start, size)}] overlaps needle ${lastId} at [${lastStart}-${span(lastStart, lastSize)}]`;
}

/**
 * Go's CheckIndexFile over the first `rows` rows of an index of `idxSize` bytes: overlapping
 * records (in (offset, size) order; offset-0 tombstones take no room) and a size that is not a
 * whole number of rows. An index in append order (the usual case) is checked in one streaming pass;
 * otherwise the positions are sorted in typed arrays (16 bytes a row) in a second pass.
 */
export async function checkIndexRows(
  fh: FileHandle,
  idxSize: number,
  width: OffsetWidth,
  version: Version,
  hooks: ScanHooks = {},
): Promise<ScrubOutcome> {
  const es = indexEntrySize(width);
  const rows = Math.floor(idxSize / es);
  const errors: string[] = [];
  let sorted = true;
  let prev: { id: bigint; offset: number; size: number } | undefined;
  await walkRows(fh, width, rows, hooks, (hi, lo, offset, size, row) => {
    if (!sorted || (offset === 0 && size < 0)) return;
    if (prev && (offset < prev.offset || (offset === prev.offset && size < prev.size))) {
      sorted = false;
      return;
    }
    const id = needleIdFromHalves(hi, lo);
    if (prev) {
      const lastLen = goActualSize(prev.size, version);
      const lastEnd = lastLen !== 0 ? prev.offset + lastLen - 1 : prev.offset;
      if (offset <= lastEnd) errors.push(overlapText(id, row, offset, size, prev.id, prev.offset, prev.size, version));
    }
    prev = { id, offset, size };
  });
  if (!sorted) {
    errors.length = 0;
    const offsets = new Float64Array(rows);
    const sizes = new Int32Array(rows);
    const physical = new Uint32Array(rows);
    let count = 0;
    await walkRows(fh, width, rows, hooks, (_hi, _lo, offset, size, row) => {
      offsets[row] = offset;
      sizes[row] = size;
      if (!(offset === 0 && size < 0)) physical[count++] = row;
    });
    const order = physical.subarray(0, count).sort((a, b) => offsets[a] - offsets[b] || sizes[a] - sizes[b]);
    for (let i = 1; i < order.length; i++) {
      const r = order[i];
      const l = order[i - 1];
      const lastLen = goActualSize(sizes[l], version);
      const lastEnd = lastLen !== 0 ? offsets[l] + lastLen - 1 : offsets[l];
      if (offsets[r] <= lastEnd) {
        const [id, lastId] = [await readRowId(fh, r, width), await readRowId(fh, l, width)];
        errors.push(overlapText(id, r, offsets[r], sizes[r], lastId, offsets[l], sizes[l], version));
      }
      if (i % SCAN_IDX_ROWS === 0) await hooks.onChunk?.(0);
    }
  }
  if (rows * es !== idxSize) errors.push(`expected an index file of size ${idxSize}, got ${rows * es}`);
  return { files: rows, errors };
}

/** Go's ScrubIndex: the index check alone. */
export async function scrubVolumeIndex(v: Volume, hooks: ScanHooks = {}): Promise<ScrubOutcome> {
  const s = await takeSnapshot(v);
  if (typeof s === 'string') return { files: 0, errors: [s] };
  try {
    const zero = zeroSizeIndexError(v, s);
    if (zero) return { files: 0, errors: [zero] };
    return await checkIndexRows(s.fh, s.idxSize, v.offsetWidth, v.version, hooks);
  } finally {
    await s.fh.close().catch(() => undefined);
  }
}

/** Bytes of a needle store as the record checks read them (a volume's .dat, an EC volume's shards). */
export interface RecordSource {
  /** Whether the source holds `len` bytes at `pos`. */
  holds(pos: number, len: number): boolean;
  /** `len` bytes at `pos` (at most SCAN_DAT_WINDOW; a view valid until the next call), or undefined past the end. */
  slice(pos: number, len: number): Promise<Buffer | undefined>;
  /** Copies `len` bytes at `pos` (len at most the window). */
  copy(pos: number, len: number): Promise<Buffer | undefined>;
}

/** The .dat bytes below the snapshot size, read through one window. */
class DatReader implements RecordSource {
  private buf = Buffer.allocUnsafe(SCAN_DAT_WINDOW);
  private start = 0;
  private len = 0;

  constructor(
    private readonly v: Volume,
    private readonly limit: number,
    private readonly hooks: ScanHooks,
  ) {}

  /** Whether the snapshot holds `len` bytes at `pos`. */
  holds(pos: number, len: number): boolean {
    return pos >= 0 && pos + len <= this.limit;
  }

  /** `len` bytes at `pos` (a view valid until the next call), or undefined past the end (Go's EOF). */
  async slice(pos: number, len: number): Promise<Buffer | undefined> {
    if (pos < 0 || pos + len > this.limit) return undefined;
    if (pos >= this.start && pos + len <= this.start + this.len) return this.buf.subarray(pos - this.start, pos - this.start + len);
    if (len > this.buf.length) throw new Error(`read of ${len} bytes exceeds the scan window`);
    const want = Math.min(this.buf.length, this.limit - pos);
    let got = 0;
    while (got < want) {
      const n = await this.v.readDataRange(this.buf, got, want - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    this.start = pos;
    this.len = got;
    await this.hooks.onChunk?.(got);
    if (got < len) return undefined;
    return this.buf.subarray(0, len);
  }

  /** Copies `len` bytes at `pos` (len at most the window). */
  async copy(pos: number, len: number): Promise<Buffer | undefined> {
    const b = await this.slice(pos, len);
    return b ? Buffer.from(b) : undefined;
  }
}

/** A record as Go's ReadBytes sees it: decoded, an error text, or a header size other than the index's. */
export type ReadResult = { needle: Needle } | { error: string } | { mismatch: { id: bigint; size: number } };

/** Go's ReadBytes on a whole record held in memory. */
function decodeWhole(b: Buffer, size: Size, version: Version): ReadResult {
  const h = parseNeedleHeader(b);
  if (h.size !== size) return { mismatch: { id: h.id, size: h.size } };
  try {
    return { needle: decodeNeedle(b, version, { expectedSize: size }) };
  } catch (e) {
    if (e instanceof SizeMismatchError) return { mismatch: { id: h.id, size: h.size } };
    return { error: (e as Error).message };
  }
}

/** Go's ReadBytes for a record larger than the window: the data streamed through the CRC. */
async function decodeStreamed(r: RecordSource, offset: number, size: Size, version: Version): Promise<ReadResult> {
  const len = goActualSize(size, version);
  // Go reads the whole record first: a record running past the end is EOF before anything else.
  if (!r.holds(offset, len)) return { error: 'EOF' };
  const head = await r.copy(offset, NEEDLE_HEADER_SIZE + DATA_SIZE_SIZE);
  if (!head) return { error: 'EOF' };
  const h = parseNeedleHeader(head);
  if (h.size !== size) return { mismatch: { id: h.id, size: h.size } };
  const n = newNeedle({ id: h.id, cookie: h.cookie, checksum: 0 });
  n.size = size;
  let dataStart = offset + NEEDLE_HEADER_SIZE;
  let dataSize = size;
  const bodyEnd = offset + NEEDLE_HEADER_SIZE + size;
  if (version !== 1) {
    dataSize = readU32(head, NEEDLE_HEADER_SIZE);
    if (DATA_SIZE_SIZE + dataSize > size) return { error: new NeedleCorruptedError('index out of range 1: needle data corrupted').message };
    dataStart += DATA_SIZE_SIZE;
  }
  const crc = new Crc32c();
  for (let at = dataStart; at < dataStart + dataSize; ) {
    const step = Math.min(SCAN_DAT_WINDOW, dataStart + dataSize - at);
    const piece = await r.slice(at, step);
    if (!piece) return { error: 'EOF' };
    crc.update(piece);
    at += step;
  }
  if (version !== 1) {
    const restLen = Math.min(bodyEnd - (dataStart + dataSize), MAX_NON_DATA);
    const rest = restLen > 0 ? await r.copy(dataStart + dataSize, restLen) : Buffer.alloc(0);
    if (!rest) return { error: 'EOF' };
    try {
      parseNonDataFields(n, rest, 0, restLen);
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
  const tail = await r.copy(bodyEnd, NEEDLE_CHECKSUM_SIZE);
  if (!tail) return { error: 'EOF' };
  const stored = readU32(tail, 0);
  const got = crc.digest();
  if (dataSize > 0 && !crcMatches(stored, got)) {
    return {
      error: `invalid CRC for needle ${needleIdToHex(h.id)} (got ${hex8(got)}, want ${hex8(stored)}), data on disk corrupted: needle data corrupted`,
    };
  }
  return { needle: n };
}

/** Go's Needle.ReadData for a scrub: the record at `offset` of index size `size`, with the 4-byte wrap-around retry. */
/**
 * Go's ReadBytes of the record at `at` of index size `size`, read from `r`: whole when it fits the
 * window, else its data streamed through the CRC (memory stays bounded whatever the needle size).
 */
export async function checkRecord(r: RecordSource, at: number, size: Size, version: Version): Promise<ReadResult> {
  const len = goActualSize(size, version);
  if (len > SCAN_DAT_WINDOW) return decodeStreamed(r, at, size, version);
  const b = await r.slice(at, len);
  if (!b) return { error: 'EOF' };
  return decodeWhole(b, size, version);
}

async function readData(r: DatReader, v: Volume, offset: number, size: Size): Promise<{ id: bigint } | { error: string }> {
  const version = v.version;
  const attempt = (at: number): Promise<ReadResult> => checkRecord(r, at, size, version);
  const detail = (at: number, m: { id: bigint; size: number }) =>
    `size mismatch: entry not found: offset ${at} found id ${needleIdToHex(m.id)} size ${m.size}, expected size ${size}`;
  let res = await attempt(offset);
  if ('mismatch' in res) {
    if (v.offsetWidth !== 4) return { error: detail(offset, res.mismatch) };
    const wrapped = offset + maxPossibleVolumeSize(4);
    if (offset < maxPossibleVolumeSize(4)) {
      res = await attempt(wrapped);
      if ('mismatch' in res) return { error: detail(wrapped, res.mismatch) };
    } else {
      return { error: detail(offset, res.mismatch) };
    }
  }
  if ('error' in res) return res;
  return { id: res.needle.id };
}

/**
 * Go's Scrub: the index check, then every row's record read and verified (header size, body
 * layout, data CRC, the needle id against the index key) and the .dat size against the records the
 * index accounts for. Throws VolumeClosedError when the volume closed under the scan (its reads do).
 */
export async function scrubVolumeData(v: Volume, hooks: ScanHooks = {}): Promise<ScrubOutcome> {
  for (let attempt = 0; ; attempt++) {
    const s = await takeSnapshot(v);
    if (typeof s === 'string') return { files: 0, errors: [s] };
    try {
      const zero = zeroSizeIndexError(v, s);
      if (zero) return { files: 0, errors: [zero] };
      const out = await scanData(v, s, hooks);
      // A compaction committed under the scan: the records read may come from the new .dat.
      if (v.superBlock.compactionRevision !== s.revision && attempt < 3) continue;
      return out;
    } finally {
      await s.fh.close().catch(() => undefined);
    }
  }
}

async function scanData(v: Volume, s: Snapshot, hooks: ScanHooks): Promise<ScrubOutcome> {
  const version = v.version;
  const width = v.offsetWidth;
  const { errors } = await checkIndexRows(s.fh, s.idxSize, width, version, hooks);
  const rows = Math.floor(s.idxSize / indexEntrySize(width));
  const reader = new DatReader(v, s.datSize, hooks);
  let count = 0;
  let totalRead = 0;
  // Rows are gathered a segment at a time (the walker's callback is synchronous), then verified.
  const seg: { hi: number; lo: number; offset: number; size: number }[] = [];
  await walkRows(
    s.fh,
    width,
    rows,
    hooks,
    (hi, lo, offset, size) => {
      seg.push({ hi, lo, offset, size });
    },
    async () => {
      for (const e of seg) {
        count++;
        if (e.offset === 0 && e.size < 0) continue; // a remote-tier delete: no record in the .dat
        const physical = rawSize(e.size);
        const id = needleIdFromHalves(e.hi, e.lo);
        const r = await readData(reader, v, e.offset, physical);
        if ('error' in r) errors.push(`failed to read needle ${id} on volume ${v.id}: ${r.error}`);
        else if (r.id !== id) errors.push(`index key ${needleIdToHex(id)} does not match needle's Id ${needleIdToHex(r.id)} on volume ${v.id}`);
        totalRead += goActualSize(physical, version);
      }
      seg.length = 0;
    },
  );
  const wantSize = totalRead + SUPER_BLOCK_SIZE;
  if (s.datSize < wantSize) {
    errors.push(`data file for volume ${v.id} is smaller (${s.datSize}) than the ${count} needles it contains (${wantSize})`);
  } else if (s.datSize !== wantSize) {
    errors.push(`data file size for volume ${v.id} (${s.datSize}) doesn't match the size for ${count} needles read (${wantSize})`);
  }
  return { files: count, errors };
}
