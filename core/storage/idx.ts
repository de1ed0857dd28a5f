// The .idx append log (Go: weed/storage/idx/walk.go, weed/storage/types/needle_types.go): rows of needle id (8, BE), offset (4 or 5 bytes,
// 8-byte units, 5th byte = high byte stored last) and size (int32 BE, -1 = tombstone). Also the
// streaming reader used to load millions of rows, and the geometry/width validation that refuses
// to silently misread an index written with the other offset width.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { IndexCorruptedError, OffsetWidthMismatchError } from './storage-errors.js';
import {
  NEEDLE_PADDING_SIZE,
  actualSize,
  indexEntrySize,
  needleIdFromHalves,
  needleIdHi,
  needleIdLo,
  rawSize,
  readI32,
  readU32,
  toOffsetUnits,
  writeU32,
  type NeedleId,
  type OffsetWidth,
  type Size,
  type Version,
} from './types.js';

export interface IdxEntry {
  id: NeedleId;
  /** Byte offset in the .dat (units * 8); 0 = no location. */
  offset: number;
  size: Size;
}

/** Writes one row at buf[pos..]. `offset` is a byte offset (multiple of 8). */
export function writeIdxEntryHL(
  buf: Uint8Array,
  pos: number,
  hi: number,
  lo: number,
  offset: number,
  size: Size,
  width: OffsetWidth,
): void {
  writeU32(buf, pos, hi);
  writeU32(buf, pos + 4, lo);
  const u = toOffsetUnits(offset, width);
  writeU32(buf, pos + 8, u % 2 ** 32);
  if (width === 5) {
    buf[pos + 12] = Math.floor(u / 2 ** 32) & 0xff;
    writeU32(buf, pos + 13, size);
  } else {
    writeU32(buf, pos + 12, size);
  }
}

export function writeIdxEntry(buf: Uint8Array, pos: number, e: IdxEntry, width: OffsetWidth): void {
  writeIdxEntryHL(buf, pos, needleIdHi(e.id), needleIdLo(e.id), e.offset, e.size, width);
}

/** One row as a fresh buffer (Go's needle_map.ToBytes). */
export function idxEntryBytes(id: NeedleId, offset: number, size: Size, width: OffsetWidth): Buffer {
  const b = Buffer.allocUnsafe(indexEntrySize(width));
  writeIdxEntryHL(b, 0, needleIdHi(id), needleIdLo(id), offset, size, width);
  return b;
}

export function readIdxEntry(buf: Uint8Array, pos: number, width: OffsetWidth): IdxEntry {
  const hi = readU32(buf, pos);
  const lo = readU32(buf, pos + 4);
  const offLo = readU32(buf, pos + 8);
  const offHi = width === 5 ? buf[pos + 12] : 0;
  const size = readI32(buf, pos + (width === 5 ? 13 : 12));
  return { id: needleIdFromHalves(hi, lo), offset: (offHi * 2 ** 32 + offLo) * NEEDLE_PADDING_SIZE, size };
}

/**
 * Callback for the fast walker: id halves, offset in 8-byte UNITS (not bytes: saves a multiply per
 * row on the hot load path), size, row index.
 */
export type IdxRowFn = (hi: number, lo: number, offsetUnits: number, size: Size, row: number) => void;

/** Default read size for streaming the index: 4 MiB worth of whole rows. */
export const IDX_READ_ROWS = 256 * 1024;

/**
 * Streams the rows of an index file (fd or open FileHandle) in big chunks, calling `fn` for each
 * whole row from `fromRow` on. A trailing partial row is ignored (like Go's WalkIndexFile).
 * Returns the number of rows visited.
 */
export async function walkIndexFile(
  file: FileHandle,
  width: OffsetWidth,
  fn: IdxRowFn,
  opts: { fromRow?: number; rows?: number; readRows?: number } = {},
): Promise<number> {
  const es = indexEntrySize(width);
  const chunkRows = opts.readRows ?? IDX_READ_ROWS;
  const buf = Buffer.allocUnsafe(chunkRows * es);
  let row = opts.fromRow ?? 0;
  const limit = opts.rows === undefined ? Infinity : row + opts.rows;
  let pos = row * es;
  let visited = 0;
  for (;;) {
    const want = Math.min(buf.length, Number.isFinite(limit) ? (limit - row) * es : buf.length);
    if (want <= 0) break;
    let got = 0;
    while (got < want) {
      const { bytesRead } = await file.read(buf, got, want - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const whole = got - (got % es);
    const sizeAt = width === 5 ? 13 : 12;
    for (let p = 0; p < whole; p += es) {
      const hi = ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]) >>> 0;
      const lo = ((buf[p + 4] << 24) | (buf[p + 5] << 16) | (buf[p + 6] << 8) | buf[p + 7]) >>> 0;
      let u = ((buf[p + 8] << 24) | (buf[p + 9] << 16) | (buf[p + 10] << 8) | buf[p + 11]) >>> 0;
      if (width === 5) u += buf[p + 12] * 4294967296;
      const size = (buf[p + sizeAt] << 24) | (buf[p + sizeAt + 1] << 16) | (buf[p + sizeAt + 2] << 8) | buf[p + sizeAt + 3];
      fn(hi, lo, u, size, row);
      row++;
      visited++;
    }
    if (got < want) break;
    pos += whole;
  }
  return visited;
}

