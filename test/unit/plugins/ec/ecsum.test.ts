// The .ecsum bitrot sidecar (core/storage/ec-sum.ts): its bytes, its self-checks, the per-block
// checksums and the verification of shard files against them, on real files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { crc32c } from '../../../../core/storage/crc32c.js';
import {
  buildProtection,
  computeShardFileChecksums,
  decodeProtection,
  decodeSidecar,
  encodeProtection,
  encodeSidecar,
  ecsumPath,
  loadSidecar,
  mismatchedBlocks,
  mismatchedChecksums,
  resolveProtection,
  saveSidecar,
  ShardChecksumBuilder,
  validateManifest,
  verifyDataShards,
  type EcBitrotProtection,
} from '../../../../core/storage/ec-sum.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'ecsum-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sample(): EcBitrotProtection {
  return {
    algorithm: 1,
    blockSize: 16 * MiB,
    generation: 0,
    ecShardConfig: { dataShards: 10, parityShards: 4, encodeTsNs: 0n, blockSize: 2 * MiB },
    shards: Array.from({ length: 14 }, (_, i) => ({ shardId: i, coveredSize: 2 * MiB, blockCrc32c: Buffer.from([i, 1, 2, 3]) })),
    encodeUuid: Buffer.alloc(16, 0xab),
  };
}

describe('.ecsum encoding', () => {
  test('the payload is proto3 in field order, zero values left out (as Go marshals it)', () => {
    const p = sample();
    p.shards = [p.shards[0], p.shards[1]];
    const b = encodeProtection(p);
    // algorithm=1, block_size=16 MiB (varint 80 80 80 08), no generation.
    assert.deepEqual([...b.subarray(0, 7)], [0x08, 0x01, 0x10, 0x80, 0x80, 0x80, 0x08]);
    // ec_shard_config: data 10, parity 4, no encode_ts_ns, block_size 2 MiB.
    assert.deepEqual([...b.subarray(7, 18)], [0x22, 9, 0x08, 10, 0x10, 4, 0x20, 0x80, 0x80, 0x80, 0x01]);
    // shard 0: its id (0) is left out, covered_size and the CRC bytes follow.
    assert.deepEqual([...b.subarray(18, 31)], [0x2a, 11, 0x10, 0x80, 0x80, 0x80, 0x01, 0x1a, 4, 0, 1, 2, 3]);
    // shard 1 names its id.
    assert.deepEqual([...b.subarray(31, 35)], [0x2a, 13, 0x08, 1]);
    assert.deepEqual([...b.subarray(-18, -16)], [0x32, 16]);
    assert.deepEqual(decodeProtection(b), p);
  });

  test('the file: a 14-byte header (magic, version, length, CRC-32C of the payload) then the payload', () => {
    const p = sample();
    const file = encodeSidecar(p);
    const payload = encodeProtection(p);
    assert.equal(file.readUInt32BE(0), 0x45435355);
    assert.equal(file.readUInt16BE(4), 1);
    assert.equal(file.readUInt32BE(6), payload.length);
    assert.equal(file.readUInt32BE(10), crc32c(payload));
    assert.ok(file.subarray(14).equals(payload));
    assert.deepEqual(decodeSidecar(file, 'x'), p);
  });

  test('a damaged sidecar is refused with Go\'s reason, before its content is trusted', () => {
    const good = encodeSidecar(sample());
    assert.throws(() => decodeSidecar(good.subarray(0, 10), 'p'), /^Error: bitrot sidecar p too short \(10 bytes\)$/);
    const magic = Buffer.from(good);
    magic[0] = 0;
    assert.throws(() => decodeSidecar(magic, 'p'), /bitrot sidecar p bad magic 0x435355/);
    const ver = Buffer.from(good);
    ver[5] = 9;
    assert.throws(() => decodeSidecar(ver, 'p'), /unsupported format version 9/);
    assert.throws(() => decodeSidecar(good.subarray(0, good.length - 1), 'p'), /length mismatch: header \d+, actual \d+/);
    const rot = Buffer.from(good);
    rot[rot.length - 1] ^= 1;
    assert.throws(() => decodeSidecar(rot, 'p'), /self-integrity CRC mismatch/);
    // A payload that is not protobuf, with a correct self-CRC.
    const junk = Buffer.from([0xff, 0xff]);
    const head = Buffer.alloc(14);
    head.writeUInt32BE(0x45435355, 0);
    head.writeUInt16BE(1, 4);
    head.writeUInt32BE(2, 6);
    head.writeUInt32BE(crc32c(junk), 10);
    assert.throws(() => decodeSidecar(Buffer.concat([head, junk]), 'p'), /unmarshal bitrot sidecar p/);
  });

  test('sidecar paths: generation 0 is <base>.ecsum, N is <base>.ecsum.vN', () => {
    assert.equal(ecsumPath('/d/c_7'), '/d/c_7.ecsum');
    assert.equal(ecsumPath('/d/c_7', 3), '/d/c_7.ecsum.v3');
  });
});

