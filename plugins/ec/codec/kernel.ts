// The inner loop of the code: out_j = Σ_i coef[j][i] · in_i over GF(2^8), position by position.
// This is the scalar kernel (one product-table lookup per input byte and output); a faster kernel
// plugs in behind the same signature.
import { MUL } from './galois.js';

/**
 * For each output j: outputs[j][start..start+len) = Σ_i rows[j][i] · inputs[i][start..start+len).
 * Outputs are overwritten, never accumulated into.
 */
export type CodeKernel = (rows: Uint8Array[], inputs: Uint8Array[], outputs: Uint8Array[], start: number, len: number) => void;

export const scalarKernel: CodeKernel = (rows, inputs, outputs, start, len) => {
  const end = start + len;
  for (let j = 0; j < outputs.length; j++) {
    const out = outputs[j];
    const row = rows[j];
    let first = true;
    for (let i = 0; i < inputs.length; i++) {
      const c = row[i];
      const inp = inputs[i];
      if (c === 0) continue;
      if (c === 1) {
        if (first) out.set(inp.subarray(start, end), start);
        else for (let k = start; k < end; k++) out[k] ^= inp[k];
      } else {
        const t = MUL.subarray(c * 256, c * 256 + 256);
        if (first) for (let k = start; k < end; k++) out[k] = t[inp[k]];
        else for (let k = start; k < end; k++) out[k] ^= t[inp[k]];
      }
      first = false;
    }
    if (first) out.fill(0, start, end);
  }
};
