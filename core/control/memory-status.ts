import { freemem, totalmem } from 'node:os';

/** volume_server_pb.MemStatus. */
export interface MemStatus {
  goroutines: number;
  all: number;
  used: number;
  free: number;
  self: number;
  heap: number;
  stack: number;
}

export function memoryStatus(): MemStatus {
  const mem = process.memoryUsage();
  const all = totalmem();
  const free = freemem();
  return {
    // Node has no goroutines; the closest honest figure of concurrent activity is the number of
    // active libuv resources (sockets, timers, file handles) keeping the event loop busy, plus one
    // for the event loop itself, so it is always positive.
    goroutines: process.getActiveResourcesInfo().length + 1,
    all,
    used: all - free,
    free,
    self: mem.rss,
    heap: mem.heapUsed,
    stack: 0,
  };
}