describe('.ecsum checksums', () => {
  test('blocks are checksummed whatever the write sizes', () => {
    const data = randomBytes(3 * MiB + 123);
    const a = new ShardChecksumBuilder(MiB);
    a.write(data);
    const b = new ShardChecksumBuilder(MiB);
    for (let i = 0; i < data.length; i += 333_333) b.write(data.subarray(i, i + 333_333));
    const fa = a.finish();
    const fb = b.finish();
    assert.equal(fa.coveredSize, data.length);
    assert.ok(fa.blockCrc32c.equals(fb.blockCrc32c));
    assert.equal(fa.blockCrc32c.length, 16);
    for (let i = 0; i < 4; i++) assert.equal(fa.blockCrc32c.readUInt32LE(i * 4), crc32c(data.subarray(i * MiB, (i + 1) * MiB)));
  });

  test('validateManifest refuses what Go refuses', () => {
    const ok = buildProtection(
      Array.from({ length: 14 }, () => ({ coveredSize: MiB, blockCrc32c: Buffer.alloc(4) })),
      { dataShards: 10, parityShards: 4, blockSize: MiB },
    );
    validateManifest(ok, 10, 4);
    assert.equal(ok.encodeUuid.length, 16);
    assert.throws(() => validateManifest({ ...ok, algorithm: 0 }, 10, 4), /unsupported checksum algorithm 0/);
    assert.throws(() => validateManifest({ ...ok, blockSize: 3 * MiB }, 10, 4), /invalid block_size 3145728/);
    assert.throws(() => validateManifest({ ...ok, shards: ok.shards.slice(1) }, 10, 4), /incomplete manifest: 13 shard entries, expected 14/);
    const dup = ok.shards.map((s) => ({ ...s, shardId: s.shardId === 1 ? 0 : s.shardId }));
    assert.throws(() => validateManifest({ ...ok, shards: dup }, 10, 4), /duplicate shard id 0/);
    const short = ok.shards.map((s) => ({ ...s, blockCrc32c: Buffer.alloc(0) }));
    assert.throws(() => validateManifest({ ...ok, shards: short }, 10, 4), /shard 0 crc count mismatch: 0 bytes, expected 4/);
  });

  test('shard files against their checksums: a flipped byte, a truncation, a clean file', async () => {
    const path = join(dir, '1.ec03');
    writeFileSync(path, randomBytes(2 * MiB + 10));
    const sums = await computeShardFileChecksums(path, MiB);
    const entry = { shardId: 3, ...sums };
    assert.deepEqual(await mismatchedBlocks(path, entry, MiB), []);
    const bytes = readFileSync(path);
    bytes[MiB + 5] ^= 0xff;
    writeFileSync(path, bytes);
    assert.deepEqual(await mismatchedBlocks(path, entry, MiB), [1]);
    truncateSync(path, MiB);
    assert.deepEqual(await mismatchedBlocks(path, entry, MiB), [0, 1, 2]);
  });

  test('checksums taken while reading give the same blocks as reading the file again', async () => {
    const path = join(dir, '1.ec04');
    const bytes = randomBytes(3 * MiB + 10);
    writeFileSync(path, bytes);
    const entry = { shardId: 4, ...(await computeShardFileChecksums(path, MiB)) };
    const taken = (b: Buffer) => {
      const builder = new ShardChecksumBuilder(MiB);
      builder.write(b);
      return builder.finish();
    };
    assert.deepEqual(mismatchedChecksums(entry, taken(bytes)), []);
    bytes[2 * MiB + 1] ^= 0x01;
    writeFileSync(path, bytes);
    assert.deepEqual(mismatchedChecksums(entry, taken(bytes)), [2]);
    assert.deepEqual(mismatchedChecksums(entry, taken(bytes)), await mismatchedBlocks(path, entry, MiB));
    // Another length is corruption of every block, as for a file.
    assert.deepEqual(mismatchedChecksums(entry, taken(bytes.subarray(0, MiB))), [0, 1, 2, 3]);
    assert.deepEqual(mismatchedChecksums(entry, taken(Buffer.concat([bytes, Buffer.alloc(1)]))), [0, 1, 2, 3]);
  });
});

