// VolumeTierMoveDatToRemote and VolumeTierMoveDatFromRemote (Go: weed/server/
// volume_grpc_tier_upload.go, volume_grpc_tier_download.go): the checks in Go's order and with
// Go's texts. The transfer itself needs a backend the master announced; until announcements are
// taken (TierBackends.load), every backend is unknown and the request ends at that check.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { checks, plain } from '../../../core/grpc/rpc-support.js';
import { vsError } from '../../../core/errors.js';
import { backendNameToTypeId, type TierBackends } from '../backends.js';
import { goList, tierVolume, u32 } from './common.js';

export function tierMoveRpcs(cradle: Cradle, backends: TierBackends): Record<string, GrpcHandler> {
  const { store } = cradle;
  const check = checks(cradle);
  return {
    VolumeTierMoveDatToRemote: async (call: Msg) => {
      check.admin(call);
      check.notInMaintenance();
      const req = call.request;
      const v = tierVolume(store, u32(req.volume_id), String(req.collection ?? ''));
      // a volume already served from a remote tier: nothing to do (Go returns nil)
      if (v.volumeInfo.files.length > 0) return;
      const name = String(req.destination_backend_name ?? '');
      const backend = backends.get(name);
      if (!backend) throw plain(`destination ${name} not found, supported: ${goList(backends.names())}`);
      const { type, id } = backendNameToTypeId(name);
      if (v.volumeInfo.files.some((f) => f.backendType === type && f.backendId === id)) {
        throw plain(`destination ${name} already exists`);
      }
      throw vsError('VS_ERR_NOT_IMPLEMENTED', 'VolumeTierMoveDatToRemote data transfer', 'tiering');
    },

    VolumeTierMoveDatFromRemote: async (call: Msg) => {
      check.admin(call);
      const req = call.request;
      const volumeId = u32(req.volume_id);
      const v = tierVolume(store, volumeId, String(req.collection ?? ''));
      const remote = v.volumeInfo.files[0];
      const storageName = remote && remote.backendType && remote.backendId ? `${remote.backendType}.${remote.backendId}` : '';
      if (!storageName || !remote.key) throw plain(`volume ${volumeId} is already on local disk`);
      const backend = backends.get(storageName);
      if (!backend) throw plain(`remote storage ${storageName} not found from supported: ${goList(backends.names())}`);
      throw vsError('VS_ERR_NOT_IMPLEMENTED', 'VolumeTierMoveDatFromRemote data transfer', 'tiering');
    },
  };
}
