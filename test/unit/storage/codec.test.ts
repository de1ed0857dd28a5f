import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Crc32c, crc32c, crc32cImplementation, crc32cJs, crcMatches, legacyMaskedCrc } from '../../../core/storage/crc32c.js';
import {
  ReplicaPlacement,
  Ttl,
  actualSize,
  indexEntrySize,
  maxPossibleVolumeSize,
  paddingLength,
  rawSize,
  readOffset,
  writeOffset,
} from '../../../core/storage/types.js';
import { SuperBlock } from '../../../core/storage/super-block.js';
import { InvalidReplicaPlacementError, InvalidTtlError, UnsupportedVersionError } from '../../../core/storage/storage-errors.js';

const ascii = (s: string) => Buffer.from(s, 'latin1');

test('crc32c: native implementation is active and matches the known vectors', () => {
  assert.equal(crc32cImplementation, 'native');
  for (const f of [crc32c, crc32cJs]) {
    assert.equal(f(ascii('')), 0x00000000);
    assert.equal(f(ascii('a')), 0xc1d04330);
    assert.equal(f(ascii('123456789')), 0xe3069283);
    assert.equal(f(ascii('hello world')), 0xc99465aa);
  }
});

test('crc32c: incremental update equals one-shot, native and JS agree on random data', () => {
  const data = Buffer.alloc(100_003);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const whole = crc32c(data);
  assert.equal(crc32cJs(data), whole);
  const acc = new Crc32c();
  for (let p = 0; p < data.length; p += 4097) acc.update(data.subarray(p, p + 4097));
  assert.equal(acc.digest(), whole);
  assert.equal(crc32c(data.subarray(50)), crc32c(data.subarray(50), crc32c(data.subarray(0, 0))));
  assert.equal(crc32cJs(data.subarray(10), crc32cJs(data.subarray(0, 10))), whole);
});

test('crc32c: legacy masked transform', () => {
  assert.equal(legacyMaskedCrc(0xc99465aa), 0x6dd87e00);
  assert.equal(legacyMaskedCrc(0), 0xa282ead8);
  assert.ok(crcMatches(0xc99465aa, 0xc99465aa));
  assert.ok(crcMatches(0x6dd87e00, 0xc99465aa));
  assert.ok(!crcMatches(0x6dd87e01, 0xc99465aa));
});

test('offsets: 4-byte and 5-byte layouts (high byte last)', () => {
  const b = Buffer.alloc(5);
  writeOffset(b, 0, 0x12_3456_7890, 5);
  assert.deepEqual([...b], [0x46, 0x8a, 0xcf, 0x12, 0x02]);
  assert.equal(readOffset(b, 0, 5), 0x12_3456_7890);
  const c = Buffer.alloc(4);
  writeOffset(c, 0, 8 * 0x01020304, 4);
  assert.deepEqual([...c], [1, 2, 3, 4]);
  assert.equal(readOffset(c, 0, 4), 8 * 0x01020304);
  // 4-byte wraps at 32 GiB like Go's ToOffset
  writeOffset(c, 0, maxPossibleVolumeSize(4) + 80, 4);
  assert.equal(readOffset(c, 0, 4), 80);
  assert.equal(indexEntrySize(4), 16);
  assert.equal(indexEntrySize(5), 17);
  assert.equal(maxPossibleVolumeSize(4), 34_359_738_368);
  assert.equal(maxPossibleVolumeSize(5), 34_359_738_368 * 256);
});

test('record geometry: padding is 1..8, never 0', () => {
  assert.equal(actualSize(0, 3), 32);
  assert.equal(actualSize(0, 2), 24);
  assert.equal(actualSize(42, 3), 72);
  assert.equal(actualSize(42, 2), 64);
  assert.equal(actualSize(11, 1), 32);
  for (let s = 0; s < 64; s++) {
    for (const v of [1, 2, 3] as const) {
      const p = paddingLength(s, v);
      assert.ok(p >= 1 && p <= 8);
      assert.equal(actualSize(s, v) % 8, 0);
    }
  }
  // unpadded 16+4+4 = 24 → 8 bytes of padding in v2
  assert.equal(paddingLength(4, 2), 8);
  assert.equal(rawSize(-1), 0);
  assert.equal(rawSize(-42), 42);
  assert.equal(rawSize(42), 42);
});

