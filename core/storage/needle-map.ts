// The in-memory needle map ("memory" index mode): needle id → (offset, size) for one volume, with
// the counters Go keeps for heartbeats and /status (Go weed/storage/needle_map_memory.go
// and needle_map_metric.go).
//
// Layout, built for tens of millions of entries per volume without a JS object per entry:
//
//  * Dense tier — like Go's CompactMap: ids are cut into chunks of 65 536 consecutive ids
//    (chunk = id >> 16). A chunk with many entries gets a segment (needle-map-segment.ts):
//    parallel typed arrays sorted by the low 16 bits of the id (Uint16), the offset in 8-byte
//    units (Uint32, plus a Uint8 high byte allocated only once a segment holds an offset past
//    32 GiB, which needs 5-byte offsets) and the size (Int32): 10 bytes per entry, 11 in segments
//    of records beyond 32 GiB. Master-assigned ids are sequential, so nearly every insert is an
//    append to the last segment and lookups are a Map.get plus a binary search.
//  * Sorted tier (needle-map-sorted.ts) — chunks with few entries (snowflake-style ids, which are
//    scattered): one set of arrays sorted by full 64-bit id, the low id half per entry and the
//    high half once per run of equal high halves, 12 bytes per entry. It only grows by merging a
//    sorted batch (needle-map-batch.ts): an append when the batch lies above every stored id (ids
//    that grow with time), else one backward pass that moves the stored entries above each batch
//    id in blocks. Either also moves every chunk that reached PROMOTE_THRESHOLD entries to a
//    segment.
//  * Hash — a small open-addressing hash (linear probing) over full 64-bit ids that takes new
//    sparse ids at run time; when it fills up it is merged into the sorted tier. Its capacity is
//    at most 1/16 of the sorted tier's entries and 65 536 slots (~1 MiB), which bounds both its
//    memory and the work of one merge.
//  * Replay batch — .idx rows of a load (applyIndexRow) for chunks without a segment are appended
//    unsorted and merged every REPLAY_BATCH_ROWS rows, applying each id's rows in file order, so a
//    load is a few linear passes instead of one hash insert per row (and sequential ids merge as
//    soon as a chunk has PROMOTE_THRESHOLD of them, so the rest of the chunk goes straight to its
//    segment). Every other operation merges the pending rows first, so nothing observes the
//    difference.
//
// Invariants: all entries of one chunk live either in its segment or outside the dense tier; an
// id outside the dense tier is in the hash or in the sorted tier, never both; while replay rows
// are pending the hash is empty.
//
// Deleted entries stay in the map with their size negated (0 becomes -1) and their old offset, as
// Go does, so `readDeleted` can still read the old record until the next vacuum.
import type { FileHandle } from 'node:fs/promises';
import { walkIndexFile } from './idx.js';
import { RowBatch } from './needle-map-batch.js';
import { CHUNK_KEYS, PROMOTE_THRESHOLD, Segment, TWO32 } from './needle-map-segment.js';
import { SortedTier } from './needle-map-sorted.js';
import {
  NEEDLE_PADDING_SIZE,
  actualSize,
  indexEntrySize,
  needleIdFromHalves,
  needleIdHi,
  needleIdLo,
  type NeedleId,
  type OffsetWidth,
  type Size,
  type Version,
} from './types.js';

const HASH_MIN_CAPACITY = 1024;
const HASH_MAX_LOAD = 0.75;
/** The hash's capacity stays at most 1/HASH_SHARE of the sorted tier's entries (or the minimum). */
const HASH_SHARE = 16;
/**
 * And at most this: a merge of scattered ids moves the sorted entries above the smallest one, so
 * smaller, more frequent merges keep each pause short (~50 ms at 10M entries, measured).
 */
const HASH_MAX_CAPACITY = 65536;
/** .idx rows a load gathers before merging them into the sorted tier. */
const REPLAY_BATCH_ROWS = 1 << 20;
const REPLAY_FIRST_CAPACITY = 4096;

/** Location and size of a needle as the map stores it. */
export interface NeedleValue {
  /** Byte offset of the record in the .dat (0 = none). */
  offset: number;
  /** Size as in the index; negative = deleted (see types.ts). */
  size: Size;
}

