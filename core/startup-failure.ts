// One clear line for the mistakes a newcomer makes at start: a port already taken, a data
// directory that cannot be created or written. Anything else keeps its own message.
import type { ServerConfig } from '../config/types.js';

interface ErrnoLike {
  code?: string;
  path?: string;
  port?: number;
  address?: string;
  message?: string;
}

export function startupFailure(e: unknown, config: Pick<ServerConfig, 'port' | 'dirs'>): { fields: Record<string, unknown>; message: string } {
  const err = (e ?? {}) as ErrnoLike;
  const text = String(err.message ?? e);
  if (err.code === 'EADDRINUSE' || /EADDRINUSE/.test(text)) {
    // fastify's error carries the port; grpc-js names it only in its text ("…:18080: bind EADDRINUSE").
    const named = [...text.matchAll(/:(\d{1,5})\b/g)].map((m) => Number(m[1]));
    const port = err.port ?? named[named.length - 1] ?? config.port;
    return {
      fields: { port, address: err.address, err: text },
      message: `port ${port} is already in use: stop the other server on it, or choose other ports with -port (gRPC is -port.grpc, default port+10000)`,
    };
  }
  const fsCodes = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOENT', 'ENOSPC']);
  if (err.code && fsCodes.has(err.code) && err.path) {
    const dir = config.dirs.find((d) => err.path!.startsWith(d)) ?? err.path;
    return {
      fields: { dir, code: err.code, err: text },
      message: `data directory ${dir} is not writable (${err.code}): create it with write permission for this user, or pass another -dir`,
    };
  }
  return { fields: { err: text }, message: 'failed to start' };
}
