// gRPC handlers of the ec family, one file per concern; this one wires them.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler } from '../../../core/grpc/handler.js';
import { copyRpcs } from './copy.js';
import { deleteRpcs } from './delete.js';
import { generateRpcs } from './generate.js';
import { mountRpcs } from './mount.js';
import { readRpcs } from './read.js';
import { rebuildRpcs } from './rebuild.js';
import { toVolumeRpcs } from './to-volume.js';

export function ecRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  return {
    ...generateRpcs(cradle),
    ...mountRpcs(cradle),
    ...readRpcs(cradle),
    ...deleteRpcs(cradle),
    ...rebuildRpcs(cradle),
    ...toVolumeRpcs(cradle),
    ...copyRpcs(cradle),
  };
}