export interface NeedleMapCounters {
  fileCount: number;
  fileBytes: number;
  deletedCount: number;
  deletedBytes: number;
  maxFileKey: NeedleId;
  maxNeedleEnd: number;
}

export type NeedleMapVisitor = (hi: number, lo: number, offset: number, size: Size) => void;

export class NeedleMap {
  readonly width: OffsetWidth;
  readonly version: Version;
  private readonly wide: boolean;

  private readonly segments = new Map<number, Segment>();
  private readonly sorted = new SortedTier();
  /** Pending .idx rows (see the header); null when none are pending and the batch was released. */
  private replay: RowBatch | null = null;
  /** The pending rows have strictly growing ids, all above the sorted tier's. */
  private replayAppends = false;
  /** Chunk of the latest pending put and how many puts of it came in a row (while appending). */
  private replayRunChunk = -1;
  private replayRunLen = 0;

  private sCap = 0;
  private sMask = 0;
  private sCount = 0;
  private sUsed = new Uint8Array(0);
  private sHi = new Uint32Array(0);
  private sLo = new Uint32Array(0);
  private sOffLo = new Uint32Array(0);
  private sOffHi: Uint8Array | null = null;
  private sSize = new Int32Array(0);

  /** Entries in the map (live and deleted), pending replay rows aside. */
  private entries = 0;

  // Counters, with Go's semantics (log counters, not live counts).
  fileCount = 0;
  fileBytes = 0;
  private delCount = 0;
  private delBytes = 0;
  maxNeedleEnd = 0;
  private maxKeyHi = 0;
  private maxKeyLo = 0;

  // Result registers of the last getHL()/setHL(), so hot paths allocate nothing.
  /** Offset in 8-byte units found by the last successful getHL(), or previous value on setHL(). */
  foundUnits = 0;
  /** Size found by the last successful getHL(), or previous value on setHL(). */
  foundSize = 0;

  constructor(width: OffsetWidth = 4, version: Version = 3) {
    this.width = width;
    this.version = version;
    this.wide = width === 5;
    this.allocSparse(HASH_MIN_CAPACITY);
  }

  get deletedCount(): number {
    this.settle();
    return this.delCount;
  }

  get deletedBytes(): number {
    this.settle();
    return this.delBytes;
  }

  // ------------------------------------------------------------------ sparse hash

  private allocSparse(cap: number): void {
    this.sCap = cap;
    this.sMask = cap - 1;
    this.sCount = 0;
    this.sUsed = new Uint8Array(cap);
    this.sHi = new Uint32Array(cap);
    this.sLo = new Uint32Array(cap);
    this.sOffLo = new Uint32Array(cap);
    this.sOffHi = this.wide ? new Uint8Array(cap) : null;
    this.sSize = new Int32Array(cap);
  }

  private hash(hi: number, lo: number): number {
    let h = Math.imul(lo ^ 0x2545f491, 0x9e3779b1) ^ Math.imul(hi ^ 0x7f4a7c15, 0x85ebca6b);
    h ^= h >>> 16;
    h = Math.imul(h, 0x7feb352d);
    h ^= h >>> 15;
    return h & this.sMask;
  }

  /** Slot of (hi, lo) or -(free slot + 1). */
  private sparseSlot(hi: number, lo: number): number {
    let i = this.hash(hi, lo);
    const used = this.sUsed;
    for (;;) {
      if (used[i] === 0) return -(i + 1);
      if (this.sLo[i] === lo && this.sHi[i] === hi) return i;
      i = (i + 1) & this.sMask;
    }
  }

  private sparsePutAt(slot: number, hi: number, lo: number, units: number, size: number): void {
    this.sUsed[slot] = 1;
    this.sHi[slot] = hi;
    this.sLo[slot] = lo;
    this.sOffLo[slot] = units % TWO32;
    if (this.sOffHi) this.sOffHi[slot] = Math.floor(units / TWO32);
    this.sSize[slot] = size;
    this.sCount++;
  }

