// The sorted tier of the needle map (needle-map.ts): entries of chunks too sparse for a segment,
// kept sorted by full 64-bit id in parallel typed arrays. Ids are stored as their low 32 bits
// (Uint32) and grouped into runs of equal high 32 bits (one run header per distinct high half),
// so an entry costs 4 (id) + 4 (offset) + 4 (size) = 12 bytes, plus 1 once an offset passes
// 32 GiB; snowflake ids share their high half for about a second of time, so run headers are
// negligible (fully random 64-bit ids would cost 8 more each).
//
// New entries never go here one by one: they are merged in as a sorted batch (needle-map-batch.ts),
// in place, which also moves any chunk that reached PROMOTE_THRESHOLD entries into a dense
// segment. A batch of ids above every stored id (the usual case: ids grow with time) is appended;
// any other batch costs a short search per batch id and one block move of the stored entries
// above its smallest id. The arrays grow by 1/8 at a time (a copy of the tier, ~0.1 s at 10M
// entries on the bench machine), or to a load's row count at once.
import type { RowBatch } from './needle-map-batch.js';
import { CHUNK_KEYS, PROMOTE_THRESHOLD, Segment, TWO32 } from './needle-map-segment.js';

/** Entries from which growth jumps to the size hint (smaller tiers: sequential loads). */
const HINT_FROM = 1 << 16;

export interface MergeTotals {
  /** Ids that were not in the tier before and are now (in the tier or promoted). */
  created: number;
  /** Go's deletion counters for replayed .idx rows (see NeedleMap.applyIndexRow). */
  deletedCount: number;
  deletedBytes: number;
}

export class SortedTier {
  n = 0;
  lo = new Uint32Array(0);
  offLo = new Uint32Array(0);
  /** High bytes of the offsets; null while every offset is below 32 GiB. */
  offHi: Uint8Array | null = null;
  sizes = new Int32Array(0);
  /**
   * Number of runs; run j holds high half runHi[j] at positions [runStart[j], runStart[j + 1]).
   * runHi and runStart have spare capacity beyond g (runStart[g] = n).
   */
  g = 0;
  runHi = new Uint32Array(0);
  runStart = new Uint32Array(1);

  /** Position of (hi, lo), or -1. */
  find(hi: number, lo: number): number {
    const rh = this.runHi;
    let a = 0;
    let b = this.g - 1;
    while (a <= b) {
      const mid = (a + b) >>> 1;
      const v = rh[mid];
      if (v < hi) a = mid + 1;
      else if (v > hi) b = mid - 1;
      else {
        const los = this.lo;
        let l = this.runStart[mid];
        let r = this.runStart[mid + 1] - 1;
        while (l <= r) {
          const m = (l + r) >>> 1;
          const k = los[m];
          if (k < lo) l = m + 1;
          else if (k > lo) r = m - 1;
          else return m;
        }
        return -1;
      }
    }
    return -1;
  }

  units(i: number): number {
    return this.offHi ? this.offHi[i] * TWO32 + this.offLo[i] : this.offLo[i];
  }

  setUnits(i: number, units: number): void {
    this.offLo[i] = units % TWO32;
    const high = Math.floor(units / TWO32);
    if (this.offHi) this.offHi[i] = high;
    else if (high !== 0) {
      this.offHi = new Uint8Array(this.lo.length);
      this.offHi[i] = high;
    }
  }

  /** Expected final entry count (a load's row count); the first growth reserves it at once. */
  sizeHint = 0;

  capacity(): number {
    return this.lo.length;
  }

  /**
   * Makes room for `need` entries: the size hint once the tier gets big (a load of scattered ids)
   * and the hint covers them, else 1/8 of headroom.
   */
  private reserve(need: number): void {
    if (this.capacity() >= need) return;
    // Untouched pages of a large zeroed array are not resident, so an over-estimated hint costs
    // address space, not memory, until trim().
    const hinted = need >= HINT_FROM && need <= this.sizeHint;
    this.resize(hinted ? this.sizeHint : need + (need >>> 3) + 16);
  }

