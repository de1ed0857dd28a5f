// One registry for the server's long jobs (vacuum, volume copy, EC encode/rebuild, tier
// upload/download, scrub): each job reports bytes done of a total; the registry derives rate and
// ETA and feeds the admin page, GET /jobs and a progress log line at a steady interval.
import type { Logger } from 'pino';

/** Known kinds; families may add their own (any short dotted name). */
export type JobKind =
  | 'vacuum'
  | 'volume.copy'
  | 'ec.generate'
  | 'ec.rebuild'
  | 'tier.upload'
  | 'tier.download'
  | 'scrub'
  | (string & {});

export interface JobStart {
  /** Volume the job works on, when it works on one. */
  vid?: number;
  collection?: string;
  /** Bytes the job expects to process; 0 or absent = unknown (no percent, no ETA). */
  totalBytes?: number;
  /** One short free-text note for people (e.g. the peer of a copy). */
  detail?: string;
}

export interface JobHandle {
  readonly id: number;
  /** Bytes processed so far (absolute, not a delta); values lower than the last are ignored. */
  progress(bytesDone: number): void;
  /** Raises the expected total (e.g. when a later file of the job becomes known). */
  setTotal(totalBytes: number): void;
  finish(): void;
  fail(err: unknown): void;
}

export type JobState = 'running' | 'done' | 'failed';

/** A job as the JSON endpoint and the admin page show it. */
export interface JobView {
  id: number;
  kind: string;
  state: JobState;
  vid?: number;
  collection?: string;
  detail?: string;
  bytesDone: number;
  totalBytes: number;
  /** 0..100 with one decimal, undefined when the total is unknown. */
  percent?: number;
  /** Recent bytes per second (about the last RATE_WINDOW_MS). */
  bytesPerSecond: number;
  /** Seconds left at the recent rate, undefined when unknown. */
  etaSeconds?: number;
  startedAt: string;
  elapsedSeconds: number;
  finishedAt?: string;
  error?: string;
}

export interface JobRegistryOptions {
  /** Progress log line interval while any job runs; default 5 s. */
  logIntervalMs?: number;
  /** Finished jobs kept for the page and the endpoint; default 20. */
  keepFinished?: number;
  now?: () => number;
}

/** Rate samples are kept at least this far apart, over about this window. */
const SAMPLE_SPACING_MS = 500;
const RATE_WINDOW_MS = 10_000;

interface Sample {
  t: number;
  bytes: number;
}

class Job implements JobHandle {
  state: JobState = 'running';
  bytesDone = 0;
  totalBytes: number;
  finishedAt = 0;
  error: string | undefined;
  private samples: Sample[];

  constructor(
    readonly id: number,
    readonly kind: string,
    readonly opts: JobStart,
    readonly startedAt: number,
    private readonly registry: JobRegistry,
  ) {
    this.totalBytes = Math.max(0, opts.totalBytes ?? 0);
    this.samples = [{ t: startedAt, bytes: 0 }];
  }

  progress(bytesDone: number): void {
    if (this.state !== 'running' || !(bytesDone > this.bytesDone)) return;
    this.bytesDone = bytesDone;
    const t = this.registry.now();
    const last = this.samples[this.samples.length - 1];
    if (t - last.t >= SAMPLE_SPACING_MS) {
      this.samples.push({ t, bytes: bytesDone });
      while (this.samples.length > 2 && t - this.samples[1].t >= RATE_WINDOW_MS) this.samples.shift();
    }
  }

  setTotal(totalBytes: number): void {
    if (totalBytes > this.totalBytes) this.totalBytes = totalBytes;
  }

  finish(): void {
    if (this.state !== 'running') return;
    this.state = 'done';
    if (this.totalBytes > 0 && this.bytesDone < this.totalBytes) this.bytesDone = this.totalBytes;
    this.registry.ended(this);
  }

  fail(err: unknown): void {
    if (this.state !== 'running') return;
    this.state = 'failed';
    this.error = err instanceof Error ? err.message : String(err);
    this.registry.ended(this);
  }

  /** Bytes per second over the sample window (the whole run once it ended). */
  rate(now: number): number {
    if (this.state !== 'running') {
      const secs = (this.finishedAt - this.startedAt) / 1000;
      return secs > 0 ? this.bytesDone / secs : 0;
    }
    const first = this.samples[0];
    const secs = (now - first.t) / 1000;
    return secs > 0 ? Math.max(0, this.bytesDone - first.bytes) / secs : 0;
  }