  private sparseUnits(i: number): number {
    return this.sOffHi ? this.sOffHi[i] * TWO32 + this.sOffLo[i] : this.sOffLo[i];
  }

  /**
   * Empties the hash into the sorted tier (promoting chunks that reached the threshold) and sizes
   * it for the sorted tier's new size.
   */
  private mergeHash(): void {
    const n = this.sCount;
    if (n > 0) {
      const batch = new RowBatch(n);
      const used = this.sUsed;
      for (let i = 0; i < this.sCap; i++) {
        if (used[i]) batch.push(this.sHi[i], this.sLo[i], this.sparseUnits(i), this.sSize[i]);
      }
      this.sorted.merge(batch, batch.order(), false, this.segments);
    }
    let cap = HASH_MIN_CAPACITY;
    while (cap < HASH_MAX_CAPACITY && cap * 2 * HASH_SHARE <= this.sorted.n) cap *= 2;
    if (cap === this.sCap) {
      this.sUsed.fill(0);
      this.sCount = 0;
    } else {
      this.allocSparse(cap);
    }
  }

  // ------------------------------------------------------------------ replay batch

  /** Merges pending .idx rows, keeping the batch for more. */
  private flushReplay(): void {
    const batch = this.replay;
    if (batch === null || batch.len === 0) return;
    if (this.replayAppends) {
      this.entries += this.sorted.appendNew(batch, this.segments);
    } else {
      const t = this.sorted.merge(batch, batch.order(), true, this.segments);
      this.entries += t.created;
      this.delCount += t.deletedCount;
      this.delBytes += t.deletedBytes;
    }
    batch.len = 0;
  }

  /** Merges pending .idx rows and releases the batch (before anything reads or changes the map). */
  private settle(): void {
    if (this.replay === null) return;
    this.flushReplay();
    this.replay = null;
  }

  // ------------------------------------------------------------------ core operations

  private getRaw(hi: number, lo: number): boolean {
    const seg = this.segments.get(hi * CHUNK_KEYS + (lo >>> 16));
    if (seg !== undefined) {
      const i = seg.find(lo & 0xffff);
      if (i < 0) return false;
      this.foundUnits = seg.units(i);
      this.foundSize = seg.sizes[i];
      return true;
    }
    if (this.sCount !== 0) {
      const s = this.sparseSlot(hi, lo);
      if (s >= 0) {
        this.foundUnits = this.sparseUnits(s);
        this.foundSize = this.sSize[s];
        return true;
      }
    }
    if (this.sorted.n === 0) return false;
    const p = this.sorted.find(hi, lo);
    if (p < 0) return false;
    this.foundUnits = this.sorted.units(p);
    this.foundSize = this.sorted.sizes[p];
    return true;
  }

  private setRaw(hi: number, lo: number, units: number, size: number): boolean {
    const seg = this.segments.get(hi * CHUNK_KEYS + (lo >>> 16));
    if (seg !== undefined) {
      const ck = lo & 0xffff;
      const i = seg.find(ck);
      if (i >= 0) {
        this.foundUnits = seg.units(i);
        this.foundSize = seg.sizes[i];
        seg.setUnits(i, units);
        seg.sizes[i] = size;
        return true;
      }
      seg.insertAt(-i - 1, ck, units, size);
      this.entries++;
      this.foundUnits = 0;
      this.foundSize = 0;
      return false;
    }
    const s = this.sparseSlot(hi, lo);
    if (s >= 0) {
      this.foundUnits = this.sparseUnits(s);
      this.foundSize = this.sSize[s];
      this.sOffLo[s] = units % TWO32;
      if (this.sOffHi) this.sOffHi[s] = Math.floor(units / TWO32);
      this.sSize[s] = size;
      return true;
    }
    if (this.sorted.n !== 0) {
      const p = this.sorted.find(hi, lo);
      if (p >= 0) {
        this.foundUnits = this.sorted.units(p);
        this.foundSize = this.sorted.sizes[p];
        this.sorted.setUnits(p, units);
        this.sorted.sizes[p] = size;
        return true;
      }
    }
    if (this.sCount + 1 > this.sCap * HASH_MAX_LOAD) {
      this.mergeHash();
      return this.setRaw(hi, lo, units, size); // the chunk may have moved to a segment
    }
    this.sparsePutAt(-s - 1, hi, lo, units, size);
    this.entries++;
    this.foundUnits = 0;
    this.foundSize = 0;
    return false;
  }

