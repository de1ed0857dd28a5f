import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FLAG_HAS_LAST_MODIFIED_DATE,
  FLAG_HAS_MIME,
  FLAG_HAS_NAME,
  FLAG_HAS_PAIRS,
  FLAG_HAS_TTL,
  FLAG_IS_CHUNK_MANIFEST,
  FLAG_IS_COMPRESSED,
  META_PREFIX_LENGTH,
  decodeNeedle,
  decodeNeedleMeta,
  encodeNeedle,
  encodedLength,
  metaTailLength,
  needleEtag,
  newNeedle,
} from '../../../core/storage/needle.js';
import { crc32c, legacyMaskedCrc } from '../../../core/storage/crc32c.js';
import { CrcMismatchError, NeedleCorruptedError, SizeMismatchError } from '../../../core/storage/storage-errors.js';
import { Ttl, type Version } from '../../../core/storage/types.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function specNeedle() {
  return newNeedle({
    id: 1n,
    cookie: 0x637037d6,
    data: Buffer.from('hello world'),
    flags: FLAG_HAS_NAME | FLAG_HAS_MIME | FLAG_HAS_LAST_MODIFIED_DATE,
    name: 'hello.txt',
    mime: 'text/plain',
    lastModified: 1_700_000_000,
    appendAtNs: 0x17979cfe3d85cd15n,
  });
}

test('needle v3: byte-identical to the spec worked example', () => {
  const n = specNeedle();
  const b = encodeNeedle(n, 3);
  assert.equal(n.size, 42);
  assert.equal(b.length, 72);
  assert.deepEqual(
    b,
    hex(`63 70 37 d6 00 00 00 00 00 00 00 01 00 00 00 2a
         00 00 00 0b 68 65 6c 6c 6f 20 77 6f 72 6c 64 0e
         09 68 65 6c 6c 6f 2e 74 78 74 0a 74 65 78 74 2f
         70 6c 61 69 6e 00 65 53 f1 00 c9 94 65 aa 17 97
         9c fe 3d 85 cd 15 00 00`),
  );
  const d = decodeNeedle(b, 3, { expectedSize: 42 });
  assert.equal(d.id, 1n);
  assert.equal(d.cookie, 0x637037d6);
  assert.equal(Buffer.from(d.data).toString(), 'hello world');
  assert.equal(Buffer.from(d.name).toString(), 'hello.txt');
  assert.equal(Buffer.from(d.mime).toString(), 'text/plain');
  assert.equal(d.lastModified, 1_700_000_000);
  assert.equal(d.appendAtNs, 0x17979cfe3d85cd15n);
  assert.equal(d.checksum, 0xc99465aa);
  assert.equal(needleEtag(d), 'c99465aa');
});

test('needle v2 and v1: byte-identical to the spec (Go scratch-buffer padding)', () => {
  const v2 = encodeNeedle(specNeedle(), 2);
  assert.deepEqual(
    v2,
    hex(`63 70 37 d6 00 00 00 00 00 00 00 01 00 00 00 2a
         00 00 00 0b 68 65 6c 6c 6f 20 77 6f 72 6c 64 0e
         09 68 65 6c 6c 6f 2e 74 78 74 0a 74 65 78 74 2f
         70 6c 61 69 6e 00 65 53 f1 00 c9 94 65 aa 65 53`),
  );
  const v1 = encodeNeedle(specNeedle(), 1);
  assert.deepEqual(
    v1,
    hex(`63 70 37 d6 00 00 00 00 00 00 00 01 00 00 00 0b
         68 65 6c 6c 6f 20 77 6f 72 6c 64 c9 94 65 aa 00`),
  );
  assert.equal(Buffer.from(decodeNeedle(v1, 1).data).toString(), 'hello world');
  assert.equal(decodeNeedle(v2, 2).lastModified, 1_700_000_000);
});

test('needle v3 tombstone matches the spec example', () => {
  const t = newNeedle({ id: 1n, cookie: 0x637037d6, checksum: 0xc99465aa, appendAtNs: 0x17979d157ea0e800n });
  const b = encodeNeedle(t, 3);
  assert.equal(t.size, 0);
  assert.deepEqual(
    b,
    hex(`63 70 37 d6 00 00 00 00 00 00 00 01 00 00 00 00
         c9 94 65 aa 17 97 9d 15 7e a0 e8 00 00 00 00 00`),
  );
  // the tombstone checksum is not verified (no data)
  const d = decodeNeedle(b, 3, { expectedSize: 0 });
  assert.equal(d.checksum, 0xc99465aa);
  assert.equal(d.data.length, 0);
  // v2 tombstone: 24 bytes, padding = id bytes 0..3
  const t2 = encodeNeedle(newNeedle({ id: 0x0102030405060708n, cookie: 1, checksum: 0 }), 2);
  assert.equal(t2.length, 24);
  assert.deepEqual([...t2.subarray(20)], [1, 2, 3, 4]);
});

test('needle empty data: Size 0 and no flags/name/mime even if requested', () => {
  const n = newNeedle({ id: 9n, cookie: 5, flags: 0x0e, name: 'x', mime: 'y', lastModified: 5 });
  const b = encodeNeedle(n, 3);
  assert.equal(n.size, 0);
  assert.equal(b.length, 32);
});