  view(now: number): JobView {
    const rate = this.rate(now);
    const end = this.state === 'running' ? now : this.finishedAt;
    const v: JobView = {
      id: this.id,
      kind: this.kind,
      state: this.state,
      bytesDone: this.bytesDone,
      totalBytes: this.totalBytes,
      bytesPerSecond: Math.round(rate),
      startedAt: new Date(this.startedAt).toISOString(),
      elapsedSeconds: Math.round((end - this.startedAt) / 100) / 10,
    };
    if (this.opts.vid !== undefined) v.vid = this.opts.vid;
    if (this.opts.collection) v.collection = this.opts.collection;
    if (this.opts.detail) v.detail = this.opts.detail;
    if (this.totalBytes > 0) {
      v.percent = Math.min(100, Math.floor((this.bytesDone / this.totalBytes) * 1000) / 10);
      if (this.state === 'running' && rate > 0) v.etaSeconds = Math.ceil(Math.max(0, this.totalBytes - this.bytesDone) / rate);
    }
    if (this.state !== 'running') v.finishedAt = new Date(this.finishedAt).toISOString();
    if (this.error !== undefined) v.error = this.error;
    return v;
  }
}

export class JobRegistry {
  private nextId = 1;
  private readonly running = new Map<number, Job>();
  private readonly finished: Job[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly logIntervalMs: number;
  private readonly keepFinished: number;
  readonly now: () => number;

  constructor(
    private readonly logger: Logger,
    opts: JobRegistryOptions = {},
  ) {
    this.logIntervalMs = opts.logIntervalMs ?? 5000;
    this.keepFinished = opts.keepFinished ?? 20;
    this.now = opts.now ?? Date.now;
  }

  start(kind: JobKind, opts: JobStart = {}): JobHandle {
    const job = new Job(this.nextId++, kind, opts, this.now(), this);
    this.running.set(job.id, job);
    this.logger.info({ job: job.id, kind, vid: opts.vid, totalBytes: job.totalBytes || undefined }, 'job started');
    if (!this.timer && this.logIntervalMs > 0) {
      this.timer = setInterval(() => this.logProgress(), this.logIntervalMs);
      // Progress lines must never keep a stopping process alive.
      this.timer.unref();
    }
    return job;
  }

  /** Runs `fn` as a job: finished when it resolves, failed (and rethrown) when it throws. */
  async run<T>(kind: JobKind, opts: JobStart, fn: (job: JobHandle) => Promise<T>): Promise<T> {
    const job = this.start(kind, opts);
    try {
      const result = await fn(job);
      job.finish();
      return result;
    } catch (e) {
      job.fail(e);
      throw e;
    }
  }

  /** Running jobs (oldest first) and the most recently ended ones (newest first). */
  list(): { running: JobView[]; recent: JobView[] } {
    const now = this.now();
    return {
      running: [...this.running.values()].map((j) => j.view(now)),
      recent: this.finished.map((j) => j.view(now)),
    };
  }

  /** Called by a job when it finishes or fails. */
  ended(job: Job): void {
    job.finishedAt = this.now();
    this.running.delete(job.id);
    this.finished.unshift(job);
    if (this.finished.length > this.keepFinished) this.finished.length = this.keepFinished;
    const v = job.view(job.finishedAt);
    const fields = { job: v.id, kind: v.kind, vid: v.vid, bytes: v.bytesDone, seconds: v.elapsedSeconds, bytesPerSecond: v.bytesPerSecond };
    if (job.state === 'failed') this.logger.warn({ ...fields, err: v.error }, 'job failed');
    else this.logger.info(fields, 'job done');
    if (this.running.size === 0) this.stopTimer();
  }

  private logProgress(): void {
    const now = this.now();
    for (const job of this.running.values()) {
      const v = job.view(now);
      this.logger.info(
        { job: v.id, kind: v.kind, vid: v.vid, done: v.bytesDone, total: v.totalBytes || undefined, percent: v.percent, bytesPerSecond: v.bytesPerSecond, etaSeconds: v.etaSeconds },
        'job progress',
      );
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops the progress timer (shutdown); running jobs stay listed. */
  close(): void {
    this.stopTimer();
  }
}
