// The in-memory needle map ("memory" index mode): needle id → (offset, size) for one volume, with
// the counters Go keeps for heartbeats and /status (Go weed/storage/needle_map_memory.go
// and needle_map_metric.go).
//
// Layout, built for tens of millions of entries per volume without a JS object per entry:
//
//  * Dense tier — like Go's CompactMap: ids are cut into chunks of 65 536 consecutive ids
//    (chunk = id >> 16). A chunk with many entries gets a segment: parallel typed arrays sorted by
//    the low 16 bits of the id (Uint16), the offset in 8-byte units (Uint32, plus a Uint8 high byte
//    allocated only once a segment holds an offset past 32 GiB, which needs 5-byte offsets) and the
//    size (Int32): 10 bytes per entry, 11 in segments of records beyond 32 GiB.
//    Master-assigned ids are sequential, so nearly every insert is an append to the last segment
//    and lookups are a Map.get plus a binary search over at most 65 536 Uint16 keys.
//  * Sparse tier — an open-addressing hash (linear probing) over full 64-bit ids kept as two
//    Uint32 arrays, for chunks with few entries (e.g. snowflake ids, which are scattered). Whenever
//    the hash fills up, chunks that have gathered >= 64 entries are moved to segments in bulk;
//    only what remains is rehashed. So sequential ids cost ~10 bytes each, scattered ids ~25-45
//    bytes each, and no distribution falls into a per-entry object or a per-entry segment.
//
// Invariant: all entries of one chunk live in exactly one tier (its segment if it has one).
//
// Deleted entries stay in the map with their size negated (0 becomes -1) and their old offset, as
// Go does, so `readDeleted` can still read the old record until the next vacuum.
import type { FileHandle } from 'node:fs/promises';
import { walkIndexFile } from './idx.js';
import { CHUNK_KEYS, PROMOTE_THRESHOLD, Segment, TWO32 } from './needle-map-segment.js';
import {
  NEEDLE_PADDING_SIZE,
  actualSize,
  needleIdFromHalves,
  needleIdHi,
  needleIdLo,
  type NeedleId,
  type OffsetWidth,
  type Size,
  type Version,
} from './types.js';

