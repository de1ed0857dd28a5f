// The sorted tier of the needle map (needle-map.ts): entries of chunks too sparse for a segment,
// kept sorted by full 64-bit id in parallel typed arrays. Ids are stored as their low 32 bits
// (Uint32) and grouped into runs of equal high 32 bits (one run header per distinct high half),
// so an entry costs 4 (id) + 4 (offset) + 4 (size) = 12 bytes, plus 1 once an offset passes
// 32 GiB; snowflake ids share their high half for about a second of time, so run headers are
// negligible (fully random 64-bit ids would cost 8 more each).
//
// New entries never go here one by one: they are merged in as a sorted batch (needle-map-batch.ts)
// by one backward pass over the arrays, in place, which also moves any chunk that reached
// PROMOTE_THRESHOLD entries into a dense segment. A batch of ids above every stored id (the usual
// case: ids grow with time) touches only the batch and the tail of the arrays.
import type { RowBatch } from './needle-map-batch.js';
import { CHUNK_KEYS, PROMOTE_THRESHOLD, Segment, TWO32 } from './needle-map-segment.js';

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

  /** Makes room for `need` entries: the size hint if it covers them, else 1/8 of headroom. */
  private reserve(need: number): void {
    if (this.capacity() >= need) return;
    // Untouched pages of a large zeroed array are not resident, so an over-estimated hint costs
    // address space, not memory, until trim().
    this.resize(need <= this.sizeHint ? this.sizeHint : need + (need >>> 3) + 16);
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
   * Merges `batch` (in the order `perm`, or as is when null) into the tier. With `replay`, rows are
   * .idx rows applied in order with Go's doLoading semantics (a put replaces, a deletion negates
   * the size of a live entry and keeps its offset, a deletion of an unknown id adds nothing), and
   * ids may repeat or already be stored. Without it, rows are entries with ids stored nowhere else
   * (the sparse hash emptying itself). Chunks that end up with >= PROMOTE_THRESHOLD entries move to
   * new segments in `segments`; the caller guarantees none of the batch's chunks has one already.
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
    const runHi = this.runHi;
    const runStart = this.runStart;
    // The new runs, recorded from the top down: high half and lowest position (before the shift).
    // Sized for an append (batch above every stored id); grown if the merge reaches further down.
    let newHi = new Uint32Array(Math.min(this.g + m, 2 * m + 16) + 1);
    let newBottom = new Uint32Array(newHi.length);
    let ng = 0;
    /** Runs [0, keep) are untouched by the merge (see the in-place exit below). */
    let keep = 0;

    let created = 0;
    let delCount = 0;
    let delBytes = 0;
    let a = n0 - 1; // next base entry (downwards)
    let ja = this.g - 1; // its run
    let b = m - 1; // next batch row (downwards, in perm order)
    let w = n0 + m - 1; // next output position (downwards)
    let curChunk = -1; // chunk of the open chunk run, which spans [w + 1, runTop]
    let curRunHi = 0;
    let runTop = w;

    for (;;) {
      // Pick the largest remaining id: 0 = none left, 1 = base entry a, 2 = batch rows.
      let src = 0;
      let eh = 0;
      let el = 0;
      let ah = 0;
      let al = 0;
      if (a >= 0) {
        while (runStart[ja] > a) ja--;
        ah = runHi[ja];
        al = los[a];
        src = 1;
        eh = ah;
        el = al;
      }
      let eUnits = 0;
      let eSize = 0;
      if (b >= 0) {
        const r = perm ? perm[b] : b;
        const bh = bHi[r];
        const bl = bLo[r];
        const cmp = src === 0 ? 1 : bh !== ah ? (bh > ah ? 1 : -1) : bl !== al ? (bl > al ? 1 : -1) : 0;
        if (cmp >= 0) {
          eh = bh;
          el = bl;
          src = 2;
          if (!replay) {
            eUnits = bOffHi ? bOffHi[r] * TWO32 + bOffLo[r] : bOffLo[r];
            eSize = bSizes[r];
            b--;
          } else {
            // Every row of this id, oldest first, on top of the stored value if any.
            let b0 = b;
            while (b0 > 0) {
              const q = perm ? perm[b0 - 1] : b0 - 1;
              if (bHi[q] !== bh || bLo[q] !== bl) break;
              b0--;
            }
            let exists = false;
            if (cmp === 0) {
              exists = true;
              eUnits = offHi ? offHi[a] * TWO32 + offLo[a] : offLo[a];
              eSize = sizes[a];
              a--;
            }
            const existed = exists;
            for (let t = b0; t <= b; t++) {
              const q = perm ? perm[t] : t;
              const u = bOffHi ? bOffHi[q] * TWO32 + bOffLo[q] : bOffLo[q];
              const s = bSizes[q];
              if (u !== 0 && s >= 0) {
                if (exists && eUnits !== 0 && eSize > 0) {
                  delCount++;
                  delBytes += eSize;
                }
                exists = true;
                eUnits = u;
                eSize = s;
              } else if (exists && eSize >= 0) {
                if (eSize > 0) {
                  delCount++;
                  delBytes += eSize;
                }
                eSize = eSize === 0 ? -1 : -eSize;
              }
            }
            b = b0 - 1;
            if (!exists) continue; // only deletions of an id never stored
            if (!existed) created++;
          }
        }
      }

      const c = src === 0 ? -2 : eh * CHUNK_KEYS + (el >>> 16);
      if (c !== curChunk) {
        if (curChunk >= 0) {
          // Close the chunk run [w + 1, runTop]: promote it or append it to the runs.
          const len = runTop - w;
          if (len >= PROMOTE_THRESHOLD) {
            segments.set(curChunk, this.toSegment(w + 1, len));
            w = runTop;
          } else if (ng > 0 && newHi[ng - 1] === curRunHi) {
            newBottom[ng - 1] = w + 1;
          } else {
            if (ng === newHi.length) {
              const grownHi = new Uint32Array(Math.min(this.g + m + 1, ng * 2));
              grownHi.set(newHi);
              newHi = grownHi;
              const grownBottom = new Uint32Array(grownHi.length);
              grownBottom.set(newBottom);
              newBottom = grownBottom;
            }
            newHi[ng] = curRunHi;
            newBottom[ng] = w + 1;
            ng++;
          }
        }
        if (src === 0) break;
        curChunk = c;
        curRunHi = eh;
        runTop = w;
        if (src === 1 && b < 0 && w === a) {
          // Nothing left to merge and nothing moved: entries [0, a] are already in place, and
          // their chunks were below the threshold at the last merge. Runs [0, ja] stay as they
          // are; run ja absorbs the lowest new run if that has the same high half.
          if (ng > 0 && newHi[ng - 1] === runHi[ja]) ng--;
          keep = ja + 1;
          w = -1;
          break;
        }
      }

      if (src === 1) {
        if (w !== a) {
          los[w] = al;
          offLo[w] = offLo[a];
          sizes[w] = sizes[a];
          if (offHi) offHi[w] = offHi[a];
        }
        a--;
      } else {
        los[w] = el;
        offLo[w] = eUnits % TWO32;
        if (offHi) offHi[w] = Math.floor(eUnits / TWO32);
        sizes[w] = eSize;
      }
      w--;
    }

    const start = w + 1;
    const end = n0 + m;
    const count = end - start;
    if (start > 0 && count > 0) {
      los.copyWithin(0, start, end);
      offLo.copyWithin(0, start, end);
      sizes.copyWithin(0, start, end);
      if (offHi) offHi.copyWithin(0, start, end);
    }
    this.n = count;
    const g = keep + ng;
    if (this.runHi.length < g) this.resizeRuns(g + (g >>> 3) + 16);
    const rh = this.runHi;
    const rs = this.runStart;
    for (let k = 0; k < ng; k++) {
      rh[keep + k] = newHi[ng - 1 - k];
      rs[keep + k] = newBottom[ng - 1 - k] - start;
    }
    rs[g] = count;
    this.g = g;
    return { created, deletedCount: delCount, deletedBytes: delBytes };
  }
}