describe('.ecsum on a volume', () => {
  const layout = { dataShards: 10, parityShards: 4, blockSize: MiB };
  const base = join(dir, 'v9');

  async function writeVolume(): Promise<string[]> {
    const paths: string[] = [];
    const sums = [];
    for (let i = 0; i < 14; i++) {
      const p = `${base}.ec${String(i).padStart(2, '0')}`;
      writeFileSync(p, randomBytes(MiB));
      paths.push(p);
      sums.push(await computeShardFileChecksums(p));
    }
    await saveSidecar(ecsumPath(base), buildProtection(sums, layout));
    return paths;
  }

  test('absent is off, usable is on, damaged is invalid, another layout is refused', async () => {
    assert.equal((await resolveProtection(9, layout, base, base)).status, 'off');
    const paths = await writeVolume();
    const on = await resolveProtection(9, layout, base, base);
    assert.equal(on.status, 'on');
    assert.deepEqual(await loadSidecar(ecsumPath(base)), on.prot);
    await verifyDataShards(on, paths.slice(0, 10));

    const bytes = readFileSync(paths[3]);
    bytes[7] ^= 1;
    writeFileSync(paths[3], bytes);
    await assert.rejects(verifyDataShards(on, paths.slice(0, 10)), /^Error: data shard 3 .*v9\.ec03 fails its bitrot checksum in 1 blocks$/);

    await assert.rejects(
      resolveProtection(9, { ...layout, parityShards: 2 }, base, base),
      /ec volume 9 generation 0: .*records layout 10\+4 block 1048576 but the volume is mounted as 10\+2 block 1048576; refusing to serve one of the two layouts/,
    );
    const rot = readFileSync(ecsumPath(base));
    rot[20] ^= 1;
    writeFileSync(ecsumPath(base), rot);
    const bad = await resolveProtection(9, layout, base, base);
    assert.equal(bad.status, 'invalid');
    await assert.rejects(verifyDataShards(bad, paths.slice(0, 10)), /bitrot sidecar is malformed or unverifiable/);
  });

  test('found beside the index or on another disk', async () => {
    const other = mkdtempSync(join(dir, 'disk2-'));
    await saveSidecar(ecsumPath(join(other, 'v10')), sample());
    const r = await resolveProtection(10, { dataShards: 10, parityShards: 4, blockSize: 2 * MiB }, join(dir, 'v10'), join(dir, 'v10'), [other]);
    assert.equal(r.status, 'on');
    assert.equal(r.path, ecsumPath(join(other, 'v10')));
  });
});