const SPARSE_MIN_CAPACITY = 1024;
const SPARSE_MAX_LOAD = 0.75;

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

  private sCap = 0;
  private sMask = 0;
  private sCount = 0;
  private sUsed = new Uint8Array(0);
  private sHi = new Uint32Array(0);
  private sLo = new Uint32Array(0);
  private sOffLo = new Uint32Array(0);
  private sOffHi: Uint8Array | null = null;
  private sSize = new Int32Array(0);

  /** Entries in the map (live and deleted). */
  private entries = 0;

  // Counters, with Go's semantics (log counters, not live counts).
  fileCount = 0;
  fileBytes = 0;
  deletedCount = 0;
  deletedBytes = 0;
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
    this.allocSparse(SPARSE_MIN_CAPACITY);
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
   * The hash is full: move every chunk with >= PROMOTE_THRESHOLD entries into a segment, then
   * rehash the rest into a table sized for it.
   */
  private rebuildSparse(): void {
    const cap = this.sCap;
    const n = this.sCount;
    const chunks = new Float64Array(n);
    let k = 0;
    for (let i = 0; i < cap; i++) {
      if (this.sUsed[i]) chunks[k++] = this.sHi[i] * CHUNK_KEYS + (this.sLo[i] >>> 16);
    }
    chunks.sort();
    const promote = new Set<number>();
    for (let i = 0; i < n; ) {
      let j = i + 1;
      while (j < n && chunks[j] === chunks[i]) j++;
      if (j - i >= PROMOTE_THRESHOLD) promote.add(chunks[i]);
      i = j;
    }
    const oldUsed = this.sUsed;
    const oldHi = this.sHi;
    const oldLo = this.sLo;
    const oldOffLo = this.sOffLo;
    const oldOffHi = this.sOffHi;
    const oldSize = this.sSize;
    const groups = new Map<number, number[]>();
    let promoted = 0;
    if (promote.size > 0) {
      for (let i = 0; i < cap; i++) {
        if (!oldUsed[i]) continue;
        const c = oldHi[i] * CHUNK_KEYS + (oldLo[i] >>> 16);
        if (!promote.has(c)) continue;
        let g = groups.get(c);
        if (!g) groups.set(c, (g = []));
        g.push(i);
        promoted++;
      }
    }
    const remaining = n - promoted;
    let newCap = SPARSE_MIN_CAPACITY;
    while (newCap * 0.5 < remaining + 1) newCap *= 2;
    if (promoted === 0) newCap = Math.max(newCap, cap * 2);
    this.allocSparse(newCap);
    for (const [c, slots] of groups) {
      slots.sort((a, b) => (oldLo[a] & 0xffff) - (oldLo[b] & 0xffff));
      const seg = new Segment(Math.min(CHUNK_KEYS, Math.max(PROMOTE_THRESHOLD, Math.ceil(slots.length * 1.5))));
      for (let t = 0; t < slots.length; t++) {
        const s = slots[t];
        seg.keys[t] = oldLo[s] & 0xffff;
        seg.setUnits(t, oldOffHi ? oldOffHi[s] * TWO32 + oldOffLo[s] : oldOffLo[s]);
        seg.sizes[t] = oldSize[s];
      }
      seg.len = slots.length;
      this.segments.set(c, seg);
    }
    for (let i = 0; i < cap; i++) {
      if (!oldUsed[i]) continue;
      if (promoted > 0 && promote.has(oldHi[i] * CHUNK_KEYS + (oldLo[i] >>> 16))) continue;
      const slot = -this.sparseSlot(oldHi[i], oldLo[i]) - 1;
      const units = oldOffHi ? oldOffHi[i] * TWO32 + oldOffLo[i] : oldOffLo[i];
      this.sparsePutAt(slot, oldHi[i], oldLo[i], units, oldSize[i]);
    }
  }

  // ------------------------------------------------------------------ core operations

  /** Looks up (hi, lo); on success fills foundUnits / foundSize. */
  getHL(hi: number, lo: number): boolean {
    const seg = this.segments.get(hi * CHUNK_KEYS + (lo >>> 16));
    if (seg !== undefined) {
      const i = seg.find(lo & 0xffff);
      if (i < 0) return false;
      this.foundUnits = seg.units(i);
      this.foundSize = seg.sizes[i];
      return true;
    }
    if (this.sCount === 0) return false;
    const s = this.sparseSlot(hi, lo);
    if (s < 0) return false;
    this.foundUnits = this.sparseUnits(s);
    this.foundSize = this.sSize[s];
    return true;
  }

  /**
   * Sets (hi, lo) → (units, size). Returns true if the key existed, with its previous value in
   * foundUnits / foundSize (Go's CompactMap.Set).
   */
  setHL(hi: number, lo: number, units: number, size: number): boolean {
    const chunk = hi * CHUNK_KEYS + (lo >>> 16);
    const seg = this.segments.get(chunk);
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
    if (this.sCount + 1 > this.sCap * SPARSE_MAX_LOAD) {
      this.rebuildSparse();
      return this.setHL(hi, lo, units, size); // the chunk may have moved to a segment
    }
    this.sparsePutAt(-s - 1, hi, lo, units, size);
    this.entries++;
    this.foundUnits = 0;
    this.foundSize = 0;
    return false;
  }

  /**
   * Marks (hi, lo) deleted by negating its size (0 becomes -1), keeping the offset. Returns the
   * previous size if the entry was live (>= 0), else 0 (Go's CompactMap.Delete).
   */
  deleteHL(hi: number, lo: number): number {
    const seg = this.segments.get(hi * CHUNK_KEYS + (lo >>> 16));
    if (seg !== undefined) {
      const i = seg.find(lo & 0xffff);
      if (i < 0) return 0;
      const old = seg.sizes[i];
      if (old < 0) return 0;
      seg.sizes[i] = old === 0 ? -1 : -old;
      return old;
    }
    if (this.sCount === 0) return 0;
    const s = this.sparseSlot(hi, lo);
    if (s < 0) return 0;
    const old = this.sSize[s];
    if (old < 0) return 0;
    this.sSize[s] = old === 0 ? -1 : -old;
    return old;
  }

  private maybeSetMaxKey(hi: number, lo: number): void {
    if (hi > this.maxKeyHi || (hi === this.maxKeyHi && lo > this.maxKeyLo)) {
      this.maxKeyHi = hi;
      this.maxKeyLo = lo;
    }
  }

  // ------------------------------------------------------------------ Go NeedleMapper semantics

  /** Applies one .idx row while loading (Go's doLoading). `units` = offset / 8. */
  applyIndexRow(hi: number, lo: number, units: number, size: Size): void {
    this.maybeSetMaxKey(hi, lo);
    if (units !== 0 && size > 0) {
      const end = units * NEEDLE_PADDING_SIZE + actualSize(size, this.version);
      if (end > this.maxNeedleEnd) this.maxNeedleEnd = end;
    }
    if (units !== 0 && size >= 0) {
      this.fileCount++;
      this.fileBytes += size;
      if (this.setHL(hi, lo, units, size) && this.foundUnits !== 0 && this.foundSize > 0) {
        this.deletedCount++;
        this.deletedBytes += this.foundSize;
      }
    } else {
      // The pinned Go reference counts a deletion only when it hit a live entry with size > 0
      // (a naive reading counts every deletion row; Go's doLoading in needle_map_memory.go does not).
      const old = this.deleteHL(hi, lo);
      if (old > 0) {
        this.deletedCount++;
        this.deletedBytes += old;
      }
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
      this.deletedCount++;
      this.deletedBytes += this.foundSize;
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
      this.deletedCount++;
      this.deletedBytes += old;
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
    return {
      fileCount: this.fileCount,
      fileBytes: this.fileBytes,
      deletedCount: this.deletedCount,
      deletedBytes: this.deletedBytes,
      maxFileKey: this.maxFileKey(),
      maxNeedleEnd: this.maxNeedleEnd,
    };
  }

  /** Number of entries held (live and deleted). */
  get size(): number {
    return this.entries;
  }

  // ------------------------------------------------------------------ iteration

  /** Visits every entry (live and deleted) in ascending id order. Offsets in bytes. */
  forEachSorted(fn: NeedleMapVisitor): void {
    // Sparse entries sorted by (hi, lo).
    const slots = new Uint32Array(this.sCount);
    let k = 0;
    for (let i = 0; i < this.sCap; i++) if (this.sUsed[i]) slots[k++] = i;
    const sHi = this.sHi;
    const sLo = this.sLo;
    slots.sort((a, b) => (sHi[a] !== sHi[b] ? sHi[a] - sHi[b] : sLo[a] - sLo[b]));
    const chunkIds = Float64Array.from(this.segments.keys()).sort();
    let sp = 0;
    const emitSparseBelow = (chunkLimit: number) => {
      while (sp < slots.length) {
        const s = slots[sp];
        if (sHi[s] * CHUNK_KEYS + (sLo[s] >>> 16) >= chunkLimit) break;
        fn(sHi[s], sLo[s], this.sparseUnits(s) * NEEDLE_PADDING_SIZE, this.sSize[s]);
        sp++;
      }
    };
    for (let c = 0; c < chunkIds.length; c++) {
      const chunk = chunkIds[c];
      emitSparseBelow(chunk);
      const seg = this.segments.get(chunk)!;
      const hi = Math.floor(chunk / CHUNK_KEYS);
      const base = (chunk % CHUNK_KEYS) * CHUNK_KEYS;
      for (let i = 0; i < seg.len; i++) {
        fn(hi, base + seg.keys[i], seg.units(i) * NEEDLE_PADDING_SIZE, seg.sizes[i]);
      }
    }
    emitSparseBelow(Infinity);
  }

  /** Visits every entry in ascending offset order (ties by id). Offsets in bytes. */
  forEachByOffset(fn: NeedleMapVisitor): void {
    const n = this.entries;
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

  /** Shrinks segments whose spare capacity exceeds 1/8 (called after a bulk load). */
  trim(): void {
    for (const seg of this.segments.values()) {
      if (seg.capacity() > seg.len + (seg.len >>> 3)) seg.resize(Math.max(seg.len, 1));
    }
  }

  /** Bytes held in typed arrays by this map (its own accounting). */
  memoryBytes(): number {
    let b =
      this.sUsed.byteLength +
      this.sHi.byteLength +
      this.sLo.byteLength +
      this.sOffLo.byteLength +
      this.sSize.byteLength +
      (this.sOffHi?.byteLength ?? 0);
    for (const seg of this.segments.values()) b += seg.bytes();
    return b;
  }

  /** Diagnostics: entries and segments per tier. */
  stats(): { entries: number; segments: number; sparseEntries: number; sparseCapacity: number } {
    return { entries: this.entries, segments: this.segments.size, sparseEntries: this.sCount, sparseCapacity: this.sCap };
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
    const rows = await walkIndexFile(file, width, (hi, lo, u, size) => map.applyIndexRow(hi, lo, u, size));
    map.trim();
    return { map, rows };
  }
}
