// The WebAssembly SIMD kernel: GF(2^8) multiply-accumulate 16 bytes at a time by the split-nibble
// method (c·b = L[b & 15] ^ H[b >> 4], each 16-entry table looked up with i8x16.swizzle). The
// module is a few hundred bytes, emitted here opcode by opcode (no toolchain needed); when the
// runtime lacks SIMD, createSimdKernel returns undefined and the scalar kernel is used.
import { MUL } from './galois.js';
import type { CodeKernel } from './kernel.js';

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body];
}

function name(s: string): number[] {
  return [...leb(s.length), ...Buffer.from(s, 'ascii')];
}

const I32 = 0x7f;
const V128 = 0x7b;
// Core opcodes.
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41, I32_ADD = 0x6a, I32_GE_U = 0x4f;
const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, VOID = 0x40;
// SIMD opcodes (0xfd prefix).
const SIMD = 0xfd, V128_LOAD = 0x00, V128_STORE = 0x0b, SWIZZLE = 0x0e, SPLAT8 = 0x0f;
const V128_AND = 0x4e, V128_XOR = 0x51, I8X16_SHR_U = 0x6d;
// Relaxed SIMD: i8x16.relaxed_swizzle is opcode 0x100 (LEB128).
const RELAXED_SWIZZLE = [0x80, 0x02];

/** Memory layout: coefficient tables, then the input and output chunks. */
const TABLES = 0;
/** 32 × 32 coefficient tables of 32 bytes (output j, input k at (32j + k)·32). */
const SCRATCH = 32 * 32 * 32;
const CHUNK = 16 * 1024;
const MAX_SHARDS = 32;
const PAGES = Math.ceil((SCRATCH + 2 * MAX_SHARDS * CHUNK) / 65536);

/**
 * mul<q>(tab, in0, in1, in2, in3, out, len), q = 1..4 inputs: for i in 0..len step 16 (len a
 * multiple of 16):
 *   out[i..i+16) (^)= XOR over the first q inputs of swizzle(L_q, in_q & 15) ^ swizzle(H_q, in_q >> 4)
 * with the 32-byte tables (L_q, H_q) at tab + 32q; `accumulate` false overwrites out instead of
 * xoring into it (the first group of a row, saving a clear and a load). Up to four inputs per
 * pass: the output is read and written once for four inputs, and the eight tables stay in
 * registers. With relaxed SIMD the swizzle is relaxed_swizzle (a bare pshufb on x64): its indices
 * here are nibbles, always in range, where the two swizzles agree.
 */
function mulFunction(q: number, accumulate: boolean, swizzle: number[]): number[] {
  const tab = 0, out = 5, len = 6, i = 7, mask = 16, v = 17, acc = 18;
  const inp = (k: number) => 1 + k;
  const L = (k: number) => 8 + k;
  const H = (k: number) => 12 + k;
  const tables: number[] = [];
  for (let k = 0; k < q; k++) {
    tables.push(LOCAL_GET, tab, SIMD, V128_LOAD, 0, ...leb(k * 32), LOCAL_SET, L(k));
    tables.push(LOCAL_GET, tab, SIMD, V128_LOAD, 0, ...leb(k * 32 + 16), LOCAL_SET, H(k));
  }
  const terms: number[] = [];
  for (let k = 0; k < q; k++) {
    // The first term of an overwrite starts the accumulator instead of xoring into it.
    const first = k === 0 && !accumulate;
    terms.push(
      LOCAL_GET, inp(k), LOCAL_GET, i, I32_ADD, SIMD, V128_LOAD, 0, 0, LOCAL_SET, v,
      ...(first ? [] : [LOCAL_GET, acc]),
      LOCAL_GET, L(k), LOCAL_GET, v, LOCAL_GET, mask, SIMD, V128_AND, ...swizzle,
      LOCAL_GET, H(k), LOCAL_GET, v, I32_CONST, 4, SIMD, I8X16_SHR_U, ...swizzle, SIMD, V128_XOR,
      ...(first ? [] : [SIMD, V128_XOR]),
      LOCAL_SET, acc,
    );
  }
  const load = accumulate ? [LOCAL_GET, out, LOCAL_GET, i, I32_ADD, SIMD, V128_LOAD, 0, 0, LOCAL_SET, acc] : [];
  const body = [
    // locals: i (i32); L0-3, H0-3, mask, v, acc (v128)
    2, 1, I32, 11, V128,
    ...tables,
    I32_CONST, 15, SIMD, SPLAT8, LOCAL_SET, mask,
    I32_CONST, 0, LOCAL_SET, i,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, i, LOCAL_GET, len, I32_GE_U, BR_IF, 1,
    ...load,
    ...terms,
    LOCAL_GET, out, LOCAL_GET, i, I32_ADD, LOCAL_GET, acc, SIMD, V128_STORE, 0, 0,
    LOCAL_GET, i, I32_CONST, 16, I32_ADD, LOCAL_SET, i,
    BR, 0,
    END, END,
    END,
  ];
  return [...leb(body.length), ...body];
}

