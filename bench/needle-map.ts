// Needle map benchmark: writes a 10M-row .idx in a temp dir, loads it with NeedleMap.load and
// prints bytes per entry and load time.
//   node --expose-gc dist/bench/needle-map.js [rows=10000000] [width=4|5] [sequential|scattered|shuffled]
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeIdxEntryHL } from '../core/storage/idx.js';
import { NeedleMap } from '../core/storage/needle-map.js';
import { indexEntrySize, type OffsetWidth } from '../core/storage/types.js';

const rows = Number(process.argv[2] ?? 10_000_000);
const width = (Number(process.argv[3] ?? 4) === 5 ? 5 : 4) as OffsetWidth;
const mode = process.argv[4] === 'scattered' || process.argv[4] === 'shuffled' ? process.argv[4] : 'sequential';
const gc = (globalThis as { gc?: () => void }).gc;

function mb(n: number): string {
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nm-bench-'));
  const path = join(dir, '1.idx');
  try {
    const es = indexEntrySize(width);
    const fh = await open(path, 'w');
    const chunkRows = 1 << 16;
    const buf = Buffer.allocUnsafe(chunkRows * es);
    let offset = 8;
    let seed = 0x2545f491;
    const t0 = performance.now();
    for (let start = 0; start < rows; start += chunkRows) {
      const n = Math.min(chunkRows, rows - start);
      for (let i = 0; i < n; i++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        const row = start + i;
        const size = 100 + (seed % 4000);
        let hi = 0;
        let lo = row + 1;
        if (mode !== 'sequential') {
          // snowflake-like: ms timestamp << 22 | sequence, one id per ms; 'shuffled' writes them
          // out of time order (row * 7919 mod rows is a permutation when rows is not a multiple
          // of the prime 7919)
          const ts = 1_700_000_000_000 + (mode === 'shuffled' ? (row * 7919) % rows : row);
          const id = (BigInt(ts) << 22n) | BigInt(seed & 0xfff);
          hi = Number(id >> 32n);
          lo = Number(id & 0xffffffffn);
        }
        writeIdxEntryHL(buf, i * es, hi, lo, offset, size, width);
        offset += 8 * Math.ceil((size + 40) / 8);
      }
      await fh.write(buf, 0, n * es, start * es);
    }
    await fh.close();
    const tGen = performance.now() - t0;

    gc?.();
    const before = process.memoryUsage();
    const t1 = performance.now();
    const cpu0 = process.cpuUsage();
    const idx = await open(path, 'r');
    const { map, rows: loaded } = await NeedleMap.load(idx, width, 3);
    await idx.close();
    const loadMs = performance.now() - t1;
    const cpu = process.cpuUsage(cpu0);
    // Freed typed arrays leave arrayBuffers only once their backing stores are released, which
    // can lag one collection: collect a few times, yielding in between.
    for (let i = 0; i < 3; i++) {
      gc?.();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const after = process.memoryUsage();

    const delta = after.arrayBuffers - before.arrayBuffers + (after.heapUsed - before.heapUsed);
    console.log(`rows: ${loaded} (${mode} ids, ${width}-byte offsets, .idx ${mb(loaded * es)} generated in ${(tGen / 1000).toFixed(2)} s)`);
    console.log(
      `load time: ${(loadMs / 1000).toFixed(2)} s (${((loaded / loadMs) * 1000 / 1e6).toFixed(2)} M rows/s), ` +
        `CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (user + system; steadier than wall time on a busy machine)`,
    );
    console.log(`map accounting: ${mb(map.memoryBytes())} = ${(map.memoryBytes() / loaded).toFixed(2)} bytes/entry`);
    console.log(
      `process delta (arrayBuffers + heapUsed): ${mb(delta)} = ${(delta / loaded).toFixed(2)} bytes/entry` +
        (gc ? '' : ' (run with --expose-gc for a stable figure)'),
    );
    console.log(`stats: ${JSON.stringify(map.stats())}; file_count=${map.fileCount} max_file_key=${map.maxFileKey()}`);
    // keep the map alive until after the measurement
    if (map.size !== loaded) console.log(`note: ${loaded - map.size} rows were overwrites/deletes`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
