// ScrubEcVolume (Go: weed/server/volume_grpc_scrub.go): the request checks and the volume
// selection. Which EC volumes are mounted comes from the families' contributions (the ec family
// reports its shards there); verifying an EC volume's shards belongs to the ec family and is not
// built yet, so a mounted EC volume answers UNIMPLEMENTED instead of a made-up result.
import type { Cradle } from '../../../core/container.js';
import { vsError } from '../../../core/errors.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { checks, plain } from '../../../core/grpc/rpc-support.js';
import { modeName, modeNumber } from './scrub-mode.js';

export function scrubEcVolumeRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { contributions, metrics } = cradle;
  const { admin } = checks(cradle);
  return {
    ScrubEcVolume: async (call: Msg) => {
      admin(call);
      const r = call.request;
      const mode = modeNumber(r.mode);
      if (r.force_deleted_needles_check && mode !== 2 && mode !== 5) {
        throw plain('deleted needle checks are only supported for FULL and READS scrubs');
      }
      // Every mounted EC volume once, in location order, as Go's de-duplicated listing.
      const mounted: number[] = [];
      for (const s of contributions.ecShards()) if (!mounted.includes(s.id >>> 0)) mounted.push(s.id >>> 0);
      const explicit = (r.volume_ids ?? []).length > 0;
      const vids: number[] = explicit ? (r.volume_ids as number[]).map((x) => x >>> 0) : mounted;
      for (const vid of vids) {
        if (!mounted.includes(vid)) {
          if (explicit) throw plain(`EC volume id ${vid} not found`);
          continue;
        }
        throw vsError('VS_ERR_NOT_IMPLEMENTED', 'ScrubEcVolume of a mounted EC volume', 'scrub-query');
      }
      metrics.scrubLastTimeSeconds.set({ mode: modeName(mode) }, Math.floor(Date.now() / 1000));
      return { total_volumes: '0', total_files: '0', broken_volume_ids: [], broken_shard_infos: [], details: [] };
    },
  };
}
