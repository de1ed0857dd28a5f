// The -metricsPort listener: Prometheus text at /metrics on a server of its own, apart from the
// admin and public listeners (weed/stats/metrics.go StartMetricsServer). Every other path is 404,
// as on Go's bare mux.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { VolumeServerMetrics } from './volume-server-metrics.js';

export class MetricsListener {
  private server: Server | undefined;

  constructor(
    private readonly metrics: VolumeServerMetrics,
    private readonly logger: Logger,
  ) {}

  /** Binds host:port; rejects when the port cannot be bound (Go exits then too). */
  async listen(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?', 1)[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
        res.end('404 page not found\n');
        return;
      }
      this.metrics.text().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': this.metrics.contentType });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (err: unknown) => {
          this.logger.error({ err }, 'metrics collection failed');
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end(`An error has occurred while serving metrics:\n\n${(err as Error).message}\n`);
        },
      );
    });
    // Scrapers send small GETs: a slow or idle client must not hold a socket for long.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err }, 'metrics listener error'));
    this.server = server;
    this.metrics.enableDefaultMetrics();
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
