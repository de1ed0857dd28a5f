// The pieces the tier upload and download are built from: the part pool, the per-part retry, the
// progress reporter and the upload part size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uploadPartSize } from '../../../../plugins/tiering/s3/s3-upload.js';
import { partsInFlight, ProgressReporter, runParts, ShortBodyError, withRetry } from '../../../../plugins/tiering/s3/transfer-support.js';

const MiB = 1024 * 1024;
const tick = () => new Promise((r) => setImmediate(r));

test('parts in flight: the request, else the backend default, within 1..16', () => {
  assert.equal(partsInFlight(0, 5), 5);
  assert.equal(partsInFlight(3, 5), 3);
  assert.equal(partsInFlight(1024, 5), 16);
  assert.equal(partsInFlight(-1, 0), 1);
});

test('upload part size: a power of two in 8..64 MiB, about four rounds of parts, never more than 10000 parts', () => {
  assert.equal(uploadPartSize(20 * MiB, 5), 8 * MiB, 'a small volume still goes up in several parts');
  assert.equal(uploadPartSize(200 * MiB, 5), 16 * MiB, '10 MiB rounded up to a divisor of the download ranges');
  assert.equal(uploadPartSize(1024 * MiB, 5), 64 * MiB);
  assert.equal(uploadPartSize(100 * 1024 * MiB, 5), 64 * MiB);
  const huge = 5 * 1024 * 1024 * MiB; // 5 TiB
  const part = uploadPartSize(huge, 5);
  assert.ok(Math.ceil(huge / part) <= 10_000, `${part} gives ${Math.ceil(huge / part)} parts`);
});

test('runParts: at most width at once, every part once, in order of start', async () => {
  let running = 0;
  let peak = 0;
  const seen: number[] = [];
  await runParts(10, 3, async (i) => {
    running++;
    peak = Math.max(peak, running);
    seen.push(i);
    await tick();
    running--;
  });
  assert.equal(peak, 3);
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('runParts: the first failure aborts the others, starts no more, and is thrown once all settled', async () => {
  const started: number[] = [];
  let settled = 0;
  let abortedSeen = 0;
  await assert.rejects(
    runParts(10, 3, async (i, signal) => {
      started.push(i);
      try {
        if (i === 1) throw new Error('part 1 failed');
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        abortedSeen++;
      } finally {
        settled++;
      }
    }),
    /part 1 failed/,
  );
  assert.deepEqual(started, [0, 1, 2]);
  assert.equal(abortedSeen, 2, 'the parts in flight saw the abort');
  assert.equal(settled, 3, 'every started part settled before the error came back');
});

test('withRetry: transient failures are tried again, a 4xx answer or a stop is final', async () => {
  const never = new AbortController().signal;
  let n = 0;
  assert.equal(
    await withRetry(never, () => undefined, async () => {
      if (++n < 3) throw new ShortBodyError('cut');
      return 'ok';
    }),
    'ok',
  );
  assert.equal(n, 3);

  n = 0;
  const notFound = Object.assign(new Error('NoSuchKey'), { $metadata: { httpStatusCode: 404 } });
  await assert.rejects(
    withRetry(never, () => undefined, async () => {
      n++;
      throw notFound;
    }),
    /NoSuchKey/,
  );
  assert.equal(n, 1, 'a 404 is not retried');

  n = 0;
  const serverError = Object.assign(new Error('InternalError'), { $metadata: { httpStatusCode: 500 } });
  await assert.rejects(
    withRetry(never, () => undefined, async () => {
      n++;
      throw serverError;
    }),
    /InternalError/,
  );
  assert.equal(n, 3, 'a 500 is tried three times');

  n = 0;
  const stop = new Error('context canceled');
  await assert.rejects(
    withRetry(never, () => stop, async () => {
      n++;
      throw serverError;
    }),
    /context canceled/,
  );
  assert.equal(n, 1, 'a failed progress callback ends the part at once');
});

test('ProgressReporter: calls never overlap, the final count is reported, a failing callback is kept', async () => {
  const calls: [number, number][] = [];
  let inside = 0;
  const r = new ProgressReporter(async (done, pct) => {
    inside++;
    assert.equal(inside, 1, 'one call at a time');
    calls.push([done, pct]);
    await tick();
    inside--;
  }, 1000);
  for (let i = 0; i < 10; i++) r.add(100);
  await r.finish();
  assert.ok(calls.length >= 1 && calls.length < 10, `${calls.length} calls for 10 adds`);
  assert.deepEqual(calls.at(-1), [1000, 100]);
  for (let i = 1; i < calls.length; i++) assert.ok(calls[i][0] > calls[i - 1][0], 'counts grow');

  const failing = new ProgressReporter(() => {
    throw new Error('context canceled');
  }, 10);
  failing.add(5);
  await tick();
  assert.match(String(failing.failed), /context canceled/);
  await assert.rejects(failing.finish(), /context canceled/);
});