  private deleteRaw(hi: number, lo: number): number {
    const seg = this.segments.get(hi * CHUNK_KEYS + (lo >>> 16));
    if (seg !== undefined) {
      const i = seg.find(lo & 0xffff);
      if (i < 0) return 0;
      const old = seg.sizes[i];
      if (old < 0) return 0;
      seg.sizes[i] = old === 0 ? -1 : -old;
      return old;
    }
    let sizes: Int32Array;
    let p = -1;
    if (this.sCount !== 0) p = this.sparseSlot(hi, lo);
    if (p >= 0) sizes = this.sSize;
    else {
      if (this.sorted.n === 0) return 0;
      p = this.sorted.find(hi, lo);
      if (p < 0) return 0;
      sizes = this.sorted.sizes;
    }
    const old = sizes[p];
    if (old < 0) return 0;
    sizes[p] = old === 0 ? -1 : -old;
    return old;
  }

  /** Looks up (hi, lo); on success fills foundUnits / foundSize. */
  getHL(hi: number, lo: number): boolean {
    if (this.replay !== null) this.settle();
    return this.getRaw(hi, lo);
  }

  /**
   * Sets (hi, lo) → (units, size). Returns true if the key existed, with its previous value in
   * foundUnits / foundSize (Go's CompactMap.Set).
   */
  setHL(hi: number, lo: number, units: number, size: number): boolean {
    if (this.replay !== null) this.settle();
    return this.setRaw(hi, lo, units, size);
  }

  /**
   * Marks (hi, lo) deleted by negating its size (0 becomes -1), keeping the offset. Returns the
   * previous size if the entry was live (>= 0), else 0 (Go's CompactMap.Delete).
   */
  deleteHL(hi: number, lo: number): number {
    if (this.replay !== null) this.settle();
    return this.deleteRaw(hi, lo);
  }

  private maybeSetMaxKey(hi: number, lo: number): void {
    if (hi > this.maxKeyHi || (hi === this.maxKeyHi && lo > this.maxKeyLo)) {
      this.maxKeyHi = hi;
      this.maxKeyLo = lo;
    }
  }

  // ------------------------------------------------------------------ Go NeedleMapper semantics

  /**
   * Applies one .idx row while loading (Go's doLoading). `units` = offset / 8. Rows of chunks
   * without a segment are batched (see the header); their deletion counters are settled when the
   * batch is merged, which happens before any read of them.
   */
  applyIndexRow(hi: number, lo: number, units: number, size: Size): void {
    this.maybeSetMaxKey(hi, lo);
    if (units !== 0 && size > 0) {
      const end = units * NEEDLE_PADDING_SIZE + actualSize(size, this.version);
      if (end > this.maxNeedleEnd) this.maxNeedleEnd = end;
    }
    const put = units !== 0 && size >= 0;
    if (put) {
      this.fileCount++;
      this.fileBytes += size;
    }
    if (this.segments.size !== 0 && this.segments.has(hi * CHUNK_KEYS + (lo >>> 16))) {
      // No pending row can belong to a chunk with a segment: apply it now.
      if (put) {
        if (this.setRaw(hi, lo, units, size) && this.foundUnits !== 0 && this.foundSize > 0) {
          this.delCount++;
          this.delBytes += this.foundSize;
        }
      } else {
        // The pinned Go reference counts a deletion only when it hit a live entry with size > 0
        // (a naive reading counts every deletion row; Go's doLoading in needle_map_memory.go does not).
        const old = this.deleteRaw(hi, lo);
        if (old > 0) {
          this.delCount++;
          this.delBytes += old;
        }
      }
      return;
    }
    let batch = this.replay;
    if (batch === null) batch = this.replay = new RowBatch(REPLAY_FIRST_CAPACITY);
    const chunk = hi * CHUNK_KEYS + (lo >>> 16);
    if (batch.len === 0) {
      if (this.sCount !== 0) this.mergeHash();
      const st = this.sorted;
      const last = st.n - 1;
      this.replayAppends = last < 0 || hi > st.runHi[st.g - 1] || (hi === st.runHi[st.g - 1] && lo > st.lo[last]);
      this.replayRunChunk = -1;
    } else if (this.replayAppends) {
      const prev = batch.len - 1;
      const pHi = batch.hi[prev];
      this.replayAppends = hi > pHi || (hi === pHi && lo > batch.lo[prev]);
    }
    batch.push(hi, lo, units, size);
    if (batch.len >= REPLAY_BATCH_ROWS) this.flushReplay();
    else if (this.replayAppends && put) {
      // Sequential ids: once a chunk has PROMOTE_THRESHOLD new ids in a row, merge now (an append,
      // so it costs only the batch) so the chunk gets its segment and its next rows go straight there.
      if (chunk !== this.replayRunChunk) {
        this.replayRunChunk = chunk;
        this.replayRunLen = 1;
      } else if (++this.replayRunLen >= PROMOTE_THRESHOLD) this.flushReplay();
    }
  }

