// Conditional-request logic of the read path (expected values taken from Go's time and net/http).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { etagListMatches, formatHttpDate, ifRangeMatches, notModified, parseHttpDate, parseHttpTime } from '../../../../plugins/read-write/http/conditional.js';

describe('Last-Modified dates', () => {
  test('formats http.TimeFormat', () => {
    assert.equal(formatHttpDate(1700000000), 'Tue, 14 Nov 2023 22:13:20 GMT');
    assert.equal(formatHttpDate(0), 'Thu, 01 Jan 1970 00:00:00 GMT');
    assert.equal(formatHttpDate(1700000000), 'Tue, 14 Nov 2023 22:13:20 GMT');
  });

  test('parses like time.Parse(http.TimeFormat)', () => {
    const cases: [string, number | undefined][] = [
      ['Tue, 14 Nov 2023 22:13:20 GMT', 1700000000],
      ['tue, 14 nov 2023 22:13:20 GMT', 1700000000],
      ['Sun, 14 Nov 2023 22:13:20 GMT', 1700000000], // weekday not checked
      ['Tue, 14 Nov 2023 2:13:20 GMT', 1699928000], // 1-digit hour accepted
      ['Tue, 14 Nov 2023 22:13:20.123 GMT', 1700000000], // fraction accepted
      ['Tue, 4 Nov 2023 22:13:20 GMT', undefined], // day needs 2 digits
      ['Tue, 31 Feb 2023 22:13:20 GMT', undefined],
      ['Tue, 14 Nov 2023 22:13:20 UTC', undefined],
      ['Xyz, 14 Nov 2023 22:13:20 GMT', undefined],
      ['Tue, 14 Nov 2023 24:13:20 GMT', undefined],
      ['not-a-valid-http-date', undefined],
      ['', undefined],
      ['Tue, 14 Nov 2023 22:13:20 GMT ', undefined],
    ];
    for (const [text, want] of cases) assert.equal(parseHttpDate(text), want, text);
  });

  test('http.ParseTime also takes RFC 850 and ANSIC', () => {
    assert.equal(parseHttpTime('Tuesday, 14-Nov-23 22:13:20 GMT'), 1700000000);
    assert.equal(parseHttpTime('Tue Nov 14 22:13:20 2023'), 1700000000);
    assert.equal(parseHttpTime('Sat Nov  4 22:13:20 2023'), 1699136000);
    assert.equal(parseHttpTime('garbage'), undefined);
  });
});

describe('If-None-Match', () => {
  test('entity-tag lists, weak tags, star, unquoted tags', () => {
    assert.equal(etagListMatches('"c99465aa"', 'c99465aa', true), true);
    assert.equal(etagListMatches('c99465aa', 'c99465aa', true), true);
    assert.equal(etagListMatches('W/"c99465aa"', 'c99465aa', true), true);
    assert.equal(etagListMatches('W/"c99465aa"', 'c99465aa', false), false);
    assert.equal(etagListMatches('"x", "c99465aa"', 'c99465aa', true), true);
    assert.equal(etagListMatches(' * ', 'c99465aa', true), true);
    assert.equal(etagListMatches('"a,c99465aa"', 'c99465aa', true), false); // comma inside quotes does not split
    assert.equal(etagListMatches('"definitely-different-etag"', 'c99465aa', true), false);
    assert.equal(etagListMatches('', 'c99465aa', true), false);
    assert.equal(etagListMatches(',', '', true), false); // empty elements never match
  });
});

describe('notModified precedence', () => {
  const lm = 1700000000;
  const date = 'Tue, 14 Nov 2023 22:13:20 GMT';

  test('If-Modified-Since alone: satisfied at or after Last-Modified', () => {
    assert.equal(notModified(undefined, date, 'c99465aa', lm), true);
    assert.equal(notModified(undefined, 'Wed, 15 Nov 2023 22:13:20 GMT', 'c99465aa', lm), true);
    assert.equal(notModified(undefined, 'Mon, 13 Nov 2023 22:13:20 GMT', 'c99465aa', lm), false);
  });

  test('an unparsable If-Modified-Since is ignored; no Last-Modified never matches', () => {
    assert.equal(notModified(undefined, 'not-a-valid-http-date', 'c99465aa', lm), false);
    assert.equal(notModified(undefined, date, 'c99465aa', 0), false);
  });

  test('If-None-Match, when present, decides alone', () => {
    assert.equal(notModified('"definitely-different-etag"', date, 'c99465aa', lm), false);
    assert.equal(notModified('"c99465aa"', 'Mon, 13 Nov 2023 22:13:20 GMT', 'c99465aa', lm), true);
    assert.equal(notModified('"c99465aa"', undefined, 'c99465aa', 0), true);
    assert.equal(notModified(['"x"', '"c99465aa"'], undefined, 'c99465aa', 0), true);
    assert.equal(notModified('', date, 'c99465aa', lm), false);
  });
});

describe('If-Range', () => {
  test('strong entity tag or exact Last-Modified date', () => {
    assert.equal(ifRangeMatches(undefined, '"c99465aa"', undefined), true);
    assert.equal(ifRangeMatches('', '"c99465aa"', undefined), true);
    assert.equal(ifRangeMatches('"c99465aa"', '"c99465aa"', undefined), true);
    assert.equal(ifRangeMatches('"other"', '"c99465aa"', undefined), false);
    assert.equal(ifRangeMatches('W/"c99465aa"', '"c99465aa"', undefined), false);
    const lm = 'Tue, 14 Nov 2023 22:13:20 GMT';
    assert.equal(ifRangeMatches(lm, '"c99465aa"', lm), true);
    assert.equal(ifRangeMatches('Wed, 15 Nov 2023 22:13:20 GMT', '"c99465aa"', lm), false);
    assert.equal(ifRangeMatches(lm, '"c99465aa"', undefined), false);
  });
});
