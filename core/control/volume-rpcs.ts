// Admin volume lifecycle RPCs. They land with the storage engine (issue 3); until then they answer
// UNIMPLEMENTED honestly rather than pretending to succeed.
import { vsError } from '../errors.js';
import type { GrpcHandler } from '../grpc/handler.js';

const PENDING = [
  'AllocateVolume',
  'VolumeMount',
  'VolumeUnmount',
  'VolumeDelete',
  'VolumeMarkReadonly',
  'VolumeMarkWritable',
  'VolumeConfigure',
  'VolumeStatus',
  'DeleteCollection',
];

export function volumeRpcs(): Record<string, GrpcHandler> {
  return Object.fromEntries(
    PENDING.map((rpc) => [
      rpc,
      async () => {
        throw vsError('VS_ERR_NOT_IMPLEMENTED', rpc, 'core');
      },
    ]),
  );
}
