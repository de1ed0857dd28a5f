// Pushes the metrics to the Prometheus push gateway the master names (master -metrics.address,
// -metrics.intervalSeconds), as weed/stats/metrics.go LoopPushingMetric does: a PUT of everything
// to <gateway>/metrics/job/volumeServer/instance/<ip:port> every interval. Each push has a bounded
// deadline and the next one starts only after it ended; failures are logged once per distinct
// error, not once per interval.
import type { Logger } from 'pino';
import type { VolumeServerMetrics } from './volume-server-metrics.js';

export const PUSH_JOB = 'volumeServer';
const MAX_PUSH_TIMEOUT_MS = 10_000;

/** Go's push.encodeComponent: QueryEscape, or base64url with an `@base64` name suffix when it has a '/'. */
function pathPair(name: string, value: string): string {
  if (value === '') return `${name}@base64/=`;
  if (value.includes('/')) return `${name}@base64/${Buffer.from(value).toString('base64url')}`;
  const escaped = encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
  return `${name}/${escaped}`;
}

/** The push URL for a gateway address as the master announces it (host:port or a full URL). */
export function pushUrl(address: string, job: string, instance: string): URL {
  let base = address.includes('://') ? address : `http://${address}`;
  while (base.endsWith('/')) base = base.slice(0, -1);
  const url = new URL(`${base}/metrics/${pathPair('job', job)}/${pathPair('instance', instance)}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported push gateway scheme ${url.protocol}`);
  return url;
}

export class MetricsPusher {
  private address = '';
  private intervalSeconds = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: AbortController | undefined;
  private generation = 0;
  private lastError = '';

  constructor(
    private readonly metrics: VolumeServerMetrics,
    private readonly logger: Logger,
    /** Go's grouping label: the server's ip:port. */
    private readonly instance: string,
  ) {}

  /**
   * What the master announced. An empty address or a zero interval turns pushing off; the same
   * values again change nothing.
   */
  configure(address: string, intervalSeconds: number): void {
    const seconds = Number.isFinite(intervalSeconds) && intervalSeconds > 0 ? Math.floor(intervalSeconds) : 0;
    if (address === this.address && seconds === this.intervalSeconds) return;
    this.stop();
    this.address = address;
    this.intervalSeconds = seconds;
    if (!address || seconds === 0) return;
    let url: URL;
    try {
      url = pushUrl(address, PUSH_JOB, this.instance);
    } catch (err) {
      this.logger.warn({ address, err: (err as Error).message }, 'metrics push gateway address is not usable; not pushing');
      return;
    }
    this.logger.info({ job: PUSH_JOB, address, intervalSeconds: seconds }, 'pushing metrics to the gateway');
    this.metrics.enableDefaultMetrics();
    const generation = ++this.generation;
    const loop = async () => {
      await this.pushOnce(url, Math.min(seconds * 1000, MAX_PUSH_TIMEOUT_MS));
      if (generation !== this.generation) return;
      this.timer = setTimeout(loop, seconds * 1000);
      this.timer.unref();
    };
    void loop();
  }

  /** Stops pushing and aborts a push under way. */
  stop(): void {
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight?.abort();
    this.inFlight = undefined;
    this.address = '';
    this.intervalSeconds = 0;
  }

  private async pushOnce(url: URL, timeoutMs: number): Promise<void> {
    const abort = new AbortController();
    this.inFlight = abort;
    const deadline = setTimeout(() => abort.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    try {
      const body = await this.metrics.text();
      const res = await fetch(url, {
        method: 'PUT',
        headers: { 'Content-Type': this.metrics.contentType },
        body,
        signal: abort.signal,
        redirect: 'error',
      });
      // The answer's body is of no use: drop it unread rather than buffer whatever a gateway sends.
      await res.body?.cancel();
      // A push gateway answers 200 or 202 depending on version (Go's push client accepts both).
      if (res.status !== 200 && res.status !== 202) throw new Error(`unexpected status code ${res.status}`);
      if (this.lastError) this.logger.info({ gateway: url.host }, 'metrics push recovered');
      this.lastError = '';
    } catch (err) {
      if (abort.signal.aborted && this.inFlight !== abort) return; // stopped on purpose
      const e = err as Error & { cause?: Error };
      const reason = abort.signal.aborted ? String((abort.signal.reason as Error)?.message ?? 'aborted') : e.cause?.message ?? e.message;
      if (reason !== this.lastError) {
        this.lastError = reason;
        this.logger.warn({ gateway: url.host, err: reason }, 'could not push metrics to prometheus push gateway');
      }
    } finally {
      clearTimeout(deadline);
      if (this.inFlight === abort) this.inFlight = undefined;
    }
  }
}
