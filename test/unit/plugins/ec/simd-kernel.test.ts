// The WebAssembly SIMD kernel computes exactly what the scalar kernel does: random coefficients
// (0 and 1 included) and data, lengths that are not multiples of 16 or of its chunk, offsets
// inside the buffers; and a 10+4 encode/reconstruct through it matches the scalar codec.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { scalarKernel } from '../../../../plugins/ec/codec/kernel.js';
import { ReedSolomon } from '../../../../plugins/ec/codec/reed-solomon.js';
import { createSimdKernel } from '../../../../plugins/ec/codec/simd-kernel.js';

const simd = createSimdKernel();

test('this runtime has WebAssembly SIMD (Node 24)', () => {
  assert.ok(simd, 'SIMD kernel failed to instantiate');
});

const plainSimd = createSimdKernel({ relaxed: false });

test('SIMD kernel (relaxed swizzle where available, and plain swizzle) equals the scalar kernel on random data', () => {
  assert.ok(simd);
  assert.ok(plainSimd);
  const cases = [
    { inputs: 10, outputs: 4, size: 200_003, start: 7, len: 150_001 },
    { inputs: 3, outputs: 2, size: 33, start: 0, len: 33 },
    { inputs: 32, outputs: 32, size: 70_000, start: 16, len: 65_552 },
    { inputs: 1, outputs: 1, size: 15, start: 1, len: 14 },
    // Trailing groups of one and three inputs.
    { inputs: 5, outputs: 3, size: 40_000, start: 0, len: 40_000 },
    { inputs: 7, outputs: 2, size: 40_000, start: 3, len: 39_990 },
    // Same shape as the first case, new coefficients: the kernel must not reuse stale tables.
    { inputs: 10, outputs: 4, size: 50_000, start: 0, len: 50_000 },
  ];
  for (const c of cases) {
    const rows = Array.from({ length: c.outputs }, () => {
      const r = randomBytes(c.inputs);
      r[0] = 0;
      if (c.inputs > 1) r[1] = 1;
      return new Uint8Array(r);
    });
    const inputs = Array.from({ length: c.inputs }, () => new Uint8Array(randomBytes(c.size)));
    const a = Array.from({ length: c.outputs }, () => new Uint8Array(c.size).fill(0x5a));
    const b = Array.from({ length: c.outputs }, () => new Uint8Array(c.size).fill(0x5a));
    const p = Array.from({ length: c.outputs }, () => new Uint8Array(c.size).fill(0x5a));
    simd(rows, inputs, a, c.start, c.len);
    plainSimd(rows, inputs, p, c.start, c.len);
    scalarKernel(rows, inputs, b, c.start, c.len);
    for (let j = 0; j < c.outputs; j++) {
      assert.ok(Buffer.from(a[j]).equals(Buffer.from(b[j])), `case ${JSON.stringify(c)} output ${j}`);
      assert.ok(Buffer.from(p[j]).equals(Buffer.from(b[j])), `plain swizzle, case ${JSON.stringify(c)} output ${j}`);
    }
  }
});

test('10+4 encode and reconstruct through the SIMD kernel match the scalar codec', () => {
  assert.ok(simd);
  const viaSimd = new ReedSolomon(10, 4, simd);
  const viaScalar = new ReedSolomon(10, 4, scalarKernel);
  const data = Array.from({ length: 10 }, () => new Uint8Array(randomBytes(100_000)));
  const s1 = [...data.map((d) => d.slice()), ...Array.from({ length: 4 }, () => new Uint8Array(100_000))];
  const s2 = [...data.map((d) => d.slice()), ...Array.from({ length: 4 }, () => new Uint8Array(100_000))];
  viaSimd.encode(s1);
  viaScalar.encode(s2);
  for (let i = 10; i < 14; i++) assert.ok(Buffer.from(s1[i]).equals(Buffer.from(s2[i])), `parity ${i}`);
  const lost = [0, 4, 11, 13];
  const damaged = s1.map((s, i) => (lost.includes(i) ? new Uint8Array(s.length) : s.slice()));
  viaSimd.reconstruct(damaged, damaged.map((_, i) => !lost.includes(i)));
  for (let i = 0; i < 14; i++) assert.ok(Buffer.from(damaged[i]).equals(Buffer.from(s2[i])), `shard ${i}`);
});
