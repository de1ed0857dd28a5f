// Shared bits of the read-write gRPC handlers: Go's access checks and stream writing.
import type * as grpc from '@grpc/grpc-js';
import type { Cradle } from '../../../core/container.js';
import { vsError } from '../../../core/errors.js';
import type { Msg } from '../../../core/grpc/handler.js';

export interface Checks {
  /** Go's checkGrpcAdminAuth: the whitelist (PERMISSION_DENIED `not authorized: <ip>`). */
  admin(call: Msg): void;
  /** Go's CheckMaintenanceMode: `volume server <id> is in maintenance mode`. */
  notInMaintenance(): void;
}

export function checks(cradle: Cradle): Checks {
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

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Writes one message of a server stream, waiting for the transport to drain when it is full. */
export function send(call: grpc.ServerWritableStream<Msg, Msg>, msg: Msg): Promise<void> {
  return new Promise((resolve, reject) => {
    if (call.cancelled) {
      reject(vsError('VS_ERR_PLAIN', 'context canceled'));
      return;
    }
    if (call.write(msg)) {
      resolve();
      return;
    }
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      if (call.cancelled) reject(vsError('VS_ERR_PLAIN', 'context canceled'));
      else resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}
