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

/** Memory layout: coefficient tables, then the input and output chunks. */
const TABLES = 0;
/** 32 × 32 coefficient tables of 32 bytes (output j, input k at (32j + k)·32). */
const SCRATCH = 32 * 32 * 32;
const CHUNK = 16 * 1024;
const MAX_SHARDS = 32;
const PAGES = Math.ceil((SCRATCH + 2 * MAX_SHARDS * CHUNK) / 65536);

/**
 * mulAdd4(tab, in0, in1, in2, in3, out, len): for i in 0..len step 16 (len a multiple of 16):
 *   out[i..i+16) ^= XOR over q < 4 of swizzle(L_q, in_q & 15) ^ swizzle(H_q, in_q >> 4)
 * with the 32-byte tables (L_q, H_q) at tab + 32q. Four inputs per pass: the output is read and
 * written once for four inputs, and the eight tables stay in registers.
 */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const tab = 0, out = 5, len = 6, i = 7, mask = 16, v = 17, acc = 18;
  const inp = (q: number) => 1 + q;
  const L = (q: number) => 8 + q;
  const H = (q: number) => 12 + q;
  const tables: number[] = [];
  for (let q = 0; q < 4; q++) {
    tables.push(LOCAL_GET, tab, SIMD, V128_LOAD, 0, ...leb(q * 32), LOCAL_SET, L(q));
    tables.push(LOCAL_GET, tab, SIMD, V128_LOAD, 0, ...leb(q * 32 + 16), LOCAL_SET, H(q));
  }
  const accumulate: number[] = [];
  for (let q = 0; q < 4; q++) {
    accumulate.push(
      LOCAL_GET, inp(q), LOCAL_GET, i, I32_ADD, SIMD, V128_LOAD, 0, 0, LOCAL_SET, v,
      LOCAL_GET, acc,
      LOCAL_GET, L(q), LOCAL_GET, v, LOCAL_GET, mask, SIMD, V128_AND, SIMD, SWIZZLE, SIMD, V128_XOR,
      LOCAL_GET, H(q), LOCAL_GET, v, I32_CONST, 4, SIMD, I8X16_SHR_U, SIMD, SWIZZLE, SIMD, V128_XOR,
      LOCAL_SET, acc,
    );
  }
  const body = [
    // locals: i (i32); L0-3, H0-3, mask, v, acc (v128)
    2, 1, I32, 11, V128,
    ...tables,
    I32_CONST, 15, SIMD, SPLAT8, LOCAL_SET, mask,
    I32_CONST, 0, LOCAL_SET, i,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, i, LOCAL_GET, len, I32_GE_U, BR_IF, 1,
    LOCAL_GET, out, LOCAL_GET, i, I32_ADD, SIMD, V128_LOAD, 0, 0, LOCAL_SET, acc,
    ...accumulate,
    LOCAL_GET, out, LOCAL_GET, i, I32_ADD, LOCAL_GET, acc, SIMD, V128_STORE, 0, 0,
    LOCAL_GET, i, I32_CONST, 16, I32_ADD, LOCAL_SET, i,
    BR, 0,
    END, END,
    END,
  ];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 7, I32, I32, I32, I32, I32, I32, I32, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, ...leb(PAGES)]),
    ...section(7, [2, ...name('mulAdd4'), 0x00, 0, ...name('mem'), 0x02, 0]),
    ...section(10, [1, ...leb(body.length), ...body]),
  ];
  return new Uint8Array(bytes);
}

/** The module's bytes (exported for tests and for anyone wanting to inspect them). */
export const SIMD_MODULE_BYTES = moduleBytes();

/** Instantiates the kernel, or undefined when this runtime has no WebAssembly SIMD. */
export function createSimdKernel(): CodeKernel | undefined {
  if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(SIMD_MODULE_BYTES)) return undefined;
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(new WebAssembly.Module(SIMD_MODULE_BYTES), {});
  } catch {
    return undefined;
  }
  const mulAdd4 = instance.exports.mulAdd4 as (tab: number, i0: number, i1: number, i2: number, i3: number, out: number, len: number) => void;
  const memory = instance.exports.mem as WebAssembly.Memory;
  const mem = new Uint8Array(memory.buffer);
  const outBase = SCRATCH + MAX_SHARDS * CHUNK;
  const inAt = (k: number) => SCRATCH + k * CHUNK;

  return (rows, inputs, outputs, start, len) => {
    const n = inputs.length;
    if (n > MAX_SHARDS || outputs.length > MAX_SHARDS) throw new Error('too many shards for the SIMD kernel');
    // Inputs go in groups of four; a missing member has all-zero tables (adds nothing).
    const groups = Math.ceil(n / 4);
    for (let j = 0; j < outputs.length; j++) {
      for (let k = 0; k < groups * 4; k++) {
        const c = k < n ? rows[j][k] * 256 : 0;
        const tab = TABLES + (j * MAX_SHARDS + k) * 32;
        for (let x = 0; x < 16; x++) {
          mem[tab + x] = MUL[c + x];
          mem[tab + 16 + x] = MUL[c + (x << 4)];
        }
      }
    }
    const member = (k: number) => inAt(k < n ? k : 0);
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
        mem.fill(0, at, at + padded);
        for (let g = 0; g < groups; g++) {
          const k = g * 4;
          mulAdd4(TABLES + (j * MAX_SHARDS + k) * 32, member(k), member(k + 1), member(k + 2), member(k + 3), at, padded);
        }
        outputs[j].set(mem.subarray(at, at + m), s);
      }
    }
  };
}