  private resize(capacity: number): void {
    const n = this.n;
    const lo = new Uint32Array(capacity);
    lo.set(this.lo.subarray(0, n));
    this.lo = lo;
    const offLo = new Uint32Array(capacity);
    offLo.set(this.offLo.subarray(0, n));
    this.offLo = offLo;
    const sizes = new Int32Array(capacity);
    sizes.set(this.sizes.subarray(0, n));
    this.sizes = sizes;
    if (this.offHi) {
      const offHi = new Uint8Array(capacity);
      offHi.set(this.offHi.subarray(0, n));
      this.offHi = offHi;
    }
  }

  /** Drops spare capacity above 1/8 (after a bulk load). */
  trim(): void {
    if (this.capacity() > this.n + (this.n >>> 3)) this.resize(this.n);
    if (this.runHi.length > this.g + (this.g >>> 3)) this.resizeRuns(this.g);
  }

  private resizeRuns(capacity: number): void {
    const runHi = new Uint32Array(capacity);
    runHi.set(this.runHi.subarray(0, this.g));
    const runStart = new Uint32Array(capacity + 1);
    runStart.set(this.runStart.subarray(0, this.g + 1));
    this.runHi = runHi;
    this.runStart = runStart;
  }

  bytes(): number {
    return (
      this.lo.byteLength +
      this.offLo.byteLength +
      this.sizes.byteLength +
      (this.offHi?.byteLength ?? 0) +
      this.runHi.byteLength +
      this.runStart.byteLength
    );
  }

  /**
   * Appends .idx rows whose ids grow strictly and are all above the stored ones (the usual load:
   * ids grow with time), in one forward pass: no id can repeat or hit a stored one, so a put
   * adds an entry and a deletion adds nothing (Go's doLoading on an unknown id). Chunks that
   * reach PROMOTE_THRESHOLD entries move to new segments. Returns the entries added.
   */
  appendNew(batch: RowBatch, segments: Map<number, Segment>): number {
    const m = batch.len;
    this.reserve(this.n + m);
    if (batch.offHi && !this.offHi) this.offHi = new Uint8Array(this.lo.length);
    const los = this.lo;
    const offLo = this.offLo;
    const sizes = this.sizes;
    const offHi = this.offHi;
    const bHi = batch.hi;
    const bLo = batch.lo;
    const bOffLo = batch.offLo;
    const bOffHi = batch.offHi;
    const bSizes = batch.sizes;
    let w = this.n;
    let added = 0;
    let curChunk = -1;
    let curHi = 0;
    let runFrom = w;
    if (w > 0) {
      // The batch may continue the chunk of the top stored entries: count them in, so that a
      // promotion takes the whole chunk.
      const top = los[w - 1] >>> 16;
      const lastRun = this.runStart[this.g - 1];
      curHi = this.runHi[this.g - 1];
      curChunk = curHi * CHUNK_KEYS + top;
      runFrom = w - 1;
      while (runFrom > lastRun && los[runFrom - 1] >>> 16 === top) runFrom--;
    }
    for (let i = 0; i <= m; i++) {
      let c = -2;
      if (i < m) {
        if (bSizes[i] < 0 || (bOffLo[i] === 0 && (bOffHi === null || bOffHi[i] === 0))) continue;
        c = bHi[i] * CHUNK_KEYS + (bLo[i] >>> 16);
      }
      if (c !== curChunk) {
        if (curChunk >= 0) {
          const len = w - runFrom;
          if (len >= PROMOTE_THRESHOLD) {
            segments.set(curChunk, this.toSegment(runFrom, len));
            w = runFrom;
            // The top stored run may have held nothing but this chunk.
            if (this.g > 0 && this.runStart[this.g - 1] === runFrom) this.g--;
          } else if (this.g === 0 || this.runHi[this.g - 1] !== curHi) {
            if (this.g + 1 >= this.runHi.length) this.resizeRuns(this.g + (this.g >>> 1) + 16);
            this.runHi[this.g] = curHi;
            this.runStart[this.g] = runFrom;
            this.g++;
          }
        }
        if (c === -2) break;
        curChunk = c;
        curHi = bHi[i];
        runFrom = w;
      }
      los[w] = bLo[i];
      offLo[w] = bOffLo[i];
      if (offHi) offHi[w] = bOffHi ? bOffHi[i] : 0;
      sizes[w] = bSizes[i];
      w++;
      added++;
    }
    this.n = w;
    this.runStart[this.g] = w;
    return added;
  }

