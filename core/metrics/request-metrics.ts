// Per-request metrics of the store handlers (weed/server/volume_server_handlers.go
// privateStoreHandler / publicReadOnlyHandler): request_total{type,code}, request_seconds{type}
// and in_flight_requests{type}. A request only bumps numbers in typed arrays (no allocation, no
// label hashing); the prom-client metrics read them when scraped or pushed.
import { Counter, Gauge, type Registry } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.js';

/** Go's request types: the method, or INVALID for one the store handler does not serve. */
export const REQUEST_TYPES = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'INVALID'] as const;
/**
 * Routes that are not the store handler: weed/server/volume_server.go NewVolumeServer registers
 * them on the mux beside it, so Go's request metrics never see them.
 */
export const NOT_STORE_ROUTES: ReadonlySet<string> = new Set([
  '/status',
  '/healthz',
  '/readyz',
  '/ui/index.html',
  '/ui/state.json',
  '/ui/render.js',
  '/ui/app.js',
  '/jobs',
  '/stats/counter',
  '/stats/memory',
  '/stats/disk',
  '/favicon.ico',
  '/seaweedfsstatic/*',
]);

const INVALID = REQUEST_TYPES.length - 1;
/** Status codes are counted below this; anything else (never sent by node) counts as code 0. */
const MAX_STATUS = 600;

function typeIndex(method: string | undefined): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'OPTIONS':
      return 5;
    default:
      return INVALID;
  }
}

export class RequestMetrics {
  /** Requests per (type, code), at type * MAX_STATUS + code. */
  private readonly totals = new Float64Array(REQUEST_TYPES.length * MAX_STATUS);
  private readonly inFlight = new Int32Array(REQUEST_TYPES.length);
  private readonly inFlightSeen = new Uint8Array(REQUEST_TYPES.length);
  private readonly seconds: BucketHistogram;

  /** Registers the three metrics under `prefix` (Go's SeaweedFS_volumeServer_). */
  constructor(registry: Registry, prefix: string, buckets: readonly number[]) {
    const totals = this.totals;
    const inFlight = this.inFlight;
    const inFlightSeen = this.inFlightSeen;
    new Counter({
      name: `${prefix}request_total`,
      help: 'Counter of volume server requests.',
      labelNames: ['type', 'code'],
      registers: [registry],
      // Rebuilt from the running totals on each read, so nothing is lost between reads.
      collect(this: Counter<'type' | 'code'>) {
        this.reset();
        for (let i = 0; i < totals.length; i++) {
          if (totals[i] > 0) this.inc({ type: REQUEST_TYPES[Math.floor(i / MAX_STATUS)], code: String(i % MAX_STATUS) }, totals[i]);
        }
      },
    });
    this.seconds = new BucketHistogram(
      `${prefix}request_seconds`,
      'Bucketed histogram of volume server request processing time.',
      buckets,
      'type',
      REQUEST_TYPES,
      registry,
    );
    new Gauge({
      name: `${prefix}in_flight_requests`,
      help: 'Current number of in-flight requests being handled by volume server.',
      labelNames: ['type'],
      registers: [registry],
      collect(this: Gauge<'type'>) {
        for (let t = 0; t < REQUEST_TYPES.length; t++) if (inFlightSeen[t]) this.set({ type: REQUEST_TYPES[t] }, inFlight[t]);
      },
    });
  }

  /** A store request answered with `status` after `seconds`. */
  done(method: string | undefined, status: number, seconds: number): void {
    const t = typeIndex(method);
    const code = status > 0 && status < MAX_STATUS ? status : 0;
    this.totals[t * MAX_STATUS + code]++;
    this.seconds.observe(t, seconds);
  }

  started(method: string | undefined): void {
    const t = typeIndex(method);
    this.inFlight[t]++;
    this.inFlightSeen[t] = 1;
  }

  finished(method: string | undefined): void {
    this.inFlight[typeIndex(method)]--;
  }
}
