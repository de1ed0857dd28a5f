// Reed-Solomon 10+4 throughput of the codec kernels: MB/s of data encoded (parity computed from
// 10 data shards) and of shards reconstructed (4 lost), on one core, 1 MiB per shard per call
// like the encoder's buffers.
import { randomBytes } from 'node:crypto';
import { scalarKernel, type CodeKernel } from '../plugins/ec/codec/kernel.js';
import { ReedSolomon } from '../plugins/ec/codec/reed-solomon.js';
import { createSimdKernel } from '../plugins/ec/codec/simd-kernel.js';

const SHARD = 1024 * 1024;
const TOTAL_DATA = 256 * 1024 * 1024;

function bench(name: string, kernel: CodeKernel, dataMiB = TOTAL_DATA): void {
  const rs = new ReedSolomon(10, 4, kernel);
  const shards = Array.from({ length: 14 }, () => new Uint8Array(randomBytes(SHARD)));
  const rounds = Math.max(1, Math.floor(dataMiB / (10 * SHARD)));
  // Warm-up: lets V8 tier the WebAssembly up from its baseline compiler.
  for (let w = 0; w < 20; w++) rs.encode(shards);
  let t = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) rs.encode(shards);
  let secs = Number(process.hrtime.bigint() - t) / 1e9;
  const encodeMBs = (rounds * 10 * SHARD) / 1e6 / secs;
  const present = shards.map((_, i) => ![1, 5, 10, 12].includes(i));
  t = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) rs.reconstruct(shards, present);
  secs = Number(process.hrtime.bigint() - t) / 1e9;
  const rebuildMBs = (rounds * 10 * SHARD) / 1e6 / secs;
  console.log(`${name.padEnd(7)} encode ${encodeMBs.toFixed(0).padStart(6)} MB/s   reconstruct(4 lost) ${rebuildMBs.toFixed(0).padStart(6)} MB/s   (${rounds} x 10 MiB)`);
}

const simd = createSimdKernel();
if (simd) bench('simd', simd);
else console.log('simd    unavailable in this runtime');
bench('scalar', scalarKernel, TOTAL_DATA / 8);
