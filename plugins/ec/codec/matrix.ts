// Matrices over GF(2^8) and the encoding matrix klauspost/reedsolomon builds for New(D, P)
// (matrix.go buildMatrix): the (D+P)×D Vandermonde matrix times the inverse of its top square,
// which makes the top D rows the identity (a systematic code).
import { gfDiv, gfExp, gfMul } from './galois.js';

export type Matrix = Uint8Array[];

function zeros(rows: number, cols: number): Matrix {
  return Array.from({ length: rows }, () => new Uint8Array(cols));
}

export function identity(n: number): Matrix {
  const m = zeros(n, n);
  for (let i = 0; i < n; i++) m[i][i] = 1;
  return m;
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  const rows = a.length;
  const inner = b.length;
  const cols = b[0].length;
  const out = zeros(rows, cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let v = 0;
      for (let i = 0; i < inner; i++) v ^= gfMul(a[r][i], b[i][c]);
      out[r][c] = v;
    }
  }
  return out;
}

/** Gauss-Jordan inverse; throws when the matrix is singular. */
export function invert(m: Matrix): Matrix {
  const n = m.length;
  const work = m.map((row, i) => {
    const w = new Uint8Array(2 * n);
    w.set(row);
    w[n + i] = 1;
    return w;
  });
  for (let r = 0; r < n; r++) {
    if (work[r][r] === 0) {
      const below = work.findIndex((row, i) => i > r && row[r] !== 0);
      if (below < 0) throw new Error('matrix is singular');
      [work[r], work[below]] = [work[below], work[r]];
    }
    const pivot = work[r][r];
    if (pivot !== 1) {
      const scale = gfDiv(1, pivot);
      for (let c = 0; c < 2 * n; c++) work[r][c] = gfMul(work[r][c], scale);
    }
    for (let i = 0; i < n; i++) {
      if (i === r || work[i][r] === 0) continue;
      const f = work[i][r];
      for (let c = 0; c < 2 * n; c++) work[i][c] ^= gfMul(f, work[r][c]);
    }
  }
  return work.map((row) => row.slice(n));
}

/** The systematic (D+P)×D encoding matrix of klauspost's default New(D, P). */
export function encodingMatrix(dataShards: number, parityShards: number): Matrix {
  const total = dataShards + parityShards;
  const vm = zeros(total, dataShards);
  for (let r = 0; r < total; r++) for (let c = 0; c < dataShards; c++) vm[r][c] = gfExp(r, c);
  const top = invert(vm.slice(0, dataShards));
  return multiply(vm, top);
}
