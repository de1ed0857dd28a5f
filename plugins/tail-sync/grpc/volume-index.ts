// Reading a live volume the way the sync RPCs need it: its .idx as an array of rows in append order
// (opened read-only for each request, bounded by the size the volume has published), the append
// time of the record a row points at, Go's binary search by append time, the .dat end the rows
// cover, and a sequential walk over the .dat records from an offset.
import { open, type FileHandle } from 'node:fs/promises';
import { readIdxEntry, walkIndexFile, type IdxEntry } from '../../../core/storage/idx.js';
import { parseNeedleHeader } from '../../../core/storage/needle.js';
import {
  NEEDLE_CHECKSUM_SIZE,
  NEEDLE_HEADER_SIZE,
  NEEDLE_PADDING_SIZE,
  TIMESTAMP_SIZE,
  indexEntrySize,
  needleBodyLength,
  readU64,
} from '../../../core/storage/types.js';
import type { Volume } from '../../../core/storage/volume.js';

/** The .idx of a volume as an array of rows, up to `bound` bytes (the published size). */
export class IndexRows {
  readonly entrySize: number;
  readonly count: number;

  private constructor(
    private readonly fh: FileHandle,
    private readonly v: Volume,
    bound: number,
  ) {
    this.entrySize = indexEntrySize(v.offsetWidth);
    this.count = Math.floor(bound / this.entrySize);
  }

  /**
   * Opens the index of `v`. With `strict`, an index size that is not a whole number of rows is
   * Go's `unexpected file <name>.idx size: <n>` error.
   */
  static async open(v: Volume, bound = v.idxFileSize(), strict = true): Promise<IndexRows> {
    const es = indexEntrySize(v.offsetWidth);
    if (strict && bound % es !== 0) {
      throw new Error(`unexpected file ${v.fileName('')}.idx size: ${bound}`);
    }
    const fh = await open(v.fileName('.idx'), 'r');
    return new IndexRows(fh, v, bound);
  }

  async row(m: number): Promise<IdxEntry> {
    const buf = Buffer.allocUnsafe(this.entrySize);
    const { bytesRead } = await this.fh.read(buf, 0, this.entrySize, m * this.entrySize);
    if (bytesRead !== this.entrySize) throw new Error(`read ${this.v.fileName('.idx')} entry ${m}: EOF`);
    return readIdxEntry(buf, 0, this.v.offsetWidth);
  }

