// The Reed-Solomon codec against the vectors klauspost/reedsolomon produces (matrix rows, parity
// of a small stripe, whole-file striping of a 23 MB .dat) and reconstruction from every pattern of
// losses up to P; the overlapped and worker encodes write the same bytes as the plain one.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32c } from '../../../../core/storage/crc32c.js';
import { encodeInWorker, rebuildInWorker } from '../../../../plugins/ec/codec/encode-pool.js';
import { encodeDatFile, encodeDatFileOverlapped, rebuildShardFiles, rebuildShardFilesOverlapped } from '../../../../plugins/ec/codec/encode-files.js';
import { gfMul } from '../../../../plugins/ec/codec/galois.js';
import { blockLayout, locateData, uniformBlockSize } from '../../../../plugins/ec/codec/layout.js';
import { ReedSolomon } from '../../../../plugins/ec/codec/reed-solomon.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const h = (s: string) => s.replace(/ /g, '');

test('GF(2^8) product matches the check value', () => {
  assert.equal(gfMul(0x53, 0xca), 0x8f);
});

test('parity rows of the 10+4 and 6+3 encoding matrices', () => {
  const rs = new ReedSolomon(10, 4);
  assert.deepEqual(rs.matrix.slice(10).map(hex), [
    h('81 96 af b8 d2 c4 fe e8 03 02'),
    h('96 81 b8 af c4 d2 e8 fe 02 03'),
    h('bf d6 62 0a 06 6f df b7 05 04'),
    h('d6 bf 0a 62 6f 06 b7 df 04 05'),
  ]);
  for (let i = 0; i < 10; i++) for (let j = 0; j < 10; j++) assert.equal(rs.matrix[i][j], i === j ? 1 : 0);
  const rs6 = new ReedSolomon(6, 3);
  assert.deepEqual(rs6.matrix.slice(6).map(hex), [h('07 06 05 04 03 02'), h('06 07 04 05 02 03'), h('a0 df df b7 fe e8')]);
});

function vectorA(D: number, P: number): Uint8Array[] {
  const shards = Array.from({ length: D + P }, () => new Uint8Array(16));
  for (let i = 0; i < D; i++) for (let k = 0; k < 16; k++) shards[i][k] = (17 * i + 3 * k + 1) & 0xff;
  new ReedSolomon(D, P).encode(shards);
  return shards;
}

test('test vector A: parity of a 16-byte stripe', () => {
  assert.deepEqual(vectorA(10, 4).slice(10).map(hex), [
    h('e5 ae f8 c0 af 2e aa 94 3f 28 2a b3 f4 dd e8 84'),
    h('42 bf 6b 2d 18 90 a6 2a 6a 90 3e a2 5b ac 70 09'),
    h('d2 c0 74 cb c5 31 c4 58 28 c1 e3 b7 41 57 8b e4'),
    h('a6 d1 34 5a c0 3e a2 57 ac ef ec a6 35 26 8c d5'),
  ]);
  assert.deepEqual(vectorA(6, 3).slice(6).map(hex), [
    h('77 6a 45 68 de 6b 6c 69 72 1f bd 00 3b 0e f4 51'),
    h('60 7b 5e 79 91 1a 17 18 05 4e 96 11 24 1f 1f 80'),
    h('72 3c 92 3f 34 93 ff ff 61 e4 ce 08 28 bf 0c fa'),
  ]);
});

test('reconstruct restores every pattern of up to 4 lost shards of 10+4', () => {
  const rs = new ReedSolomon(10, 4);
  const original = vectorA(10, 4);
  const total = 14;
  for (let mask = 0; mask < 1 << total; mask++) {
    let lost = 0;
    for (let m = mask; m; m &= m - 1) lost++;
    if (lost === 0 || lost > 4) continue;
    const shards = original.map((s, i) => (mask & (1 << i) ? new Uint8Array(16).fill(0xee) : s.slice()));
    const present = original.map((_, i) => !(mask & (1 << i)));
    rs.reconstruct(shards, present);
    for (let i = 0; i < total; i++) assert.equal(hex(shards[i]), hex(original[i]), `mask ${mask.toString(2)} shard ${i}`);
  }
  const shards = original.map((s) => s.slice());
  const present = shards.map((_, i) => i >= 5);
  assert.throws(() => rs.reconstruct(shards, present), /too few shards/);
});

