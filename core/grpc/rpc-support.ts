// What every family's RPC handlers share: Go's access checks and server-stream writing with
// backpressure. Lives in core so plugins never copy it or import each other.
import type * as grpc from '@grpc/grpc-js';
import type { Cradle } from '../container.js';
import { vsError } from '../errors.js';
import type { Msg } from './handler.js';

export interface Checks {
  /** Go's checkGrpcAdminAuth: the whitelist (PERMISSION_DENIED `not authorized: <ip>`). */
  admin(call: Msg): void;
  /** Go's CheckMaintenanceMode: `volume server <id> is in maintenance mode`. */
  notInMaintenance(): void;
}

export function checks(cradle: Pick<Cradle, 'guard' | 'serverState' | 'config'>): Checks {
  const { guard, serverState, config } = cradle;
  return {
    admin: (call) => guard.checkPeer(call.getPeer()),
    notInMaintenance: () => {
      if (serverState.maintenance) throw vsError('VS_ERR_MAINTENANCE_MODE', config.id);
    },
  };
}

/** A plain (UNKNOWN) gRPC error carrying Go's text. */
export function plain(text: string) {
  return vsError('VS_ERR_PLAIN', text);
}

/** Writes one message of a server stream, waiting for the transport to drain when it is full. */
export function send(call: grpc.ServerWritableStream<Msg, Msg>, msg: Msg): Promise<void> {
  return new Promise((resolve, reject) => {
    if (call.cancelled) {
      reject(plain('context canceled'));
      return;
    }
    if (call.write(msg)) {
      resolve();
      return;
    }
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      if (call.cancelled) reject(plain('context canceled'));
      else resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}

// Numeric request fields as @grpc/proto-loader hands them (longs as decimal strings): one reading
// for every family, so a garbage value means the same everywhere (0, as Go's zero value).

/** A uint32 field. */
export function u32(raw: unknown): number {
  return Number(raw ?? 0) >>> 0;
}

/** An int64 field as a bigint; 0n when absent or not an integer. */
export function i64(raw: unknown): bigint {
  if (raw === undefined || raw === null || raw === '') return 0n;
  try {
    return BigInt(raw as string | number);
  } catch {
    return 0n;
  }
}

/** A uint64 field as a bigint; 0n when absent, negative or not an integer. */
export function u64(raw: unknown): bigint {
  const v = i64(raw);
  return v < 0n ? 0n : v;
}
