// VolumeNeedleStatus: a needle's header fields as read from its volume, or from its EC volume when
// no normal volume of that id is here (Go's weed/server/volume_grpc_admin.go VolumeNeedleStatus).
import type { Cradle } from '../../../core/container.js';
import { vsError } from '../../../core/errors.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { legacyMaskedCrc } from '../../../core/storage/crc32c.js';
import { hasTtl, type Needle } from '../../../core/storage/needle.js';
import { readEcNeedle } from '../ec-read.js';
import { checks, plain } from './common.js';

export function needleStatusRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  const { admin } = checks(cradle);
  return {
    VolumeNeedleStatus: async (call: Msg) => {
      admin(call);
      const r = call.request;
      const id = r.volume_id >>> 0;
      const needleId = BigInt(r.needle_id);
      const v = store.findVolume(id);
      // No normal volume: the EC volume of that id (Go's ReadEcShardNeedle), else Go's text for neither.
      const ec = v ? undefined : store.contributions.ecVolume(id);
      if (!v && !ec) throw plain(`volume not found ${id}`);
      let n: Needle;
      try {
        n = v ? await v.readNeedle(needleId) : (await readEcNeedle(ec!, needleId)).needle;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'NEEDLE_NOT_FOUND' || code === 'NEEDLE_EXPIRED') {
          throw vsError('VS_ERR_NOT_FOUND', `needle not found ${needleId}`);
        }
        throw e;
      }
      return {
        needle_id: n.id.toString(),
        cookie: n.cookie >>> 0,
        size: n.size >>> 0,
        last_modified: n.lastModified,
        crc: legacyMaskedCrc(n.checksum >>> 0),
        ttl: hasTtl(n) ? n.ttl.toString() : '',
      };
    },
  };
}
