// ReadVolumeFileStatus: the sizes, times, counters and settings of a volume's files, the first
// thing a VolumeCopy destination asks its source (Go's ReadVolumeFileStatus).
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import type { VolumeInfo } from '../../../core/storage/volume-info.js';
import { plain, volumeIdOf } from './common.js';

/** volume_server_pb.VolumeInfo of the loaded .vif (snake_case, 64-bit values as strings). */
export function volumeInfoMessage(vi: VolumeInfo): Msg {
  return {
    files: vi.files.map((f) => ({
      backend_type: f.backendType,
      backend_id: f.backendId,
      key: f.key,
      offset: String(f.offset),
      file_size: String(f.fileSize),
      modified_time: String(f.modifiedTime),
      extension: f.extension,
    })),
    version: vi.version,
    replication: vi.replication,
    bytes_offset: vi.bytesOffset,
    dat_file_size: String(vi.datFileSize),
    expire_at_sec: String(vi.expireAtSec),
    read_only: vi.readOnly,
    ec_shard_config: vi.ecShardConfig
      ? {
          data_shards: vi.ecShardConfig.dataShards,
          parity_shards: vi.ecShardConfig.parityShards,
          encode_ts_ns: vi.ecShardConfig.encodeTsNs.toString(),
        }
      : null,
    read_only_can_delete: vi.readOnlyCanDelete,
  };
}

export function readVolumeFileStatusRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  return {
    ReadVolumeFileStatus: async (call: Msg) => {
      const id = volumeIdOf(call.request.volume_id);
      const v = store.findVolume(id);
      if (!v) throw plain(`not found volume id ${id}`);
      const mtime = v.modifiedAtSecond();
      return {
        volume_id: id,
        idx_file_timestamp_seconds: String(mtime),
        idx_file_size: String(v.idxFileSize()),
        dat_file_timestamp_seconds: String(mtime),
        dat_file_size: String(v.datFileSize()),
        file_count: String(v.fileCount()),
        compaction_revision: v.superBlock.compactionRevision,
        collection: v.collection,
        disk_type: v.diskType,
        volume_info: volumeInfoMessage(v.volumeInfo),
        version: v.version,
      };
    },
  };
}
