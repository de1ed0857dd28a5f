// gRPC handlers of the tiering family: moving a volume's .dat to and from a remote tier, and
// fetching a remote object range into a needle. One file per concern; this one wires them.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler } from '../../../core/grpc/handler.js';
import type { TierBackends } from '../backends.js';
import { fetchAndWriteRpcs } from './fetch-and-write.js';
import { tierMoveRpcs } from './tier-move.js';

export function tieringRpcs(cradle: Cradle, backends: TierBackends): Record<string, GrpcHandler> {
  return { ...tierMoveRpcs(cradle, backends), ...fetchAndWriteRpcs(cradle) };
}
