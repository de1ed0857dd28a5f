// Range parsing and multipart framing of the read path, against the Go volume server's rules.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  RangeError416,
  closingDelimiter,
  contentRange,
  multipartSize,
  parseInt64,
  parseRange,
  partHeader,
  sumRanges,
  type ByteRange,
} from '../../../../plugins/read-write/http/range.js';

function invalid(spec: string, size: number): RangeError416 {
  try {
    parseRange(spec, size);
  } catch (e) {
    assert.ok(e instanceof RangeError416, `expected RangeError416 for ${spec}`);
    return e;
  }
  assert.fail(`expected ${JSON.stringify(spec)} to be rejected`);
}

describe('parseRange', () => {
  test('single, open and suffix ranges', () => {
    assert.deepEqual(parseRange('bytes=0-1', 16), [{ start: 0, length: 2 }]);
    assert.deepEqual(parseRange('bytes=4-', 16), [{ start: 4, length: 12 }]);
    assert.deepEqual(parseRange('bytes=-5', 16), [{ start: 11, length: 5 }]);
    assert.deepEqual(parseRange('bytes=15-15', 16), [{ start: 15, length: 1 }]);
  });

  test('end past the size is clamped; a suffix longer than the content is the whole content', () => {
    assert.deepEqual(parseRange('bytes=10-100', 16), [{ start: 10, length: 6 }]);
    assert.deepEqual(parseRange('bytes=-100', 16), [{ start: 0, length: 16 }]);
  });

  test('several specs, whitespace and empty specs', () => {
    assert.deepEqual(parseRange('bytes=0-1,4-5', 16), [
      { start: 0, length: 2 },
      { start: 4, length: 2 },
    ]);
    assert.deepEqual(parseRange('bytes= 0 - 1 , , 4-5 ,', 16), [
      { start: 0, length: 2 },
      { start: 4, length: 2 },
    ]);
  });

  test('an empty spec list yields no ranges (served as an empty 200)', () => {
    assert.deepEqual(parseRange('bytes=', 16), []);
    assert.deepEqual(parseRange('bytes=,,', 16), []);
    assert.deepEqual(parseRange('', 16), []);
  });

  test('malformed headers are "invalid range"', () => {
    for (const spec of ['items=0-1', 'bytes=a-b', 'bytes=5', 'bytes=-', 'bytes=--5', 'bytes=5-3', 'bytes=-1-2', 'bytes=1-x', 'Bytes=0-1', 'bytes=-+5-']) {
      const e = invalid(spec, 16);
      assert.equal(e.message, 'invalid range', spec);
      assert.equal(e.noOverlap, false, spec);
    }
  });

  test('a negative start is invalid, ParseInt signs are accepted', () => {
    assert.equal(invalid('bytes=-1-', 16).message, 'invalid range');
    assert.deepEqual(parseRange('bytes=+2-+3', 16), [{ start: 2, length: 2 }]);
    assert.deepEqual(parseRange('bytes=-+3', 16), [{ start: 13, length: 3 }]);
  });

  test('int64 overflow is invalid, huge in-range ends clamp', () => {
    assert.equal(invalid('bytes=0-99999999999999999999', 16).message, 'invalid range');
    assert.deepEqual(parseRange('bytes=0-9223372036854775807', 16), [{ start: 0, length: 16 }]);
    assert.equal(invalid('bytes=0-9223372036854775808', 16).message, 'invalid range');
  });

  test('ranges starting at or past the end do not overlap', () => {
    for (const spec of ['bytes=16-', 'bytes=16-20', 'bytes=100-200', 'bytes=-0']) {
      const e = invalid(spec, 16);
      assert.equal(e.message, 'invalid range: failed to overlap', spec);
      assert.equal(e.noOverlap, true, spec);
    }
    // Empty content: every range fails to overlap.
    assert.equal(invalid('bytes=0-', 0).noOverlap, true);
    assert.equal(invalid('bytes=-5', 0).noOverlap, true);
  });

  test('non-overlapping specs are skipped when others overlap', () => {
    assert.deepEqual(parseRange('bytes=100-200,0-1', 16), [{ start: 0, length: 2 }]);
  });

  test('an invalid spec wins over earlier valid ones', () => {
    assert.equal(invalid('bytes=0-1,x', 16).message, 'invalid range');
  });

  test('overlapping ranges add up past the size (the caller then ignores the header)', () => {
    const r = parseRange('bytes=0-10,5-15', 16);
    assert.equal(sumRanges(r), 22);
    assert.ok(sumRanges(r) > 16);
  });
});

describe('parseInt64', () => {
  test('Go strconv.ParseInt base 10', () => {
    assert.equal(parseInt64('0'), 0);
    assert.equal(parseInt64('007'), 7);
    assert.equal(parseInt64('+7'), 7);
    assert.equal(parseInt64('-7'), -7);
    assert.equal(parseInt64(''), undefined);
    assert.equal(parseInt64('+'), undefined);
    assert.equal(parseInt64('1_000'), undefined);
    assert.equal(parseInt64(' 1'), undefined);
    assert.equal(parseInt64('-9223372036854775808'), -9223372036854775808);
    assert.equal(parseInt64('-9223372036854775809'), undefined);
  });
});

describe('multipart/byteranges framing', () => {
  test('byte-identical to Go mime/multipart and its size computed exactly', () => {
    const data = Buffer.from('0123456789abcdef');
    const ranges: ByteRange[] = [
      { start: 0, length: 2 },
      { start: 4, length: 2 },
    ];
    const boundary = 'b0undary';
    const body =
      partHeader(boundary, 0, ranges[0], 'text/plain', 16) +
      '01' +
      partHeader(boundary, 1, ranges[1], 'text/plain', 16) +
      '45' +
      closingDelimiter(boundary);
    assert.equal(
      body,
      '--b0undary\r\nContent-Range: bytes 0-1/16\r\nContent-Type: text/plain\r\n\r\n01' +
        '\r\n--b0undary\r\nContent-Range: bytes 4-5/16\r\nContent-Type: text/plain\r\n\r\n45' +
        '\r\n--b0undary--\r\n',
    );
    assert.equal(multipartSize(ranges, boundary, 'text/plain', data.length), Buffer.byteLength(body));
  });

  test('an unknown type still writes an empty Content-Type line', () => {
    assert.equal(partHeader('x', 0, { start: 0, length: 1 }, '', 1), '--x\r\nContent-Range: bytes 0-0/1\r\nContent-Type: \r\n\r\n');
  });

  test('Content-Range text', () => {
    assert.equal(contentRange({ start: 4, length: 2 }, 16), 'bytes 4-5/16');
  });
});
