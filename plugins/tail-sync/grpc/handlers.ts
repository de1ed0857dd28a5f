// gRPC handlers of the tail-sync family: volume file status and sync status, file copy both ways
// (CopyFile, ReceiveFile), whole-volume copy, incremental copy, tailing (sender and receiver) and
// index consolidation. One file per concern; this one wires them.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler } from '../../../core/grpc/handler.js';
import { consolidateIndexRpcs } from './consolidate-index.js';
import { copyFileRpcs } from './copy-file.js';
import { incrementalCopyRpcs } from './incremental-copy.js';
import { readVolumeFileStatusRpcs } from './read-volume-file-status.js';
import { receiveFileRpcs } from './receive-file.js';
import { syncStatusRpcs } from './sync-status.js';
import { tailReceiverRpcs } from './tail-receiver.js';
import { tailSenderRpcs } from './tail-sender.js';
import { volumeCopyRpcs } from './volume-copy.js';

export function tailSyncRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  return {
    ...readVolumeFileStatusRpcs(cradle),
    ...syncStatusRpcs(cradle),
    ...copyFileRpcs(cradle),
    ...receiveFileRpcs(cradle),
    ...volumeCopyRpcs(cradle),
    ...incrementalCopyRpcs(cradle),
    ...tailSenderRpcs(cradle),
    ...tailReceiverRpcs(cradle),
    ...consolidateIndexRpcs(cradle),
  };
}
