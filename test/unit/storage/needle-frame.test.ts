// encodeNeedleFrame: prefix + data + suffix is byte-identical to encodeNeedle for the same needle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  FLAG_HAS_LAST_MODIFIED_DATE,
  FLAG_HAS_MIME,
  FLAG_HAS_NAME,
  FLAG_HAS_PAIRS,
  FLAG_HAS_TTL,
  FLAG_IS_CHUNK_MANIFEST,
  FLAG_IS_COMPRESSED,
  decodeNeedle,
  encodeNeedle,
  encodeNeedleFrame,
  needleSizeFor,
  newNeedle,
  type Needle,
} from '../../../core/storage/needle.js';
import { Ttl, actualSize, paddingLength, type Version } from '../../../core/storage/types.js';

const ALL_FLAGS = FLAG_HAS_NAME | FLAG_HAS_MIME | FLAG_HAS_LAST_MODIFIED_DATE | FLAG_HAS_TTL | FLAG_HAS_PAIRS | FLAG_IS_COMPRESSED | FLAG_IS_CHUNK_MANIFEST;

function needle(dataLen: number, opts: { flags?: number; nameLen?: number; lastModified?: number; id?: bigint } = {}): Needle {
  return newNeedle({
    id: opts.id ?? 0x0123456789abcdefn,
    cookie: 0xdeadbeef,
    data: randomBytes(dataLen),
    flags: opts.flags ?? ALL_FLAGS,
    name: 'n'.repeat(opts.nameLen ?? 9),
    mime: 'application/x-test',
    pairs: '{"Owner":"me","Tag":"x"}',
    lastModified: opts.lastModified ?? 0x12_3456_789a,
    ttl: Ttl.parse('3d'),
    appendAtNs: 0x17979cfe3d85cd15n,
  });
}

function framed(n: Needle, version: Version): Buffer {
  const f = encodeNeedleFrame(n, n.data.length, version);
  const out = Buffer.concat([f.prefix, n.data, f.suffix]);
  assert.equal(out.length, f.length);
  assert.equal(f.length, actualSize(f.size, version));
  return out;
}

test('frame: identical to encodeNeedle for v1/v2/v3, all optional fields, every padding length', () => {
  for (const version of [1, 2, 3] as Version[]) {
    const pads = new Set<number>();
    for (let len = 1; len <= 24; len++) {
      for (const nameLen of [0, 5, 300]) {
        const n = needle(len, { nameLen });
        const want = encodeNeedle(n, version);
        const got = framed(n, version);
        assert.deepEqual(got, want, `v${version} data ${len} name ${nameLen}`);
        assert.equal(encodeNeedleFrame(n, len, version).size, n.size);
        assert.equal(needleSizeFor(n, len, version), n.size);
        pads.add(paddingLength(n.size, version));
        const d = decodeNeedle(got, version, { expectedSize: n.size });
        assert.deepEqual(Buffer.from(d.data), Buffer.from(n.data));
      }
    }
    assert.deepEqual([...pads].sort(), [1, 2, 3, 4, 5, 6, 7, 8], `v${version}: every padding length covered`);
  }
});

test('frame: v2 padding taken from LastModified bytes, or from the id without LastModified', () => {
  for (const flags of [ALL_FLAGS, ALL_FLAGS & ~FLAG_HAS_LAST_MODIFIED_DATE, FLAG_HAS_NAME, 0]) {
    for (let len = 1; len <= 16; len++) {
      const n = needle(len, { flags, lastModified: 0xab_cdef_0123 });
      assert.deepEqual(framed(n, 2), encodeNeedle(n, 2), `flags ${flags} len ${len}`);
      assert.deepEqual(framed(n, 3), encodeNeedle(n, 3), `flags ${flags} len ${len}`);
    }
  }
});

test('frame: empty data (no DataSize field, size 0) and a large data size', () => {
  for (const version of [1, 2, 3] as Version[]) {
    const n = needle(0);
    assert.deepEqual(framed(n, version), encodeNeedle(n, version));
  }
  // a payload never materialised: the frame only depends on its length and checksum
  const n = needle(0);
  n.checksum = 0x01020304;
  const big = 1 << 30;
  const f = encodeNeedleFrame(n, big, 3);
  assert.equal(f.prefix.length, 20);
  assert.equal(f.prefix.readUInt32BE(16), big);
  assert.equal(f.size, needleSizeFor(n, big, 3));
  assert.equal(f.length, actualSize(f.size, 3));
  assert.equal(f.prefix.length + big + f.suffix.length, f.length);
  assert.throws(() => encodeNeedleFrame(n, 0x7fffffff, 3), RangeError);
});