  /** Runtime put of a written needle (Go's NeedleMap.Put + logPut). Offset in bytes. */
  put(id: NeedleId, offset: number, size: Size): void {
    this.putHL(needleIdHi(id), needleIdLo(id), offset, size);
  }

  putHL(hi: number, lo: number, offset: number, size: Size): void {
    const units = offset / NEEDLE_PADDING_SIZE;
    const existed = this.setHL(hi, lo, units, size);
    this.maybeSetMaxKey(hi, lo);
    this.fileCount++;
    this.fileBytes += size;
    if (existed && this.foundSize > 0) {
      this.delCount++;
      this.delBytes += this.foundSize;
    }
    if (units !== 0 && size > 0) {
      const end = offset + actualSize(size, this.version);
      if (end > this.maxNeedleEnd) this.maxNeedleEnd = end;
    }
  }

  /** Runtime delete (Go's NeedleMap.Delete + logDelete). Returns the previous live size or 0. */
  remove(id: NeedleId): number {
    const old = this.deleteHL(needleIdHi(id), needleIdLo(id));
    if (old > 0) {
      this.delCount++;
      this.delBytes += old;
    }
    return old;
  }

  /** Looks up an id; offsets in bytes. */
  get(id: NeedleId): NeedleValue | undefined {
    if (!this.getHL(needleIdHi(id), needleIdLo(id))) return undefined;
    return { offset: this.foundUnits * NEEDLE_PADDING_SIZE, size: this.foundSize };
  }

  /** Raw set without touching counters (tests, rebuilds). Offset in bytes. Returns the old value. */
  set(id: NeedleId, offset: number, size: Size): NeedleValue | undefined {
    const existed = this.setHL(needleIdHi(id), needleIdLo(id), offset / NEEDLE_PADDING_SIZE, size);
    return existed ? { offset: this.foundUnits * NEEDLE_PADDING_SIZE, size: this.foundSize } : undefined;
  }

  /** Raw delete without touching counters; returns the previous live size or 0. */
  delete(id: NeedleId): number {
    return this.deleteHL(needleIdHi(id), needleIdLo(id));
  }

  maxFileKey(): NeedleId {
    return needleIdFromHalves(this.maxKeyHi, this.maxKeyLo);
  }

  counters(): NeedleMapCounters {
    this.settle();
    return {
      fileCount: this.fileCount,
      fileBytes: this.fileBytes,
      deletedCount: this.delCount,
      deletedBytes: this.delBytes,
      maxFileKey: this.maxFileKey(),
      maxNeedleEnd: this.maxNeedleEnd,
    };
  }

  /** Number of entries held (live and deleted). */
  get size(): number {
    this.settle();
    return this.entries;
  }

  // ------------------------------------------------------------------ iteration

