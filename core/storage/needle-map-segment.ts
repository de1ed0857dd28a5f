// One dense-tier segment of the needle map (needle-map.ts): a chunk's entries in parallel typed
// arrays sorted by the low 16 bits of the id, 10 bytes per entry (11 once an offset passes 32 GiB).

/** Ids per chunk (chunk = id >> 16). */
export const CHUNK_KEYS = 65536;
/** A chunk with this many entries moves from the sparse hash to a segment. */
export const PROMOTE_THRESHOLD = 64;
export const TWO32 = 4294967296;

/** One chunk's entries, sorted by the low 16 bits of the id. */
export class Segment {
  len = 0;
  keys: Uint16Array;
  offLo: Uint32Array;
  /** High bytes of the offsets; null while they are all 0 (every offset below 32 GiB). */
  offHi: Uint8Array | null = null;
  sizes: Int32Array;

  constructor(capacity: number) {
    this.keys = new Uint16Array(capacity);
    this.offLo = new Uint32Array(capacity);
    this.sizes = new Int32Array(capacity);
  }

  setUnits(i: number, units: number): void {
    this.offLo[i] = units % TWO32;
    const high = Math.floor(units / TWO32);
    if (this.offHi) this.offHi[i] = high;
    else if (high !== 0) {
      this.offHi = new Uint8Array(this.keys.length);
      this.offHi[i] = high;
    }
  }

  capacity(): number {
    return this.keys.length;
  }

  /** Index of `ck`, or -(insertionPoint + 1). Fast path for the last key (sequential ids). */
  find(ck: number): number {
    const n = this.len;
    if (n === 0) return -1;
    const keys = this.keys;
    const last = keys[n - 1];
    if (ck === last) return n - 1;
    if (ck > last) return -(n + 1);
    let lo = 0;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid];
      if (k < ck) lo = mid + 1;
      else if (k > ck) hi = mid - 1;
      else return mid;
    }
    return -(lo + 1);
  }

  resize(capacity: number): void {
    const keys = new Uint16Array(capacity);
    keys.set(this.keys.subarray(0, this.len));
    const offLo = new Uint32Array(capacity);
    offLo.set(this.offLo.subarray(0, this.len));
    const sizes = new Int32Array(capacity);
    sizes.set(this.sizes.subarray(0, this.len));
    if (this.offHi) {
      const offHi = new Uint8Array(capacity);
      offHi.set(this.offHi.subarray(0, this.len));
      this.offHi = offHi;
    }
    this.keys = keys;
    this.offLo = offLo;
    this.sizes = sizes;
  }

  insertAt(i: number, ck: number, units: number, size: number): void {
    if (this.len === this.keys.length) {
      this.resize(Math.min(CHUNK_KEYS, Math.max(PROMOTE_THRESHOLD, Math.ceil(this.len * 1.5))));
    }
    const n = this.len;
    if (i < n) {
      this.keys.copyWithin(i + 1, i, n);
      this.offLo.copyWithin(i + 1, i, n);
      this.sizes.copyWithin(i + 1, i, n);
      if (this.offHi) this.offHi.copyWithin(i + 1, i, n);
    }
    this.keys[i] = ck;
    this.setUnits(i, units);
    this.sizes[i] = size;
    this.len = n + 1;
  }

  units(i: number): number {
    return this.offHi ? this.offHi[i] * TWO32 + this.offLo[i] : this.offLo[i];
  }

  bytes(): number {
    return this.keys.byteLength + this.offLo.byteLength + this.sizes.byteLength + (this.offHi?.byteLength ?? 0);
  }
}
