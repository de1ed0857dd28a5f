// A batch of needle-map rows waiting to be merged into the sorted tier (needle-map-sorted.ts):
// either .idx rows appended while loading (applied in file order at merge time) or the entries of
// the sparse hash when it fills up. Rows are kept unsorted in parallel typed arrays; `order()`
// gives them in ascending id order, stable, with a radix sort (no comparator calls, no per-row
// objects), and skips the sort entirely when the rows already arrive in id order.
import { TWO32 } from './needle-map-segment.js';

const DIGIT = 0x10000;

export class RowBatch {
  len = 0;
  hi: Uint32Array;
  lo: Uint32Array;
  offLo: Uint32Array;
  /** High bytes of the offsets; null while every offset is below 32 GiB. */
  offHi: Uint8Array | null = null;
  sizes: Int32Array;

  constructor(capacity: number) {
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.offLo = new Uint32Array(capacity);
    this.sizes = new Int32Array(capacity);
  }

  push(hi: number, lo: number, units: number, size: number): void {
    const i = this.len;
    if (i === this.hi.length) this.grow(i * 2);
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.offLo[i] = units % TWO32;
    const high = Math.floor(units / TWO32);
    if (this.offHi) this.offHi[i] = high;
    else if (high !== 0) {
      this.offHi = new Uint8Array(this.hi.length);
      this.offHi[i] = high;
    }
    this.sizes[i] = size;
    this.len = i + 1;
  }

  private grow(capacity: number): void {
    const n = this.len;
    const hi = new Uint32Array(capacity);
    hi.set(this.hi.subarray(0, n));
    const lo = new Uint32Array(capacity);
    lo.set(this.lo.subarray(0, n));
    const offLo = new Uint32Array(capacity);
    offLo.set(this.offLo.subarray(0, n));
    const sizes = new Int32Array(capacity);
    sizes.set(this.sizes.subarray(0, n));
    if (this.offHi) {
      const offHi = new Uint8Array(capacity);
      offHi.set(this.offHi.subarray(0, n));
      this.offHi = offHi;
    }
    this.hi = hi;
    this.lo = lo;
    this.offLo = offLo;
    this.sizes = sizes;
  }

  bytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.offLo.byteLength + this.sizes.byteLength + (this.offHi?.byteLength ?? 0);
  }

  /**
   * Row indexes in ascending (hi, lo) order, rows with equal ids in arrival order; null when the
   * rows already are in that order (the common case: ids grow with time).
   */
  order(): Uint32Array | null {
    const n = this.len;
    const his = this.hi;
    const los = this.lo;
    let sorted = true;
    for (let i = 1; i < n; i++) {
      const h0 = his[i - 1];
      const h1 = his[i];
      if (h1 < h0 || (h1 === h0 && los[i] < los[i - 1])) {
        sorted = false;
        break;
      }
    }
    if (sorted) return null;
    // LSD radix sort of a permutation on four 16-bit digits (lo low, lo high, hi low, hi high);
    // each pass is stable, so equal ids keep their arrival order. A digit that is the same for
    // every row (e.g. the top bits of snowflake ids) costs one counting pass and no move.
    let perm = new Uint32Array(n);
    let next = new Uint32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    const count = new Uint32Array(DIGIT);
    for (let d = 0; d < 4; d++) {
      const src = d < 2 ? los : his;
      const shift = (d & 1) * 16;
      count.fill(0);
      for (let i = 0; i < n; i++) count[(src[i] >>> shift) & 0xffff]++;
      if (count[(src[0] >>> shift) & 0xffff] === n) continue;
      let sum = 0;
      for (let k = 0; k < DIGIT; k++) {
        const c = count[k];
        count[k] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const r = perm[i];
        next[count[(src[r] >>> shift) & 0xffff]++] = r;
      }
      const t = perm;
      perm = next;
      next = t;
    }
    return perm;
  }
}
