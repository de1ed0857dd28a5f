// gRPC handlers of the scrub-query family: ScrubVolume, ScrubEcVolume and Query.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler } from '../../../core/grpc/handler.js';
import { queryRpcs } from './query.js';
import { scrubEcVolumeRpcs } from './scrub-ec-volume.js';
import { scrubVolumeRpcs } from './scrub-volume.js';

export function scrubQueryRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  return { ...scrubVolumeRpcs(cradle), ...scrubEcVolumeRpcs(cradle), ...queryRpcs(cradle) };
}
