// A worker fast path for the HTTP worker pool's tests (test/unit/core/http-worker-pool.test.ts),
// loaded by real worker threads: `/call` asks the main thread, `/exit` ends its thread (as a
// crash would), everything else is forwarded.
import type { WorkerFastPath, WorkerFastPathContext } from '../../core/http/workers/protocol.js';

export function createWorkerFastPath(ctx: WorkerFastPathContext): WorkerFastPath {
  return (req, _res, take) => {
    if (req.url === '/exit') process.exit(3);
    if (req.url !== '/call') return false;
    const x = take();
    ctx.call('echo', req.headers['x-say'] ?? '').then(
      (said) => {
        const body = Buffer.from(String(said));
        x.send(200, ['Content-Length', String(body.length)], body);
      },
      () => x.forward(),
    );
    return true;
  };
}
