// VolumeSyncStatus: where a volume's files end and which compaction generation they belong to,
// what a follower compares before an incremental copy (Go's Volume.GetVolumeSyncStatus).
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { plain, volumeIdOf } from './common.js';

export function syncStatusRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  return {
    VolumeSyncStatus: async (call: Msg) => {
      const id = volumeIdOf(call.request.volume_id);
      const v = store.findVolume(id);
      if (!v) throw plain(`not found volume id ${id}`);
      return {
        volume_id: v.id,
        collection: v.collection,
        replication: v.replicaPlacement.toString(),
        ttl: v.ttl.toString(),
        tail_offset: String(v.datFileSize()),
        compact_revision: v.superBlock.compactionRevision,
        idx_file_size: String(v.idxFileSize()),
        version: v.version,
      };
    },
  };
}