test('needle round trip: every version with all optional fields', () => {
  const allFlags = FLAG_IS_COMPRESSED | FLAG_HAS_NAME | FLAG_HAS_MIME | FLAG_HAS_LAST_MODIFIED_DATE | FLAG_HAS_TTL | FLAG_HAS_PAIRS | FLAG_IS_CHUNK_MANIFEST;
  for (const version of [1, 2, 3] as Version[]) {
    for (const len of [1, 2, 3, 7, 8, 100, 4093]) {
      const data = Buffer.alloc(len, len & 0xff);
      const n = newNeedle({
        id: 0x1122334455667788n + BigInt(len),
        cookie: 0xdeadbeef,
        data,
        flags: allFlags,
        name: 'n'.repeat(len % 300),
        mime: 'application/octet-stream',
        pairs: '{"a":"b"}',
        lastModified: 0xff_1234_5678,
        ttl: Ttl.parse('3d'),
        appendAtNs: 0x1234_5678_9abc_def0n,
      });
      const b = encodeNeedle(n, version);
      assert.equal(b.length, encodedLength(n, version));
      assert.equal(b.length % 8, 0);
      const d = decodeNeedle(b, version, { expectedSize: n.size });
      assert.equal(d.id, n.id);
      assert.equal(d.cookie, n.cookie);
      assert.deepEqual(Buffer.from(d.data), data);
      assert.equal(d.checksum, crc32c(data));
      if (version === 1) {
        assert.equal(d.size, len);
        assert.equal(d.flags, 0);
        continue;
      }
      assert.equal(d.flags, allFlags);
      assert.equal(Buffer.from(d.name).toString(), 'n'.repeat(Math.min(len % 300, 255)));
      assert.equal(Buffer.from(d.mime).toString(), 'application/octet-stream');
      assert.equal(Buffer.from(d.pairs).toString(), '{"a":"b"}');
      assert.equal(d.lastModified, 0xff_1234_5678);
      assert.equal(d.ttl.toString(), '3d');
      assert.equal(d.appendAtNs, version === 3 ? 0x1234_5678_9abc_def0n : 0n);
      // meta decode (streaming) gives the same fields without reading the data
      const tailStart = META_PREFIX_LENGTH + len;
      const tail = b.subarray(tailStart);
      assert.equal(tail.length, metaTailLength(n.size, len, version));
      const m = decodeNeedleMeta(b.subarray(0, META_PREFIX_LENGTH), tail, version, 800, n.size);
      assert.equal(m.dataOffset, 800 + 20);
      assert.equal(m.dataSize, len);
      assert.equal(m.storedChecksum, crc32c(data));
      assert.equal(Buffer.from(m.name).toString(), Buffer.from(d.name).toString());
      assert.equal(m.ttl.toString(), '3d');
      assert.equal(m.appendAtNs, d.appendAtNs);
    }
  }
});

test('needle decode: legacy masked checksum accepted, bad CRC and overruns rejected', () => {
  const n = specNeedle();
  const b = encodeNeedle(n, 3);
  b.writeUInt32BE(legacyMaskedCrc(0xc99465aa), 16 + 42);
  const d = decodeNeedle(b, 3);
  assert.equal(d.checksum, 0xc99465aa, 'raw CRC kept after a legacy-form verification');
  b.writeUInt32BE(0x12345678, 16 + 42);
  assert.throws(
    () => decodeNeedle(b, 3),
    (e: unknown) =>
      e instanceof CrcMismatchError &&
      e.code === 'CRC_MISMATCH' &&
      e.message === 'invalid CRC for needle 1 (got c99465aa, want 12345678), data on disk corrupted: needle data corrupted',
  );
  const good = encodeNeedle(specNeedle(), 3);
  assert.throws(() => decodeNeedle(good, 3, { expectedSize: 41 }), SizeMismatchError);
  const bad = Buffer.from(good);
  bad.writeUInt32BE(200, 16); // DataSize beyond the body
  assert.throws(() => decodeNeedle(bad, 3), (e: unknown) => e instanceof NeedleCorruptedError && /index out of range 1/.test(e.message));
  const badName = Buffer.from(good);
  badName[32] = 250; // NameSize runs past the body
  assert.throws(() => decodeNeedle(badName, 3), /index out of range 2/);
});

test('needle encode into a caller buffer at an offset', () => {
  const n = specNeedle();
  const big = Buffer.alloc(200, 0xee);
  const out = encodeNeedle(n, 3, big, 16);
  assert.equal(out.length, 72);
  assert.equal(big[15], 0xee);
  assert.equal(big[16 + 72], 0xee);
  assert.deepEqual(big.subarray(16, 88), encodeNeedle(specNeedle(), 3));
});

test('needle name longer than 255 bytes is cut to 255 (Go writer)', () => {
  const n = newNeedle({ id: 5n, cookie: 1, data: Buffer.from('x'), flags: FLAG_HAS_NAME, name: 'a'.repeat(300) });
  const b = encodeNeedle(n, 3);
  assert.equal(n.size, 4 + 1 + 1 + 1 + 255);
  const d = decodeNeedle(b, 3);
  assert.equal(d.name.length, 255);
  assert.equal(b[16 + 4 + 1 + 1], 255);
});
