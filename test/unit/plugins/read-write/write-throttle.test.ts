// InflightLimiter (Go's weed/server/volume_server_handlers.go checkUploadLimit/checkDownloadLimit)
// and the upload parsing helpers of the write path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InflightLimiter, ThrottleAbortedError } from '../../../../plugins/read-write/http/throttle.js';
import { formatDisposition, pairsJson } from '../../../../plugins/read-write/http/replicate.js';
import { parseQuery } from '../../../../plugins/read-write/http/upload-form.js';
import { parseMediaType } from '../../../../plugins/read-write/http/media-type.js';
import { gzipTrailerSize } from '../../../../plugins/read-write/http/upload-parse.js';

test('a request waits only while the sum is strictly over the limit, then proceeds when released', async () => {
  const l = new InflightLimiter(100, 5000);
  assert.equal(await l.acquire(100), true); // at the limit: not over
  assert.equal(await l.acquire(50), true); // 100 is not > 100: admitted, sum 150
  let admitted: boolean | undefined;
  const waiting = l.acquire(10).then((v) => (admitted = v));
  await new Promise((r) => setImmediate(r));
  assert.equal(admitted, undefined, 'admitted while the sum is over the limit');
  assert.equal(l.current, 150);
  l.release(40); // 110 is still over 100: the waiter stays parked
  await new Promise((r) => setImmediate(r));
  assert.equal(admitted, undefined, 'admitted by a release that left the sum over the limit');
  assert.equal(l.current, 110);
  l.release(10); // 100: no longer over, the waiter is admitted and counted
  assert.equal(await waiting, true);
  assert.equal(l.current, 110);
});

test('a wait times out with false and counts nothing; an abort rejects', async () => {
  const l = new InflightLimiter(10, 30);
  l.add(20); // replicate uploads count without waiting
  let outcome: boolean | undefined;
  const timedOut = l.acquire(5).then((v) => (outcome = v));
  await new Promise((r) => setImmediate(r));
  assert.equal(outcome, undefined, 'the wait ended before its timeout fired');
  assert.equal(await timedOut, false);
  assert.equal(l.current, 20);
  const ac = new AbortController();
  const p = l.acquire(5, ac.signal);
  ac.abort();
  await assert.rejects(p, ThrottleAbortedError);
  assert.equal(l.current, 20);
});

test('limit 0 never waits', async () => {
  const l = new InflightLimiter(0, 1);
  l.add(1e12);
  assert.equal(await l.acquire(1), true);
});

test('Go query parsing: escapes, first value, errors', () => {
  const q = parseQuery('%74ype=replicate&type=old&fsync=%74rue&a+b=c+d');
  assert.equal(q.error, '');
  assert.equal(q.form.get('type'), 'replicate');
  assert.equal(q.form.get('fsync'), 'true');
  assert.equal(q.form.get('a b'), 'c d');
  assert.equal(parseQuery('x=%zz').error, 'invalid URL escape "%zz"');
  assert.equal(parseQuery('x=1;y=2').error, 'invalid semicolon separator in query');
});

test('media types, dispositions and pairs as Go writes them', () => {
  assert.deepEqual(parseMediaType('multipart/form-data; boundary="a b"'), { type: 'multipart/form-data', params: { boundary: 'a b' } });
  assert.equal(parseMediaType('form-data; name'), undefined);
  assert.equal(parseMediaType("attachment; filename*=utf-8''%E6%96%87.txt")?.params.filename, '文.txt');
  assert.equal(formatDisposition({ name: 'file', filename: 'my file.txt' }), 'form-data; filename="my file.txt"; name=file');
  assert.equal(formatDisposition({ name: 'file', filename: '文.txt' }), "form-data; filename*=utf-8''%E6%96%87.txt; name=file");
  assert.equal(pairsJson(new Map([['b', '<&>'], ['A', '1']])), '{"A":"1","b":"\\u003c\\u0026\\u003e"}');
});

test('gzip original size comes from the trailer, mod 2^32', () => {
  const gz = Buffer.alloc(20);
  gz[0] = 0x1f;
  gz[1] = 0x8b;
  gz.writeUInt32LE(0x80000000, 16);
  assert.equal(gzipTrailerSize(gz), 0x80000000);
  assert.equal(gzipTrailerSize(Buffer.from('plain text, not gzip')), undefined);
});