test('test vector B: legacy two-tier striping of a 23 456 789-byte .dat', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ec-codec-'));
  try {
    const N = 23_456_789;
    const dat = Buffer.alloc(N);
    for (let i = 0; i < N; i++) dat[i] = i % 251;
    writeFileSync(join(dir, 'v.dat'), dat);
    assert.equal(crc32c(dat) >>> 0, 0x4744403b);
    const shardPaths = Array.from({ length: 14 }, (_, i) => join(dir, `v.ec${String(i).padStart(2, '0')}`));
    const encodeProgress: number[] = [];
    encodeDatFile({ datPath: join(dir, 'v.dat'), shardPaths, dataShards: 10, parityShards: 4, datSize: N, layout: blockLayout(0) }, undefined, (b) => encodeProgress.push(b));
    // One report per stripe row (three 10 MiB rows of 1 MiB blocks), rising to the whole .dat.
    assert.deepEqual(encodeProgress, [10_485_760, 20_971_520, N]);
    const want = [
      'e0a2382a', 'a690c6ef', 'bfab5c68', 'e1e8f3c0', '2978814d', 'f9ede14a', 'd8761d2f',
      '592f635e', '730dcc18', '99d2435b', 'd2228035', 'ec309b63', 'fa25fc5a', '5f6b5c79',
    ];
    const files = shardPaths.map((p) => readFileSync(p));
    files.forEach((f, i) => {
      assert.equal(f.length, 3_145_728);
      assert.equal((crc32c(f) >>> 0).toString(16).padStart(8, '0'), want[i], `shard ${i}`);
    });
    assert.equal(hex(files[10].subarray(0, 16)), h('06 da 45 0e 0f 9d 32 45 a6 dc 48 6f 13 4d 77 95'));

    // Rebuild three lost shards (two data, one parity) from the rest: byte-identical.
    const lost = [1, 7, 12];
    const inputs = shardPaths.map((p, i) => (lost.includes(i) ? undefined : p));
    const outputs = Object.fromEntries(lost.map((i) => [i, join(dir, `r${i}`)]));
    const rebuildProgress: number[] = [];
    rebuildShardFiles({ dataShards: 10, parityShards: 4, inputs, outputs }, undefined, (b) => rebuildProgress.push(b));
    assert.deepEqual(rebuildProgress, [1_048_576, 2_097_152, 3_145_728]);
    for (const i of lost) assert.ok(readFileSync(join(dir, `r${i}`)).equals(files[i]), `rebuilt shard ${i}`);
    // Asked for, the checksums of every shard read and written come from the same pass: the
    // .ecsum blocks (2 MiB here: a whole one and a partial one) of each shard's bytes.
    const sums = rebuildShardFiles({ dataShards: 10, parityShards: 4, inputs, outputs, checksumBlockSize: 2 * 1024 * 1024 });
    assert.equal(sums.length, 14);
    files.forEach((f, i) => {
      assert.equal(sums[i]?.coveredSize, f.length, `shard ${i}`);
      const want = [crc32c(f.subarray(0, 2 * 1024 * 1024)), crc32c(f.subarray(2 * 1024 * 1024))];
      assert.deepEqual([sums[i]!.blockCrc32c.readUInt32LE(0), sums[i]!.blockCrc32c.readUInt32LE(4)], want, `shard ${i}`);
    });
    assert.deepEqual(rebuildShardFiles({ dataShards: 10, parityShards: 4, inputs, outputs }), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('overlapped encode and the warm worker write the same shards and checksums as the plain encode', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ec-codec-'));
  try {
    // Uniform layout with several batches per block and a partial last row.
    const N = 23_456_789;
    const dat = Buffer.alloc(N);
    for (let i = 0; i < N; i++) dat[i] = (i * 7) % 253;
    writeFileSync(join(dir, 'v.dat'), dat);
    const paths = (tag: string) => Array.from({ length: 14 }, (_, i) => join(dir, `${tag}.ec${String(i).padStart(2, '0')}`));
    const job = (tag: string) => ({ datPath: join(dir, 'v.dat'), shardPaths: paths(tag), dataShards: 10, parityShards: 4, datSize: N, layout: blockLayout(uniformBlockSize(N, 10)) });
    const plain = encodeDatFile(job('a'));
    const progress: number[] = [];
    const overlapped = await encodeDatFileOverlapped(job('b'), undefined, (b) => progress.push(b));
    assert.deepEqual(progress, [N]);
    // Twice through the worker: the second job runs on the same warm worker.
    const viaWorker = [await encodeInWorker(job('c')), await encodeInWorker(job('d'))];
    for (const sums of [overlapped, ...viaWorker]) {
      assert.equal(sums.length, 14);
      sums.forEach((s, i) => {
        assert.equal(s.coveredSize, plain[i].coveredSize);
        assert.ok(Buffer.from(s.blockCrc32c).equals(plain[i].blockCrc32c), `checksums of shard ${i}`);
      });
    }
    for (let i = 0; i < 14; i++) {
      const want = readFileSync(paths('a')[i]);
      assert.equal(want.length, 3 * 1024 * 1024);
      for (const tag of ['b', 'c', 'd']) assert.ok(readFileSync(paths(tag)[i]).equals(want), `${tag} shard ${i}`);
    }
    // A job that fails (no .dat) is reported, and the worker still serves the next one.
    await assert.rejects(encodeInWorker({ ...job('e'), datPath: join(dir, 'missing.dat') }), /ENOENT/);
    const again = await encodeInWorker(job('f'));
    assert.ok(Buffer.from(again[13].blockCrc32c).equals(plain[13].blockCrc32c));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('overlapped rebuild and the worker write the same shards and checksums as the plain rebuild', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ec-codec-'));
  try {
    const N = 23_456_789;
    const dat = Buffer.alloc(N);
    for (let i = 0; i < N; i++) dat[i] = (i * 13) % 251;
    writeFileSync(join(dir, 'v.dat'), dat);
    const shardPaths = Array.from({ length: 14 }, (_, i) => join(dir, `v.ec${String(i).padStart(2, '0')}`));
    encodeDatFile({ datPath: join(dir, 'v.dat'), shardPaths, dataShards: 10, parityShards: 4, datSize: N, layout: blockLayout(uniformBlockSize(N, 10)) });
    // The code is bytewise: shards cut at one length still agree, and the last step is partial.
    const size = 3 * 1024 * 1024 - 1000;
    for (const p of shardPaths) truncateSync(p, size);
    const files = shardPaths.map((p) => readFileSync(p));
    const lost = [0, 4, 11, 13];
    const inputs = shardPaths.map((p, i) => (lost.includes(i) ? undefined : p));
    const job = (tag: string) => ({
      dataShards: 10,
      parityShards: 4,
      inputs,
      outputs: Object.fromEntries(lost.map((i) => [i, join(dir, `${tag}${i}`)])),
      checksumBlockSize: 2 * 1024 * 1024,
    });
    const plain = rebuildShardFiles(job('p'));
    const progress: number[] = [];
    const overlapped = await rebuildShardFilesOverlapped(job('o'), undefined, (b) => progress.push(b));
    assert.deepEqual(progress, [1_048_576, 2_097_152, size]);
    const viaWorker = await rebuildInWorker(job('w'));
    for (const sums of [overlapped, viaWorker]) {
      assert.equal(sums.length, 14);
      sums.forEach((s, i) => {
        assert.equal(s?.coveredSize, size, `shard ${i}`);
        assert.ok(Buffer.from(s!.blockCrc32c).equals(plain[i]!.blockCrc32c), `checksums of shard ${i}`);
      });
    }
    for (const i of lost) for (const tag of ['p', 'o', 'w']) assert.ok(readFileSync(join(dir, `${tag}${i}`)).equals(files[i]), `${tag} shard ${i}`);
    // An input shorter than the others is refused, whichever way the rebuild runs.
    truncateSync(shardPaths[7], size - 1);
    await assert.rejects(rebuildShardFilesOverlapped(job('x')), /ec shard size expected \d+ actual \d+/);
    await assert.rejects(rebuildInWorker(job('y')), /ec shard size expected \d+ actual \d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('uniform layout: one block per shard, sized from the .dat', () => {
  assert.equal(uniformBlockSize(0, 10), 1024 * 1024);
  assert.equal(uniformBlockSize(23_456_789, 10), 3 * 1024 * 1024);
  assert.equal(uniformBlockSize(10 * 1024 * 1024 + 1, 10), 2 * 1024 * 1024);
  const layout = blockLayout(2 * 1024 * 1024);
  // A needle crossing the boundary of shard 0 and shard 1.
  assert.deepEqual(locateData(layout, 2 * 1024 * 1024, 2 * 1024 * 1024 - 8, 24), [
    { shardId: 0, offset: 2 * 1024 * 1024 - 8, size: 8 },
    { shardId: 1, offset: 0, size: 16 },
  ]);
});

test('legacy locate: the worked examples', () => {
  const legacy = blockLayout(0);
  const shardDat = Math.floor(23_456_789 / 10);
  assert.deepEqual(locateData(legacy, shardDat, 12_345_680, 5032), [{ shardId: 1, offset: 1_859_920, size: 5032 }]);
  assert.deepEqual(locateData(legacy, shardDat, 1_048_568, 168), [
    { shardId: 0, offset: 1_048_568, size: 8 },
    { shardId: 1, offset: 0, size: 160 },
  ]);
  const GiB = 1024 ** 3;
  const big = Math.floor((25 * GiB) / 10);
  assert.deepEqual(locateData(legacy, big, 3 * GiB + 8, 1), [{ shardId: 3, offset: 8, size: 1 }]);
  assert.deepEqual(locateData(legacy, big, 20 * GiB + 16, 1), [{ shardId: 0, offset: 2 * GiB + 16, size: 1 }]);
});
