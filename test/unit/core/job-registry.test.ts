// The job registry: progress, rate and ETA from a controlled clock, finish/fail, the ended-jobs
// list, and the progress log lines written while a job runs.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { JobRegistry } from '../../../core/jobs/job-registry.js';

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

test('job registry: percent, rate and ETA follow progress; finish moves the job to recent', () => {
  let now = 1_000_000;
  const { logger } = capture();
  const jobs = new JobRegistry(logger, { logIntervalMs: 0, now: () => now });
  const job = jobs.start('vacuum', { vid: 7, totalBytes: 1000 });
  assert.equal(jobs.list().running.length, 1);
  now += 1000;
  job.progress(100);
  now += 1000;
  job.progress(200);
  let v = jobs.list().running[0];
  assert.equal(v.kind, 'vacuum');
  assert.equal(v.vid, 7);
  assert.equal(v.bytesDone, 200);
  assert.equal(v.percent, 20);
  assert.equal(v.bytesPerSecond, 100);
  assert.equal(v.etaSeconds, 8);
  assert.equal(v.elapsedSeconds, 2);
  // A lower value (e.g. a retried file) never moves progress back.
  job.progress(150);
  assert.equal(jobs.list().running[0].bytesDone, 200);
  now += 2000;
  job.finish();
  const { running, recent } = jobs.list();
  assert.equal(running.length, 0);
  assert.equal(recent.length, 1);
  v = recent[0];
  assert.equal(v.state, 'done');
  assert.equal(v.percent, 100);
  assert.equal(v.etaSeconds, undefined);
  assert.equal(v.elapsedSeconds, 4);
  assert.equal(v.bytesPerSecond, 250);
  // A second finish or a late progress changes nothing.
  job.fail(new Error('late'));
  job.progress(5000);
  assert.equal(jobs.list().recent[0].state, 'done');
  assert.equal(jobs.list().recent[0].bytesDone, 1000);
});

test('job registry: a failed job keeps its error; unknown totals give no percent or ETA; recent is bounded', async () => {
  const { logger, lines } = capture();
  const jobs = new JobRegistry(logger, { logIntervalMs: 0, keepFinished: 2 });
  const failing = jobs.start('volume.copy', { vid: 3 });
  failing.progress(10);
  failing.fail(new Error('peer went away'));
  assert.deepEqual(
    { state: jobs.list().recent[0].state, error: jobs.list().recent[0].error, percent: jobs.list().recent[0].percent },
    { state: 'failed', error: 'peer went away', percent: undefined },
  );
  await assert.rejects(
    jobs.run('scrub', { vid: 4 }, async () => {
      throw new Error('bad needle');
    }),
    /bad needle/,
  );
  assert.equal(await jobs.run('ec.generate', { vid: 5, totalBytes: 10 }, async (j) => (j.progress(10), 'ok')), 'ok');
  const recent = jobs.list().recent;
  assert.deepEqual(
    recent.map((j) => [j.kind, j.state]),
    [
      ['ec.generate', 'done'],
      ['scrub', 'failed'],
    ],
  );
  const failedLine = lines.find((l) => l.msg === 'job failed' && l.kind === 'volume.copy');
  assert.equal(failedLine?.err, 'peer went away');
  assert.equal(failedLine?.level, 40);
});

test('job registry: a progress line is logged at the interval while a job runs, and none after', async () => {
  const { logger, lines } = capture();
  const jobs = new JobRegistry(logger, { logIntervalMs: 20 });
  const job = jobs.start('tier.upload', { vid: 9, totalBytes: 100 });
  job.progress(40);
  await new Promise((r) => setTimeout(r, 120));
  const progress = lines.filter((l) => l.msg === 'job progress');
  assert.ok(progress.length >= 1);
  assert.deepEqual(
    { kind: progress[0].kind, vid: progress[0].vid, done: progress[0].done, total: progress[0].total, percent: progress[0].percent },
    { kind: 'tier.upload', vid: 9, done: 40, total: 100, percent: 40 },
  );
  job.finish();
  const after = lines.length;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(lines.filter((l) => l.msg === 'job progress').length, lines.slice(0, after).filter((l) => l.msg === 'job progress').length);
  assert.ok(lines.some((l) => l.msg === 'job done' && l.kind === 'tier.upload'));
  jobs.close();
});