  /** A new segment holding positions [from, from + len), which are one chunk's entries. */
  private toSegment(from: number, len: number): Segment {
    const los = this.lo;
    const offLo = this.offLo;
    const offHi = this.offHi;
    const sizes = this.sizes;
    const seg = new Segment(Math.min(CHUNK_KEYS, Math.ceil(len * 1.5)));
    for (let t = 0, p = from; t < len; t++, p++) {
      seg.keys[t] = los[p] & 0xffff;
      seg.setUnits(t, offHi ? offHi[p] * TWO32 + offLo[p] : offLo[p]);
      seg.sizes[t] = sizes[p];
    }
    seg.len = len;
    return seg;
  }

  /**
   * First position in [0, limit) whose id is >= (hi, lo), or limit; `lbExact` tells whether that
   * position holds (hi, lo) itself. Uses the runs as they are (positions below `limit` must not
   * have moved since they were built).
   */
  private lowerBound(hi: number, lo: number, limit: number): number {
    this.lbExact = false;
    const rh = this.runHi;
    let x = 0;
    let y = this.g;
    while (x < y) {
      const mid = (x + y) >>> 1;
      if (rh[mid] < hi) x = mid + 1;
      else y = mid;
    }
    if (x === this.g) return limit;
    let start = this.runStart[x];
    if (start >= limit) return limit;
    if (rh[x] !== hi) return start;
    const end = Math.min(this.runStart[x + 1], limit);
    let e = end;
    const los = this.lo;
    while (start < e) {
      const mid = (start + e) >>> 1;
      if (los[mid] < lo) start = mid + 1;
      else e = mid;
    }
    this.lbExact = start < end && los[start] === lo;
    return start;
  }

  private lbExact = false;
  /** Run found by the last gallop() for its high half, or -1 if none in range. */
  private gRun = -1;
  /** Last run at or below the position gallop() returned minus one, or -1. */
  private gPos = -1;

  /**
   * lowerBound(hi, lo, a + 1) searching down from position a, whose run is ja: exponential steps
   * then a binary search, first over the runs, then within the run. Sets lbExact and gRun.
   */
  private gallop(hi: number, lo: number, a: number, ja: number): number {
    this.lbExact = false;
    this.gRun = -1;
    this.gPos = -1;
    if (a < 0) return 0;
    const rh = this.runHi;
    const rs = this.runStart;
    // The largest run j <= ja with rh[j] <= hi.
    let j = ja;
    if (rh[ja] > hi) {
      let above = ja; // rh[above] > hi
      let k = ja - 1;
      let step = 1;
      while (k >= 0 && rh[k] > hi) {
        above = k;
        k -= step;
        step *= 2;
      }
      // answer in [max(k, 0), above - 1], or none
      let x = k < 0 ? 0 : k;
      let y = above - 1;
      if (y < x || rh[x] > hi) return 0; // every entry in [0, a] is above (hi, lo)
      while (x < y) {
        const mid = (x + y + 1) >>> 1;
        if (rh[mid] <= hi) x = mid;
        else y = mid - 1;
      }
      j = x;
    }
    this.gPos = j;
    const runEnd = j === ja ? a + 1 : rs[j + 1];
    if (rh[j] !== hi) return runEnd;
    this.gRun = j;
    const los = this.lo;
    const runFrom = rs[j];
    let top = runEnd - 1;
    if (los[top] < lo) return runEnd;
    // los[top] >= lo: find the first position in [runFrom, top] with los >= lo
    let k = top - 1;
    let step = 1;
    while (k >= runFrom && los[k] >= lo) {
      top = k;
      k -= step;
      step *= 2;
    }
    let x = k < runFrom ? runFrom : k + 1;
    let y = top;
    while (x < y) {
      const mid = (x + y) >>> 1;
      if (los[mid] < lo) x = mid + 1;
      else y = mid;
    }
    this.lbExact = los[x] === lo;
    return x;
  }