  /** Visits every entry (live and deleted) in ascending id order. Offsets in bytes. */
  forEachSorted(fn: NeedleMapVisitor): void {
    this.settle();
    if (this.sCount !== 0) this.mergeHash();
    const st = this.sorted;
    const n = st.n;
    let p = 0;
    let j = 0;
    const emitSortedBelow = (chunkLimit: number) => {
      while (p < n) {
        while (st.runStart[j + 1] <= p) j++;
        const hi = st.runHi[j];
        const lo = st.lo[p];
        if (hi * CHUNK_KEYS + (lo >>> 16) >= chunkLimit) break;
        fn(hi, lo, st.units(p) * NEEDLE_PADDING_SIZE, st.sizes[p]);
        p++;
      }
    };
    const chunkIds = Float64Array.from(this.segments.keys()).sort();
    for (let c = 0; c < chunkIds.length; c++) {
      const chunk = chunkIds[c];
      emitSortedBelow(chunk);
      const seg = this.segments.get(chunk)!;
      const hi = Math.floor(chunk / CHUNK_KEYS);
      const base = (chunk % CHUNK_KEYS) * CHUNK_KEYS;
      for (let i = 0; i < seg.len; i++) {
        fn(hi, base + seg.keys[i], seg.units(i) * NEEDLE_PADDING_SIZE, seg.sizes[i]);
      }
    }
    emitSortedBelow(Infinity);
  }

  /** Visits every entry in ascending offset order (ties by id). Offsets in bytes. */
  forEachByOffset(fn: NeedleMapVisitor): void {
    const n = this.size;
    const his = new Uint32Array(n);
    const los = new Uint32Array(n);
    const units = new Float64Array(n);
    const sizes = new Int32Array(n);
    let k = 0;
    this.forEachSorted((hi, lo, off, size) => {
      his[k] = hi;
      los[k] = lo;
      units[k] = off / NEEDLE_PADDING_SIZE;
      sizes[k] = size;
      k++;
    });
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => units[a] - units[b] || a - b);
    for (let i = 0; i < n; i++) {
      const j = order[i];
      fn(his[j], los[j], units[j] * NEEDLE_PADDING_SIZE, sizes[j]);
    }
  }

  // ------------------------------------------------------------------ memory

  /** Shrinks segments and the sorted tier whose spare capacity exceeds 1/8 (after a bulk load). */
  trim(): void {
    this.settle();
    for (const seg of this.segments.values()) {
      if (seg.capacity() > seg.len + (seg.len >>> 3)) seg.resize(Math.max(seg.len, 1));
    }
    this.sorted.trim();
  }

  /** Bytes held in typed arrays by this map (its own accounting). */
  memoryBytes(): number {
    let b =
      this.sUsed.byteLength +
      this.sHi.byteLength +
      this.sLo.byteLength +
      this.sOffLo.byteLength +
      this.sSize.byteLength +
      (this.sOffHi?.byteLength ?? 0) +
      this.sorted.bytes() +
      (this.replay?.bytes() ?? 0);
    for (const seg of this.segments.values()) b += seg.bytes();
    return b;
  }

  /** Diagnostics: entries per tier (sparseEntries = hash + sorted tier). */
  stats(): {
    entries: number;
    segments: number;
    sparseEntries: number;
    sparseCapacity: number;
    sortedEntries: number;
    sortedRuns: number;
  } {
    this.settle();
    return {
      entries: this.entries,
      segments: this.segments.size,
      sparseEntries: this.sCount + this.sorted.n,
      sparseCapacity: this.sCap,
      sortedEntries: this.sorted.n,
      sortedRuns: this.sorted.g,
    };
  }

  // ------------------------------------------------------------------ loading

  /**
   * Builds a map by streaming an open .idx file (Go's LoadCompactNeedleMap). Returns the map and
   * the number of whole rows read.
   */
  static async load(
    file: FileHandle,
    width: OffsetWidth,
    version: Version,
  ): Promise<{ map: NeedleMap; rows: number }> {
    const map = new NeedleMap(width, version);
    map.sorted.sizeHint = Math.floor((await file.stat()).size / indexEntrySize(width));
    const rows = await walkIndexFile(file, width, (hi, lo, u, size) => map.applyIndexRow(hi, lo, u, size));
    map.trim();
    map.sorted.sizeHint = 0;
    return { map, rows };
  }
}
