// gRPC handlers of the read-write family. (Being built.)
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler } from '../../../core/grpc/handler.js';

export function needleRpcs(_cradle: Cradle): Record<string, GrpcHandler> {
  return {};
}
