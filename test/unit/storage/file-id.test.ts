import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatFileId,
  formatNeedleIdCookie,
  parseFid,
  parseFileId,
  parseNeedleIdCookie,
  parseVolumeId,
} from '../../../core/storage/file-id.js';
import { InvalidFileIdError } from '../../../core/storage/storage-errors.js';

function throwsText(fn: () => unknown, text: string) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidFileIdError, `expected InvalidFileIdError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_FILE_ID');
    assert.equal(e.message, text);
    return true;
  });
}

test('fid parsing: spec examples', () => {
  assert.deepEqual(parseFid('01637037d6'), { id: 1n, cookie: 0x637037d6 });
  assert.deepEqual(parseFid('1a2b3c4d5e6f70811223344'), { id: 0x1a2b3c4d5e6f708n, cookie: 0x11223344 });
  assert.deepEqual(parseFid('01637037D6'), { id: 1n, cookie: 0x637037d6 });
  assert.deepEqual(parseFileId('3,01637037d6'), { volumeId: 3, id: 1n, cookie: 0x637037d6 });
  assert.deepEqual(parseNeedleIdCookie('ffffffffffffffffffffffff'), { id: 0xffffffffffffffffn, cookie: 0xffffffff });
});

test('fid parsing: delta suffix', () => {
  assert.deepEqual(parseFid('01637037d6_2'), { id: 3n, cookie: 0x637037d6 });
  assert.deepEqual(parseFid('01637037d6_'), { id: 1n, cookie: 0x637037d6 });
  throwsText(() => parseFid('01637037d6_x'), 'strconv.ParseUint: parsing "x": invalid syntax');
  throwsText(() => parseFid('01637037d6_99999999999999999999'), 'strconv.ParseUint: parsing "99999999999999999999": value out of range');
  throwsText(() => parseFid('ffffffffffffffff637037d6_1'), 'delta 1 overflows needle id ffffffffffffffff');
});

test('fid parsing: every error text', () => {
  throwsText(() => parseFid('637037d6'), 'Invalid fid: 637037d6');
  throwsText(() => parseFid(''), 'Invalid fid: ');
  // longer than 8 with the suffix, but the key+cookie part is too short
  throwsText(() => parseFid('637037d6_1'), 'KeyHash is too short.');
  throwsText(() => parseFid('1234567890123456789012345'), 'KeyHash is too long.');
  throwsText(
    () => parseFid('zz637037d6'),
    'Parse needleId error: needle id zz format error: strconv.ParseUint: parsing "zz": invalid syntax',
  );
  throwsText(
    () => parseFid('0163703zd6'),
    'Parse cookie error: needle cookie 63703zd6 format error: strconv.ParseUint: parsing "63703zd6": invalid syntax',
  );
  throwsText(() => parseNeedleIdCookie('1234'), 'KeyHash is too short.');
  throwsText(() => parseFileId('301637037d6'), 'wrong fid format');
  throwsText(() => parseFileId(',01637037d6'), 'wrong fid format');
  throwsText(() => parseVolumeId('x'), 'strconv.ParseUint: parsing "x": invalid syntax');
  assert.equal(parseVolumeId('4294967297'), 1);
});

test('fid formatting drops leading zero bytes of the id only', () => {
  assert.equal(formatNeedleIdCookie(1n, 0x637037d6), '01637037d6');
  assert.equal(formatNeedleIdCookie(0x123n, 0x637037d6), '0123637037d6');
  assert.equal(formatNeedleIdCookie(0x1a2b3c4d5e6f708n, 0x11223344), '01a2b3c4d5e6f70811223344');
  assert.equal(formatNeedleIdCookie(0n, 0x00000001), '00000001');
  assert.equal(formatNeedleIdCookie(0xffffffffffffffffn, 0), 'ffffffffffffffff00000000');
  assert.equal(formatFileId(3, 1n, 0x637037d6), '3,01637037d6');
  for (const id of [1n, 255n, 256n, 0xabcdefn, 0x1234567890abcdefn]) {
    assert.deepEqual(parseFid(formatNeedleIdCookie(id, 0xdeadbeef)), { id, cookie: 0xdeadbeef });
  }
});
