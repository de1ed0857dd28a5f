// Per-request metrics of the store handlers (weed/server/volume_server_handlers.go
// privateStoreHandler / publicReadOnlyHandler): request_total{type,code}, request_seconds{type}
// and in_flight_requests{type}. Label children are bound once per (type, code) and reused, so a
// request costs prom-client's own increment and nothing more.
import type { Counter, Gauge, Histogram } from 'prom-client';

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
  '/stats/counter',
  '/stats/memory',
  '/stats/disk',
  '/favicon.ico',
  '/seaweedfsstatic/*',
]);

const INVALID = REQUEST_TYPES.length - 1;
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

interface TypeChildren {
  seconds: Histogram.Internal<'type'>;
  inFlight: Gauge.Internal<'type'>;
  /** Indexed by status code, bound on first use. */
  codes: (Counter.Internal | undefined)[];
}

export class RequestMetrics {
  private readonly byType: TypeChildren[];

  constructor(
    private readonly total: Counter<'type' | 'code'>,
    seconds: Histogram<'type'>,
    inFlight: Gauge<'type'>,
  ) {
    this.byType = REQUEST_TYPES.map((t) => ({ seconds: seconds.labels(t), inFlight: inFlight.labels(t), codes: [] }));
  }

  /** A store request answered with `status` after `seconds`. */
  done(method: string | undefined, status: number, seconds: number): void {
    const i = typeIndex(method);
    const t = this.byType[i];
    const code = status > 0 && status < MAX_STATUS ? status : 0;
    let c = t.codes[code];
    if (c === undefined) t.codes[code] = c = this.total.labels(REQUEST_TYPES[i], String(code));
    c.inc();
    t.seconds.observe(seconds);
  }

  started(method: string | undefined): void {
    this.byType[typeIndex(method)].inFlight.inc();
  }

  finished(method: string | undefined): void {
    this.byType[typeIndex(method)].inFlight.dec();
  }
}
