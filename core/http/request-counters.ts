// Request counters for /stats/counter, kept as plain integers so counting costs nothing measurable,
// plus the Prometheus request metrics of the store handlers.
import type { RequestMetrics } from '../metrics/request-metrics.js';

export class RequestCounters {
  readonly startedAt = new Date();
  requests = 0;
  readRequests = 0;
  writeRequests = 0;
  deleteRequests = 0;
  otherRequests = 0;

  constructor(readonly metrics?: RequestMetrics) {}

  count(method: string): void {
    this.requests++;
    if (method === 'GET' || method === 'HEAD') this.readRequests++;
    else if (method === 'POST' || method === 'PUT') this.writeRequests++;
    else if (method === 'DELETE') this.deleteRequests++;
    else this.otherRequests++;
  }

  snapshot(): Record<string, number | string> {
    return {
      StartedAt: this.startedAt.toISOString(),
      Requests: this.requests,
      ReadRequests: this.readRequests,
      WriteRequests: this.writeRequests,
      DeleteRequests: this.deleteRequests,
      OtherRequests: this.otherRequests,
    };
  }
}
