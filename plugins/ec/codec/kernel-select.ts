// Picks the codec kernel once per thread: the WebAssembly SIMD one when the runtime has SIMD,
// else the scalar one. `EC_KERNEL=scalar` forces the scalar kernel (benchmarks, diagnosis).
import { scalarKernel, type CodeKernel } from './kernel.js';
import { createSimdKernel } from './simd-kernel.js';

let chosen: { name: 'simd' | 'scalar'; kernel: CodeKernel } | undefined;

export function defaultKernel(): { name: 'simd' | 'scalar'; kernel: CodeKernel } {
  if (!chosen) {
    const simd = process.env.EC_KERNEL === 'scalar' ? undefined : createSimdKernel();
    chosen = simd ? { name: 'simd', kernel: simd } : { name: 'scalar', kernel: scalarKernel };
  }
  return chosen;
}