  /** Positions [from, to) in [0, limit) of the entries of `chunk` (= hi * CHUNK_KEYS + lo >>> 16). */
  private chunkRange(chunk: number, limit: number): [number, number] {
    const hi = Math.floor(chunk / CHUNK_KEYS);
    const top = chunk % CHUNK_KEYS;
    const from = this.lowerBound(hi, top * CHUNK_KEYS, limit);
    let to: number;
    if (top < CHUNK_KEYS - 1) to = this.lowerBound(hi, (top + 1) * CHUNK_KEYS, limit);
    else to = hi === TWO32 - 1 ? limit : this.lowerBound(hi + 1, 0, limit);
    return [from, to];
  }

  /**
   * Merges `batch` (in the order `perm`, or as is when null) into the tier. With `replay`, rows are
   * .idx rows applied in order with Go's doLoading semantics (a put replaces, a deletion negates
   * the size of a live entry and keeps its offset, a deletion of an unknown id adds nothing), and
   * ids may repeat or already be stored. Without it, rows are entries with ids stored nowhere else
   * (the sparse hash emptying itself). Chunks that end up with >= PROMOTE_THRESHOLD entries move to
   * new segments in `segments`; the caller guarantees none of the batch's chunks has one already.
   *
   * Backwards and in place: for each batch id, from the largest down, the stored entries above it
   * move up in one block (copyWithin), so the cost is a binary search per batch id plus moving the
   * entries above the smallest batch id once; entries below it are not touched.
   */
  merge(batch: RowBatch, perm: Uint32Array | null, replay: boolean, segments: Map<number, Segment>): MergeTotals {
    const m = batch.len;
    const n0 = this.n;
    this.reserve(n0 + m);
    if (batch.offHi && !this.offHi) this.offHi = new Uint8Array(this.lo.length);
    const los = this.lo;
    const offLo = this.offLo;
    const sizes = this.sizes;
    const offHi = this.offHi;
    const bHi = batch.hi;
    const bLo = batch.lo;
    const bOffLo = batch.offLo;
    const bOffHi = batch.offHi;
    const bSizes = batch.sizes;
    // New entries per high half, in descending order of high half.
    const addHi = new Uint32Array(m);
    const addCnt = new Uint32Array(m);
    let na = 0;
    const promote: number[] = [];
    let curChunk = -1;
    let chunkCount = 0;

    let created = 0;
    let delCount = 0;
    let delBytes = 0;
    let a = n0 - 1; // top stored entry not yet moved; [0, a] are where they were
    let ja = this.g - 1; // the run holding a
    const runStart = this.runStart;
    let b = m - 1; // next batch row (downwards, in perm order)
    let w = n0 + m - 1; // next output position (downwards)
    while (b >= 0) {
      const r = perm ? perm[b] : b;
      const bh = bHi[r];
      const bl = bLo[r];
      let b0 = b;
      if (replay) {
        while (b0 > 0) {
          const q = perm ? perm[b0 - 1] : b0 - 1;
          if (bHi[q] !== bh || bLo[q] !== bl) break;
          b0--;
        }
      }
      // Where the id falls among the stored entries still in place, searching down from the top
      // (batch ids come in descending order, so the answer is usually close).
      const q = this.gallop(bh, bl, a, ja);
      const equal = this.lbExact;
      const j = this.gRun; // run holding the high half bh in [0, a], or -1
      const chunk = bh * CHUNK_KEYS + (bl >>> 16);
      if (chunk !== curChunk) {
        if (chunkCount >= PROMOTE_THRESHOLD) promote.push(curChunk);
        curChunk = chunk;
        // The stored entries of this chunk are all still in [0, a] (the ones moved so far are
        // above the previous batch id, in a higher chunk), next to q on either side.
        chunkCount = 0;
        if (j >= 0) {
          const top = bl >>> 16;
          const runFrom = runStart[j];
          const runTo = Math.min(runStart[j + 1], a + 1);
          for (let i = q - 1; i >= runFrom && los[i] >>> 16 === top; i--) chunkCount++;
          for (let i = q; i < runTo && los[i] >>> 16 === top; i++) chunkCount++;
        }
      }
      const above = a + 1 - (equal ? q + 1 : q);
      if (above > 0) {
        const from = a + 1 - above;
        if (w !== a) {
          const to = w + 1 - above;
          if (above <= 8) {
            for (let t = above - 1; t >= 0; t--) {
              los[to + t] = los[from + t];
              offLo[to + t] = offLo[from + t];
              sizes[to + t] = sizes[from + t];
              if (offHi) offHi[to + t] = offHi[from + t];
            }
          } else {
            los.copyWithin(to, from, a + 1);
            offLo.copyWithin(to, from, a + 1);
            sizes.copyWithin(to, from, a + 1);
            if (offHi) offHi.copyWithin(to, from, a + 1);
          }
        }
        w -= above;
        a = from - 1;
      }
      let exists = false;
      let eUnits = 0;
      let eSize = 0;
      if (equal) {
        // a === q now
        exists = true;
        eUnits = offHi ? offHi[a] * TWO32 + offLo[a] : offLo[a];
        eSize = sizes[a];
        a--;
      }
      ja = this.gPos;
      while (ja >= 0 && runStart[ja] > a) ja--;
      const existed = exists;
      if (!replay) {
        exists = true;
        eUnits = bOffHi ? bOffHi[r] * TWO32 + bOffLo[r] : bOffLo[r];
        eSize = bSizes[r];
      } else {
        // Every row of this id, oldest first, on top of the stored value if any.
        for (let t = b0; t <= b; t++) {
          const x = perm ? perm[t] : t;
          const u = bOffHi ? bOffHi[x] * TWO32 + bOffLo[x] : bOffLo[x];
          const sz = bSizes[x];
          if (u !== 0 && sz >= 0) {
            if (exists && eUnits !== 0 && eSize > 0) {
              delCount++;
              delBytes += eSize;
            }
            exists = true;
            eUnits = u;
            eSize = sz;
          } else if (exists && eSize >= 0) {
            if (eSize > 0) {
              delCount++;
              delBytes += eSize;
            }
            eSize = eSize === 0 ? -1 : -eSize;
          }
        }
      }
      b = b0 - 1;
      if (!exists) continue; // only deletions of an id never stored
      if (!existed) {
        created++;
        chunkCount++;
        if (na > 0 && addHi[na - 1] === bh) addCnt[na - 1]++;
        else {
          addHi[na] = bh;
          addCnt[na] = 1;
          na++;
        }
      }
      los[w] = bl;
      offLo[w] = eUnits % TWO32;
      if (offHi) offHi[w] = Math.floor(eUnits / TWO32);
      sizes[w] = eSize;
      w--;
    }
    if (chunkCount >= PROMOTE_THRESHOLD) promote.push(curChunk);

    // Close the gap left by deletion-only ids and by batch ids that were already stored.
    const end = n0 + m;
    const gap = w - a;
    if (gap > 0 && w + 1 < end) {
      los.copyWithin(a + 1, w + 1, end);
      offLo.copyWithin(a + 1, w + 1, end);
      sizes.copyWithin(a + 1, w + 1, end);
      if (offHi) offHi.copyWithin(a + 1, w + 1, end);
    }
    this.n = end - gap;
    this.addToRuns(addHi, addCnt, na);
    if (promote.length > 0) this.promoteChunks(promote, segments);
    return { created, deletedCount: delCount, deletedBytes: delBytes };
  }