/** Convenience: all rows of an index file as objects (tests, small files). */
export async function readIndexEntries(path: string, width: OffsetWidth): Promise<IdxEntry[]> {
  const fh = await open(path, 'r');
  try {
    const out: IdxEntry[] = [];
    await walkIndexFile(fh, width, (hi, lo, u, size) => {
      out.push({ id: needleIdFromHalves(hi, lo), offset: u * NEEDLE_PADDING_SIZE, size });
    });
    return out;
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

const SAMPLE_ROWS = 4096;

function otherWidth(w: OffsetWidth): OffsetWidth {
  return w === 4 ? 5 : 4;
}

function settingHint(width: OffsetWidth): string {
  return (
    `this server uses ${width}-byte offsets (setting storage.offsetBytes / env WEED_OFFSET_BYTES = ${width}); ` +
    `a volume written by a server with the other width must be opened with the same storage.offsetBytes`
  );
}

/** Counts implausible rows in a sample read with `width`; returns [sampled, implausible, pastEnd]. */
async function sampleRows(
  file: FileHandle,
  idxSize: number,
  datSize: number,
  width: OffsetWidth,
  version: Version,
): Promise<[number, number, number]> {
  const es = indexEntrySize(width);
  const rows = Math.floor(idxSize / es);
  if (rows === 0) return [0, 0, 0];
  let sampled = 0;
  let bad = 0;
  let pastEnd = 0;
  const check: IdxRowFn = (_hi, _lo, u, size) => {
    sampled++;
    if (u === 0) return; // deletion (or an empty slot): always plausible
    const off = u * NEEDLE_PADDING_SIZE;
    if (size < -1) {
      bad++;
      return;
    }
    if (off < 8 || off + actualSize(rawSize(size), version) > datSize) {
      bad++;
      pastEnd++;
    }
  };
  const head = Math.min(rows, SAMPLE_ROWS);
  await walkIndexFile(file, width, check, { fromRow: 0, rows: head, readRows: head });
  if (rows > head) {
    const tailFrom = Math.max(head, rows - SAMPLE_ROWS);
    await walkIndexFile(file, width, check, { fromRow: tailFrom, rows: rows - tailFrom, readRows: rows - tailFrom });
  }
  return [sampled, bad, pastEnd];
}

export interface IndexCheck {
  /** Rows that parse with the configured width (a trailing partial row excluded). */
  rows: number;
  /**
   * Set when the index looks written with the other offset width: loading it would misread every
   * row. The volume must refuse to load.
   */
  widthMismatch?: OffsetWidthMismatchError;
  /**
   * Set when the index is damaged in a way Go tolerates by marking the volume read-only (a size
   * that is not a multiple of the row size, rows pointing past the end of the .dat).
   */
  corruption?: IndexCorruptedError;
}

/**
 * Checks an index file against the configured offset width and the .dat size before loading it.
 * Never throws for content problems: returns what it found so the caller can refuse (width
 * mismatch) or degrade to read-only (Go's behaviour for a damaged index).
 */
export async function checkIndexFile(
  file: FileHandle,
  name: string,
  datSize: number,
  width: OffsetWidth,
  version: Version,
): Promise<IndexCheck> {
  const idxSize = (await file.stat()).size;
  const es = indexEntrySize(width);
  const other = otherWidth(width);
  const oes = indexEntrySize(other);
  const rows = Math.floor(idxSize / es);
  const fits = idxSize % es === 0;
  const otherFits = idxSize > 0 && idxSize % oes === 0;
  const [sampled, bad, pastEnd] = await sampleRows(file, idxSize, datSize, width, version);
  let otherClean = false;
  if (otherFits && (!fits || bad > 0)) {
    const [os, ob] = await sampleRows(file, idxSize, datSize, other, version);
    otherClean = os > 0 && ob === 0;
  }
  const result: IndexCheck = { rows };
  if ((!fits || bad > 0) && otherClean) {
    result.widthMismatch = new OffsetWidthMismatchError(
      `index file ${name} (${idxSize} bytes) looks written with ${other}-byte offsets (${oes}-byte rows) ` +
        `but ${settingHint(width)}; refusing to load it rather than misread it`,
    );
    return result;
  }
  if (sampled > 0 && bad * 2 > sampled) {
    result.widthMismatch = new OffsetWidthMismatchError(
      `index file ${name}: ${bad} of ${sampled} sampled rows point outside ${name.replace(/\.idx$/, '.dat')} ` +
        `(${datSize} bytes); the offset width probably does not match: ${settingHint(width)}`,
    );
    return result;
  }
  if (!fits) {
    result.corruption = new IndexCorruptedError(
      `index file's size is ${idxSize} bytes, maybe corrupted (not a multiple of ${es}, the row size for ` +
        `${width}-byte offsets; if ${name} was written with ${other}-byte offsets set storage.offsetBytes / ` +
        `WEED_OFFSET_BYTES = ${other})`,
    );
  } else if (pastEnd > 0 || bad > 0) {
    result.corruption = new IndexCorruptedError(
      `index file ${name}: ${bad} rows point past the end of the .dat (${datSize} bytes); ` +
        `either the .dat lost its tail or the offset width differs (${settingHint(width)})`,
    );
  }
  return result;
}

/** File size helper. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