test('ttl: parse, normalise, format, wire form', () => {
  const cases: [string, number, number, string][] = [
    ['', 0, 0, ''],
    ['60m', 1, 2, '1h'],
    ['24h', 1, 3, '1d'],
    ['7d', 1, 4, '1w'],
    ['30d', 1, 5, '1M'],
    ['365d', 1, 6, '1y'],
    ['90m', 90, 1, '90m'],
    ['120', 2, 2, '2h'],
    ['3d', 3, 3, '3d'],
    ['5m', 5, 1, '5m'],
    ['3x', 0, 0, ''],
    ['0m', 0, 0, ''],
  ];
  for (const [s, count, unit, str] of cases) {
    const t = Ttl.parse(s);
    assert.equal(t.count, count, s);
    assert.equal(t.unit, unit, s);
    assert.equal(t.toString(), str, s);
  }
  assert.equal(Ttl.parse('3d').toUint32(), 0x0303);
  assert.equal(Ttl.parse('').toUint32(), 0);
  assert.deepEqual(Ttl.fromUint32(0x5a01), new Ttl(90, 1));
  assert.equal(Ttl.parse('90m').minutes(), 90);
  assert.equal(Ttl.parse('1d').minutes(), 1440);
  assert.throws(() => Ttl.parse('xm'), (e: unknown) => e instanceof InvalidTtlError && e.message === 'strconv.Atoi: parsing "x": invalid syntax');
  assert.throws(() => Ttl.parse('m'), /strconv.Atoi: parsing "": invalid syntax/);
  assert.equal(Ttl.parseLenient('bad!').toString(), '');
});

test('replica placement: string <-> byte and Go parse errors', () => {
  const cases: [string, number, string][] = [
    ['000', 0x00, '000'],
    ['001', 0x01, '001'],
    ['010', 0x0a, '010'],
    ['100', 0x64, '100'],
    ['200', 0xc8, '200'],
    ['011', 0x0b, '011'],
    ['', 0, '000'],
    ['1', 1, '001'],
    ['12', 12, '012'],
  ];
  for (const [s, b, str] of cases) {
    const rp = ReplicaPlacement.parse(s);
    assert.equal(rp.toByte(), b, s);
    assert.equal(rp.toString(), str, s);
    assert.equal(ReplicaPlacement.fromByte(b).toString(), str);
  }
  for (let b = 0; b < 256; b++) {
    assert.equal(ReplicaPlacement.parse(String(b).padStart(3, '0')).toByte(), b);
  }
  assert.equal(ReplicaPlacement.parse('012').copyCount(), 4);
  assert.throws(() => ReplicaPlacement.parse('300'), (e: unknown) => e instanceof InvalidReplicaPlacementError && e.message === 'unexpected replication type: 300');
  assert.throws(() => ReplicaPlacement.parse('0-1'), { message: 'unknown replication type: 0-1' });
  assert.throws(() => ReplicaPlacement.parse('a00'), { message: 'unexpected replication type: a00' });
});

test('super block: layout, extra bytes round trip, version errors', () => {
  const sb = new SuperBlock(3, ReplicaPlacement.parse('001'), Ttl.parse('15d'), 7);
  const b = sb.toBytes();
  assert.deepEqual([...b], [3, 1, 15, 3, 0, 7, 0, 0]);
  const back = SuperBlock.parse(b);
  assert.equal(back.version, 3);
  assert.equal(back.replicaPlacement.toString(), '001');
  assert.equal(back.ttl.toString(), '15d');
  assert.equal(back.compactionRevision, 7);
  assert.equal(back.blockSize(), 8);
  const extra = Uint8Array.from([0x0a, 0x04, 0x08, 0x0a, 0x10, 0x04]);
  const withExtra = new SuperBlock(2, ReplicaPlacement.parse('010'), Ttl.EMPTY, 65535, extra);
  const wb = withExtra.toBytes();
  assert.equal(wb.length, 14);
  assert.deepEqual([...wb.subarray(0, 8)], [2, 10, 0, 0, 0xff, 0xff, 0, 6]);
  const wback = SuperBlock.parse(wb);
  assert.deepEqual([...wback.extra], [...extra]);
  assert.equal(wback.blockSize(), 14);
  assert.deepEqual([...wback.toBytes()], [...wb]);
  assert.throws(() => SuperBlock.parse(Buffer.from([4, 0, 0, 0, 0, 0, 0, 0])), UnsupportedVersionError);
  assert.throws(() => SuperBlock.parse(Buffer.from([3, 0, 0, 0, 0, 0, 0, 4, 1])), /super block extra/);
});