  /**
   * Rebuilds the runs for `count[k]` new entries of high half `his[k]` (k < na, descending his),
   * in place and backwards like the entries; this.n is already the new total.
   */
  private addToRuns(his: Uint32Array, count: Uint32Array, na: number): void {
    const g0 = this.g;
    if (this.runHi.length < g0 + na + 1) this.resizeRuns(g0 + na + ((g0 + na) >>> 3) + 16);
    const rh = this.runHi;
    const rs = this.runStart;
    // Runs are written as (high half, entry count) from slot g0 + na - 1 down, then shifted down
    // and turned back into start positions.
    let o = g0 + na - 1;
    let j = g0 - 1;
    let k = 0;
    let nextStart = rs[g0];
    while (j >= 0 || k < na) {
      let hi: number;
      let cnt: number;
      if (j >= 0 && (k >= na || rh[j] > his[k])) {
        hi = rh[j];
        cnt = nextStart - rs[j];
        nextStart = rs[j];
        j--;
      } else if (j < 0 || his[k] > rh[j]) {
        hi = his[k];
        cnt = count[k];
        k++;
      } else {
        hi = rh[j];
        cnt = nextStart - rs[j] + count[k];
        nextStart = rs[j];
        j--;
        k++;
      }
      rh[o] = hi;
      rs[o] = cnt;
      o--;
    }
    const g = g0 + na - 1 - o;
    if (o + 1 > 0) {
      rh.copyWithin(0, o + 1, g0 + na);
      rs.copyWithin(0, o + 1, g0 + na);
    }
    let sum = 0;
    for (let i = 0; i < g; i++) {
      const c = rs[i];
      rs[i] = sum;
      sum += c;
    }
    rs[g] = sum;
    this.g = g;
  }