/** Export name of the function for q inputs, overwriting (set) or accumulating (add). */
const fnName = (q: number, accumulate: boolean) => `${accumulate ? 'add' : 'set'}${q}`;

function moduleBytes(relaxed: boolean): Uint8Array<ArrayBuffer> {
  const swizzle = relaxed ? [SIMD, ...RELAXED_SWIZZLE] : [SIMD, SWIZZLE];
  const fns: { name: string; code: number[] }[] = [];
  for (const accumulate of [false, true]) for (let q = 1; q <= 4; q++) fns.push({ name: fnName(q, accumulate), code: mulFunction(q, accumulate, swizzle) });
  const exports: number[] = [...leb(fns.length + 1)];
  fns.forEach((f, idx) => exports.push(...name(f.name), 0x00, ...leb(idx)));
  exports.push(...name('mem'), 0x02, 0);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 7, I32, I32, I32, I32, I32, I32, I32, 0]),
    ...section(3, [...leb(fns.length), ...fns.map(() => 0)]),
    ...section(5, [1, 0x00, ...leb(PAGES)]),
    ...section(7, exports),
    ...section(10, [...leb(fns.length), ...fns.flatMap((f) => f.code)]),
  ];
  return new Uint8Array(bytes);
}

/** The module's bytes (exported for tests and for anyone wanting to inspect them). */
export const SIMD_MODULE_BYTES = moduleBytes(false);
/** The same module with relaxed_swizzle, used where the runtime has relaxed SIMD. */
export const RELAXED_SIMD_MODULE_BYTES = moduleBytes(true);

type MulFn = (tab: number, i0: number, i1: number, i2: number, i3: number, out: number, len: number) => void;

function instantiate(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Instance | undefined {
  if (!WebAssembly.validate(bytes)) return undefined;
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  } catch {
    return undefined;
  }
}

/** Instantiates the kernel, or undefined when this runtime has no WebAssembly SIMD. */
export function createSimdKernel(opts: { relaxed?: boolean } = {}): CodeKernel | undefined {
  if (typeof WebAssembly === 'undefined') return undefined;
  const instance = (opts.relaxed !== false ? instantiate(RELAXED_SIMD_MODULE_BYTES) : undefined) ?? instantiate(SIMD_MODULE_BYTES);
  if (!instance) return undefined;
  const fn = (q: number, accumulate: boolean) => instance.exports[fnName(q, accumulate)] as MulFn;
  const set = [1, 2, 3, 4].map((q) => fn(q, false));
  const add = [1, 2, 3, 4].map((q) => fn(q, true));
  const memory = instance.exports.mem as WebAssembly.Memory;
  const mem = new Uint8Array(memory.buffer);
  const outBase = SCRATCH + MAX_SHARDS * CHUNK;
  const inAt = (k: number) => SCRATCH + k * CHUNK;
  // The coefficients the tables were last built for: an encode passes the same rows every call.
  let built = new Uint8Array(0);
  let builtInputs = -1;

  const buildTables = (rows: Uint8Array[], n: number) => {
    const flat = new Uint8Array(rows.length * n);
    for (let j = 0; j < rows.length; j++) for (let k = 0; k < n; k++) flat[j * n + k] = rows[j][k];
    if (builtInputs === n && Buffer.compare(flat, built) === 0) return;
    for (let j = 0; j < rows.length; j++) {
      for (let k = 0; k < n; k++) {
        const c = flat[j * n + k] * 256;
        const tab = TABLES + (j * MAX_SHARDS + k) * 32;
        for (let x = 0; x < 16; x++) {
          mem[tab + x] = MUL[c + x];
          mem[tab + 16 + x] = MUL[c + (x << 4)];
        }
      }
    }
    built = flat;
    builtInputs = n;
  };

  return (rows, inputs, outputs, start, len) => {
    const n = inputs.length;
    if (n > MAX_SHARDS || outputs.length > MAX_SHARDS) throw new Error('too many shards for the SIMD kernel');
    if (outputs.length === 0) return;
    if (n === 0) {
      for (const o of outputs) o.fill(0, start, start + len);
      return;
    }
    buildTables(rows, n);
    for (let s = start; s < start + len; s += CHUNK) {
      const m = Math.min(CHUNK, start + len - s);
      const padded = (m + 15) & ~15;
      for (let k = 0; k < n; k++) {
        const at = inAt(k);
        mem.set(inputs[k].subarray(s, s + m), at);
        if (padded > m) mem.fill(0, at + m, at + padded);
      }
      for (let j = 0; j < outputs.length; j++) {
        const at = outBase + j * CHUNK;
        // Inputs in groups of up to four: the first group overwrites the output, the rest add.
        for (let k = 0; k < n; k += 4) {
          const q = Math.min(4, n - k);
          const f = k === 0 ? set[q - 1] : add[q - 1];
          f(TABLES + (j * MAX_SHARDS + k) * 32, inAt(k), inAt(k + 1), inAt(k + 2), inAt(k + 3), at, padded);
        }
        outputs[j].set(mem.subarray(at, at + m), s);
      }
    }
  };
}