  get handle(): FileHandle {
    return this.fh;
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/** Reads exactly `len` bytes of the volume's .dat at `pos`, or throws an EOF error. */
async function readDat(v: Volume, len: number, pos: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(len);
  const got = await v.readDataRange(buf, 0, len, pos);
  if (got !== len) throw new Error(`read ${v.fileName('.dat')} [${pos},${pos + len}): EOF`);
  return buf;
}

/** AppendAtNs of the record at `offset` (0 for versions before 3, which do not store it). */
export async function appendAtNsAt(v: Volume, offset: number): Promise<bigint> {
  const header = await readDat(v, NEEDLE_HEADER_SIZE, offset);
  const h = parseNeedleHeader(header);
  if (h.size < 0) throw new Error(`needle at offset ${offset} of ${v.fileName('.dat')} has size ${h.size}`);
  if (v.version !== 3) return 0n;
  const tail = await readDat(v, TIMESTAMP_SIZE, offset + NEEDLE_HEADER_SIZE + h.size + NEEDLE_CHECKSUM_SIZE);
  return readU64(tail, 0);
}

/**
 * Go's Volume.BinarySearchByAppendAtNs: the offset of the first record (in index order) appended
 * after `sinceNs`, or isLast when there is none. Rows without a location (offset 0) are skipped
 * by looking at their nearest located neighbours.
 */
export async function binarySearchByAppendAtNs(v: Volume, sinceNs: bigint): Promise<{ offset: number; isLast: boolean }> {
  const rows = await IndexRows.open(v);
  try {
    const n = rows.count;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const m = Math.floor((lo + hi) / 2);
      const e = await rows.row(m);
      if (e.offset === 0) {
        // nearest located rows left and right of m
        let li = m;
        let leftNs = 0n;
        for (;;) {
          li--;
          if (li < 0) break;
          const le = await rows.row(li);
          if (le.offset !== 0) {
            leftNs = await appendAtNsAt(v, le.offset);
            break;
          }
        }
        let ri = m;
        let rightOffset = 0;
        let rightNs = 0n;
        for (;;) {
          ri++;
          if (ri >= n) break;
          const re = await rows.row(ri);
          if (re.offset !== 0) {
            rightOffset = re.offset;
            rightNs = await appendAtNsAt(v, re.offset);
            break;
          }
        }
        if (rightNs <= sinceNs) {
          lo = ri;
          if (lo >= n) return { offset: 0, isLast: true };
          continue;
        }
        if (sinceNs < leftNs) {
          hi = li + 1;
          continue;
        }
        return { offset: rightOffset, isLast: false };
      }
      const mNs = await appendAtNsAt(v, e.offset);
      if (mNs <= sinceNs) lo = m + 1;
      else hi = m;
    }
    if (lo >= n) return { offset: 0, isLast: true };
    return { offset: (await rows.row(lo)).offset, isLast: false };
  } finally {
    await rows.close();
  }
}

/**
 * Go's DatSizeCoveredByIndex: the .dat end of the highest record the first `indexSize` bytes of
 * rows point at (rows need not be in .dat order), or the super block size when none does.
 */
export async function datSizeCoveredByIndex(v: Volume, indexSize: number): Promise<number> {
  const rows = await IndexRows.open(v, indexSize, false);
  let maxUnits = -1;
  try {
    await walkIndexFile(
      rows.handle,
      v.offsetWidth,
      (_hi, _lo, units) => {
        if (units !== 0 && units > maxUnits) maxUnits = units;
      },
      { rows: rows.count },
    );
  } finally {
    await rows.close();
  }
  if (maxUnits < 0) return v.superBlock.blockSize();
  const maxOffset = maxUnits * NEEDLE_PADDING_SIZE;
  const h = parseNeedleHeader(await readDat(v, NEEDLE_HEADER_SIZE, maxOffset));
  return maxOffset + NEEDLE_HEADER_SIZE + needleBodyLength(h.size, v.version);
}

/**
 * Walks the .dat records from `offset` to the current end (Go's ScanVolumeFileFrom with the body
 * read): `visit` gets each record's 16-byte header and its body (data, tail and padding). A torn
 * record at the end stops the walk. Stops early when `visit` returns false.
 */
export async function scanRecordsFrom(
  v: Volume,
  offset: number,
  visit: (header: Buffer, body: Buffer, offset: number) => Promise<boolean | void>,
): Promise<void> {
  let pos = offset;
  for (;;) {
    const header = Buffer.allocUnsafe(NEEDLE_HEADER_SIZE);
    const got = await v.readDataRange(header, 0, NEEDLE_HEADER_SIZE, pos);
    if (got < NEEDLE_HEADER_SIZE) return;
    const h = parseNeedleHeader(header);
    if (h.size < 0) throw new Error(`cannot read needle header at offset ${pos}: invalid size ${h.size}`);
    const bodyLen = needleBodyLength(h.size, v.version);
    // a record running past the end is torn (or its header is garbage): nothing more to read
    if (pos + NEEDLE_HEADER_SIZE + bodyLen > v.datFileSize()) return;
    const body = Buffer.allocUnsafe(bodyLen);
    const gotBody = await v.readDataRange(body, 0, bodyLen, pos + NEEDLE_HEADER_SIZE);
    if (gotBody < bodyLen) return;
    if ((await visit(header, body, pos)) === false) return;
    pos += NEEDLE_HEADER_SIZE + bodyLen;
  }
}