  /**
   * Moves the entries of each chunk in `chunks` (descending) into a new segment and closes the
   * holes; rare (a chunk turning dense), so one pass over the runs and the entries above is fine.
   */
  private promoteChunks(chunks: number[], segments: Map<number, Segment>): void {
    const n = this.n;
    const ranges: number[] = []; // [from, to) pairs, descending
    for (const chunk of chunks) {
      const [from, to] = this.chunkRange(chunk, n);
      segments.set(chunk, this.toSegment(from, to - from));
      ranges.push(from, to);
    }
    // Runs: to entry counts, minus the promoted entries, without the emptied runs, back to starts.
    const rh = this.runHi;
    const rs = this.runStart;
    const g0 = this.g;
    for (let j = 0; j < g0; j++) rs[j] = rs[j + 1] - rs[j];
    for (let c = 0; c < chunks.length; c++) {
      const hi = Math.floor(chunks[c] / CHUNK_KEYS);
      let x = 0;
      let y = g0 - 1;
      while (x < y) {
        const mid = (x + y) >>> 1;
        if (rh[mid] < hi) x = mid + 1;
        else y = mid;
      }
      rs[x] -= ranges[2 * c + 1] - ranges[2 * c];
    }
    let g = 0;
    let sum = 0;
    for (let j = 0; j < g0; j++) {
      const cnt = rs[j];
      if (cnt === 0) continue;
      rh[g] = rh[j];
      rs[g] = sum;
      sum += cnt;
      g++;
    }
    rs[g] = sum;
    this.g = g;
    // Entries: keep what lies between the ranges, lowest first.
    let wpos = ranges[ranges.length - 2];
    for (let i = ranges.length - 2; i >= 0; i -= 2) {
      const keepFrom = ranges[i + 1];
      const keepTo = i >= 2 ? ranges[i - 2] : n;
      if (keepTo > keepFrom && wpos !== keepFrom) {
        this.lo.copyWithin(wpos, keepFrom, keepTo);
        this.offLo.copyWithin(wpos, keepFrom, keepTo);
        this.sizes.copyWithin(wpos, keepFrom, keepTo);
        if (this.offHi) this.offHi.copyWithin(wpos, keepFrom, keepTo);
      }
      wpos += keepTo - keepFrom;
    }
    this.n = wpos;
  }
}
