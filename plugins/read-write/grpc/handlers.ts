// gRPC handlers of the read-write family: raw needle blobs and metadata, needle status, batch
// delete, the ReadAllNeedles stream and vacuum. One file per concern; this one wires them.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler } from '../../../core/grpc/handler.js';
import { batchDeleteRpcs } from './batch-delete.js';
import { needleBlobRpcs } from './needle-blob.js';
import { needleMetaRpcs } from './needle-meta.js';
import { needleStatusRpcs } from './needle-status.js';
import { readAllRpcs } from './read-all.js';
import { vacuumRpcs } from './vacuum.js';

export function needleRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  return {
    ...needleBlobRpcs(cradle),
    ...needleMetaRpcs(cradle),
    ...needleStatusRpcs(cradle),
    ...batchDeleteRpcs(cradle),
    ...readAllRpcs(cradle),
    ...vacuumRpcs(cradle),
  };
}
