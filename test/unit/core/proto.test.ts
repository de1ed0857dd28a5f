import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type * as grpc from '@grpc/grpc-js';
import {
  loadProtos,
  volumeServerService,
  masterClientConstructor,
  filerClientConstructor,
  PROTO_FILES,
} from '../../../core/grpc/proto-loader.js';
import { PROTO_DIR } from '../../../core/paths.js';

// Expected values below are transcribed from the upstream volume_server.proto / master.proto
// (weed/pb/*.proto of the pinned SeaweedFS module), field by field.

type Kind = 'unary' | 'server' | 'client' | 'bidi';
type Rpc = [name: string, request: string, response: string, kind: Kind];

const VOLUME_SERVER_RPCS: Rpc[] = [
  ['BatchDelete', 'BatchDeleteRequest', 'BatchDeleteResponse', 'unary'],
  ['VacuumVolumeCheck', 'VacuumVolumeCheckRequest', 'VacuumVolumeCheckResponse', 'unary'],
  ['VacuumVolumeCompact', 'VacuumVolumeCompactRequest', 'VacuumVolumeCompactResponse', 'server'],
  ['VacuumVolumeCommit', 'VacuumVolumeCommitRequest', 'VacuumVolumeCommitResponse', 'unary'],
  ['VacuumVolumeCleanup', 'VacuumVolumeCleanupRequest', 'VacuumVolumeCleanupResponse', 'unary'],
  ['DeleteCollection', 'DeleteCollectionRequest', 'DeleteCollectionResponse', 'unary'],
  ['AllocateVolume', 'AllocateVolumeRequest', 'AllocateVolumeResponse', 'unary'],
  ['VolumeSyncStatus', 'VolumeSyncStatusRequest', 'VolumeSyncStatusResponse', 'unary'],
  ['VolumeIncrementalCopy', 'VolumeIncrementalCopyRequest', 'VolumeIncrementalCopyResponse', 'server'],
  ['VolumeMount', 'VolumeMountRequest', 'VolumeMountResponse', 'unary'],
  ['VolumeUnmount', 'VolumeUnmountRequest', 'VolumeUnmountResponse', 'unary'],
  ['VolumeConsolidateIndex', 'VolumeConsolidateIndexRequest', 'VolumeConsolidateIndexResponse', 'unary'],
  ['VolumeDelete', 'VolumeDeleteRequest', 'VolumeDeleteResponse', 'unary'],
  ['VolumeMarkReadonly', 'VolumeMarkReadonlyRequest', 'VolumeMarkReadonlyResponse', 'unary'],
  ['VolumeMarkWritable', 'VolumeMarkWritableRequest', 'VolumeMarkWritableResponse', 'unary'],
  ['VolumeConfigure', 'VolumeConfigureRequest', 'VolumeConfigureResponse', 'unary'],
  ['VolumeStatus', 'VolumeStatusRequest', 'VolumeStatusResponse', 'unary'],
  ['GetState', 'GetStateRequest', 'GetStateResponse', 'unary'],
  ['SetState', 'SetStateRequest', 'SetStateResponse', 'unary'],
  ['VolumeCopy', 'VolumeCopyRequest', 'VolumeCopyResponse', 'server'],
  ['ReadVolumeFileStatus', 'ReadVolumeFileStatusRequest', 'ReadVolumeFileStatusResponse', 'unary'],
  ['CopyFile', 'CopyFileRequest', 'CopyFileResponse', 'server'],
  ['ReceiveFile', 'ReceiveFileRequest', 'ReceiveFileResponse', 'client'],
  ['ReadNeedleBlob', 'ReadNeedleBlobRequest', 'ReadNeedleBlobResponse', 'unary'],
  ['ReadNeedleMeta', 'ReadNeedleMetaRequest', 'ReadNeedleMetaResponse', 'unary'],
  ['WriteNeedleBlob', 'WriteNeedleBlobRequest', 'WriteNeedleBlobResponse', 'unary'],
  ['ReadAllNeedles', 'ReadAllNeedlesRequest', 'ReadAllNeedlesResponse', 'server'],
  ['VolumeTailSender', 'VolumeTailSenderRequest', 'VolumeTailSenderResponse', 'server'],
  ['VolumeTailReceiver', 'VolumeTailReceiverRequest', 'VolumeTailReceiverResponse', 'unary'],
  ['VolumeEcShardsGenerate', 'VolumeEcShardsGenerateRequest', 'VolumeEcShardsGenerateResponse', 'unary'],
  ['VolumeEcShardsRebuild', 'VolumeEcShardsRebuildRequest', 'VolumeEcShardsRebuildResponse', 'unary'],
  ['VolumeEcShardsCopy', 'VolumeEcShardsCopyRequest', 'VolumeEcShardsCopyResponse', 'unary'],
  ['VolumeEcShardsDelete', 'VolumeEcShardsDeleteRequest', 'VolumeEcShardsDeleteResponse', 'unary'],
  ['VolumeEcShardsMount', 'VolumeEcShardsMountRequest', 'VolumeEcShardsMountResponse', 'unary'],
  ['VolumeEcShardsUnmount', 'VolumeEcShardsUnmountRequest', 'VolumeEcShardsUnmountResponse', 'unary'],
  ['VolumeEcShardRead', 'VolumeEcShardReadRequest', 'VolumeEcShardReadResponse', 'server'],
  ['VolumeEcBlobDelete', 'VolumeEcBlobDeleteRequest', 'VolumeEcBlobDeleteResponse', 'unary'],
  ['VolumeEcShardsToVolume', 'VolumeEcShardsToVolumeRequest', 'VolumeEcShardsToVolumeResponse', 'unary'],
  ['VolumeEcShardsInfo', 'VolumeEcShardsInfoRequest', 'VolumeEcShardsInfoResponse', 'unary'],
  ['VolumeTierMoveDatToRemote', 'VolumeTierMoveDatToRemoteRequest', 'VolumeTierMoveDatToRemoteResponse', 'server'],
  ['VolumeTierMoveDatFromRemote', 'VolumeTierMoveDatFromRemoteRequest', 'VolumeTierMoveDatFromRemoteResponse', 'server'],
  ['VolumeServerStatus', 'VolumeServerStatusRequest', 'VolumeServerStatusResponse', 'unary'],
  ['VolumeServerLeave', 'VolumeServerLeaveRequest', 'VolumeServerLeaveResponse', 'unary'],
  ['FetchAndWriteNeedle', 'FetchAndWriteNeedleRequest', 'FetchAndWriteNeedleResponse', 'unary'],
  ['ScrubVolume', 'ScrubVolumeRequest', 'ScrubVolumeResponse', 'unary'],
  ['ScrubEcVolume', 'ScrubEcVolumeRequest', 'ScrubEcVolumeResponse', 'unary'],
  ['Query', 'QueryRequest', 'QueriedStripe', 'server'],
  ['VolumeNeedleStatus', 'VolumeNeedleStatusRequest', 'VolumeNeedleStatusResponse', 'unary'],
  ['Ping', 'PingRequest', 'PingResponse', 'unary'],
];

const MASTER_RPCS: Rpc[] = [
  ['SendHeartbeat', 'Heartbeat', 'HeartbeatResponse', 'bidi'],
  ['KeepConnected', 'KeepConnectedRequest', 'KeepConnectedResponse', 'bidi'],
  ['LookupVolume', 'LookupVolumeRequest', 'LookupVolumeResponse', 'unary'],
  ['Assign', 'AssignRequest', 'AssignResponse', 'unary'],
  ['StreamAssign', 'AssignRequest', 'AssignResponse', 'bidi'],
  ['Statistics', 'StatisticsRequest', 'StatisticsResponse', 'unary'],
  ['CollectionList', 'CollectionListRequest', 'CollectionListResponse', 'unary'],
  ['CollectionDelete', 'CollectionDeleteRequest', 'CollectionDeleteResponse', 'unary'],
  ['VolumeList', 'VolumeListRequest', 'VolumeListResponse', 'unary'],
  ['VolumeListStream', 'VolumeListRequest', 'VolumeListStreamResponse', 'server'],
  ['LookupEcVolume', 'LookupEcVolumeRequest', 'LookupEcVolumeResponse', 'unary'],
  ['VacuumVolume', 'VacuumVolumeRequest', 'VacuumVolumeResponse', 'unary'],
  ['DisableVacuum', 'DisableVacuumRequest', 'DisableVacuumResponse', 'unary'],
  ['EnableVacuum', 'EnableVacuumRequest', 'EnableVacuumResponse', 'unary'],
  ['VolumeMarkReadonly', 'VolumeMarkReadonlyRequest', 'VolumeMarkReadonlyResponse', 'unary'],
  ['GetMasterConfiguration', 'GetMasterConfigurationRequest', 'GetMasterConfigurationResponse', 'unary'],
  ['ListClusterNodes', 'ListClusterNodesRequest', 'ListClusterNodesResponse', 'unary'],
  ['LeaseAdminToken', 'LeaseAdminTokenRequest', 'LeaseAdminTokenResponse', 'unary'],
  ['ReleaseAdminToken', 'ReleaseAdminTokenRequest', 'ReleaseAdminTokenResponse', 'unary'],
  ['GetAdminLockStatus', 'GetAdminLockStatusRequest', 'GetAdminLockStatusResponse', 'unary'],
  ['Ping', 'PingRequest', 'PingResponse', 'unary'],
  ['RaftListClusterServers', 'RaftListClusterServersRequest', 'RaftListClusterServersResponse', 'unary'],
  ['RaftAddServer', 'RaftAddServerRequest', 'RaftAddServerResponse', 'unary'],
  ['RaftRemoveServer', 'RaftRemoveServerRequest', 'RaftRemoveServerResponse', 'unary'],
  ['RaftLeadershipTransfer', 'RaftLeadershipTransferRequest', 'RaftLeadershipTransferResponse', 'unary'],
  ['VolumeGrow', 'VolumeGrowRequest', 'VolumeGrowResponse', 'unary'],
  ['CollectionStatistics', 'CollectionStatisticsRequest', 'CollectionStatisticsResponse', 'unary'],
];

// label: s = singular, r = repeated, o = proto3 optional, m = map, 'oneof X' = member of oneof X.
type FieldRow = [name: string, id: number, type: string, label: string];

const MESSAGE_FIELDS: [string, FieldRow[]][] = [
  ['volume_server_pb.VolumeServerState', [
    ['maintenance', 1, 'bool', 's'],
    ['version', 2, 'uint32', 's']]],
  ['volume_server_pb.AllocateVolumeRequest', [
    ['volume_id', 1, 'uint32', 's'],
    ['collection', 2, 'string', 's'],
    ['preallocate', 3, 'int64', 's'],
    ['replication', 4, 'string', 's'],
    ['ttl', 5, 'string', 's'],
    ['memory_map_max_size_mb', 6, 'uint32', 's'],
    ['disk_type', 7, 'string', 's'],
    ['version', 8, 'uint32', 's']]],
  ['volume_server_pb.VolumeServerStatusResponse', [
    ['disk_statuses', 1, 'DiskStatus', 'r'],
    ['memory_status', 2, 'MemStatus', 's'],
    ['version', 3, 'string', 's'],
    ['data_center', 4, 'string', 's'],
    ['rack', 5, 'string', 's'],
    ['state', 6, 'VolumeServerState', 's']]],
  ['volume_server_pb.DiskStatus', [
    ['dir', 1, 'string', 's'],
    ['all', 2, 'uint64', 's'],
    ['used', 3, 'uint64', 's'],
    ['free', 4, 'uint64', 's'],
    ['percent_free', 5, 'float', 's'],
    ['percent_used', 6, 'float', 's'],
    ['disk_type', 7, 'string', 's'],
    ['error', 8, 'string', 's']]],
  ['volume_server_pb.MemStatus', [
    ['goroutines', 1, 'int32', 's'],
    ['all', 2, 'uint64', 's'],
    ['used', 3, 'uint64', 's'],
    ['free', 4, 'uint64', 's'],
    ['self', 5, 'uint64', 's'],
    ['heap', 6, 'uint64', 's'],
    ['stack', 7, 'uint64', 's']]],
  ['volume_server_pb.VolumeInfo', [
    ['files', 1, 'RemoteFile', 'r'],
    ['version', 2, 'uint32', 's'],
    ['replication', 3, 'string', 's'],
    ['bytes_offset', 4, 'uint32', 's'],
    ['dat_file_size', 5, 'int64', 's'],
    ['expire_at_sec', 6, 'uint64', 's'],
    ['read_only', 7, 'bool', 's'],
    ['ec_shard_config', 8, 'EcShardConfig', 's'],
    ['read_only_can_delete', 9, 'bool', 's']]],
  ['volume_server_pb.RemoteFile', [
    ['backend_type', 1, 'string', 's'],
    ['backend_id', 2, 'string', 's'],
    ['key', 3, 'string', 's'],
    ['offset', 4, 'uint64', 's'],
    ['file_size', 5, 'uint64', 's'],
    ['modified_time', 6, 'uint64', 's'],
    ['extension', 7, 'string', 's']]],
  ['volume_server_pb.EcShardConfig', [
    ['data_shards', 1, 'uint32', 's'],
    ['parity_shards', 2, 'uint32', 's'],
    ['encode_ts_ns', 3, 'int64', 's'],
    ['block_size', 4, 'int64', 's']]],
  ['volume_server_pb.ReceiveFileRequest', [
    ['info', 1, 'ReceiveFileInfo', 'oneof data'],
    ['file_content', 2, 'bytes', 'oneof data']]],
  ['volume_server_pb.ReceiveFileInfo', [
    ['volume_id', 1, 'uint32', 's'],
    ['ext', 2, 'string', 's'],
    ['collection', 3, 'string', 's'],
    ['is_ec_volume', 4, 'bool', 's'],
    ['shard_id', 5, 'uint32', 's'],
    ['file_size', 6, 'uint64', 's'],
    ['disk_id', 7, 'uint32', 's'],
    ['disk_type', 12, 'string', 's']]],
  ['volume_server_pb.ReadAllNeedlesResponse', [
    ['volume_id', 1, 'uint32', 's'],
    ['needle_id', 2, 'uint64', 's'],
    ['cookie', 3, 'uint32', 's'],
    ['needle_blob', 5, 'bytes', 's'],
    ['needle_blob_compressed', 6, 'bool', 's'],
    ['last_modified', 7, 'uint64', 's'],
    ['crc', 8, 'uint32', 's'],
    ['name', 9, 'bytes', 's'],
    ['mime', 10, 'bytes', 's']]],
  ['volume_server_pb.VolumeEcShardReadRequest', [
    ['volume_id', 1, 'uint32', 's'],
    ['shard_id', 2, 'uint32', 's'],
    ['offset', 3, 'int64', 's'],
    ['size', 4, 'int64', 's'],
    ['file_key', 5, 'uint64', 's'],
    ['encode_ts_ns', 7, 'int64', 's']]],
  ['volume_server_pb.VolumeEcShardsCopyRequest', [
    ['volume_id', 1, 'uint32', 's'],
    ['collection', 2, 'string', 's'],
    ['shard_ids', 3, 'uint32', 'r'],
    ['copy_ecx_file', 4, 'bool', 's'],
    ['source_data_node', 5, 'string', 's'],
    ['copy_ecj_file', 6, 'bool', 's'],
    ['copy_vif_file', 7, 'bool', 's'],
    ['disk_id', 8, 'uint32', 's'],
    ['copy_ecsum_file', 9, 'bool', 's'],
    ['io_byte_per_second', 10, 'int64', 's']]],
  ['volume_server_pb.VolumeSyncStatusResponse', [
    ['volume_id', 1, 'uint32', 's'],
    ['collection', 2, 'string', 's'],
    ['replication', 4, 'string', 's'],
    ['ttl', 5, 'string', 's'],
    ['tail_offset', 6, 'uint64', 's'],
    ['compact_revision', 7, 'uint32', 's'],
    ['idx_file_size', 8, 'uint64', 's'],
    ['version', 9, 'uint32', 's']]],
  ['volume_server_pb.FetchAndWriteNeedleRequest', [
    ['volume_id', 1, 'uint32', 's'],
    ['needle_id', 2, 'uint64', 's'],
    ['cookie', 3, 'uint32', 's'],
    ['offset', 4, 'int64', 's'],
    ['size', 5, 'int64', 's'],
    ['replicas', 6, 'FetchAndWriteNeedleRequest.Replica', 'r'],
    ['auth', 7, 'string', 's'],
    ['download_concurrency', 8, 'int32', 's'],
    ['remote_conf', 15, 'remote_pb.RemoteConf', 's'],
    ['remote_location', 16, 'remote_pb.RemoteStorageLocation', 's']]],
  ['volume_server_pb.FetchAndWriteNeedleRequest.Replica', [
    ['url', 1, 'string', 's'],
    ['public_url', 2, 'string', 's'],
    ['grpc_port', 3, 'int32', 's']]],
  ['volume_server_pb.CopyFileRequest', [
    ['volume_id', 1, 'uint32', 's'],
    ['ext', 2, 'string', 's'],
    ['compaction_revision', 3, 'uint32', 's'],
    ['stop_offset', 4, 'uint64', 's'],
    ['collection', 5, 'string', 's'],
    ['is_ec_volume', 6, 'bool', 's'],
    ['ignore_source_file_not_found', 7, 'bool', 's']]],
  ['volume_server_pb.VolumeTierMoveDatToRemoteResponse', [
    ['processed', 1, 'int64', 's'],
    ['processedPercentage', 2, 'float', 's']]],
  ['volume_server_pb.OldVersionVolumeInfo', [
    ['files', 1, 'RemoteFile', 'r'],
    ['version', 2, 'uint32', 's'],
    ['replication', 3, 'string', 's'],
    ['BytesOffset', 4, 'uint32', 's'],
    ['dat_file_size', 5, 'int64', 's'],
    ['DestroyTime', 6, 'uint64', 's'],
    ['read_only', 7, 'bool', 's']]],
  ['volume_server_pb.EcBitrotProtection', [
    ['algorithm', 1, 'ChecksumAlgorithm', 's'],
    ['block_size', 2, 'uint32', 's'],
    ['generation', 3, 'uint32', 's'],
    ['ec_shard_config', 4, 'EcShardConfig', 's'],
    ['shards', 5, 'EcShardChecksums', 'r'],
    ['encode_uuid', 6, 'bytes', 's']]],
  ['volume_server_pb.QueryRequest.OutputSerialization', [
    ['csv_output', 2, 'QueryRequest.OutputSerialization.CSVOutput', 's'],
    ['json_output', 3, 'QueryRequest.OutputSerialization.JSONOutput', 's']]],
  ['volume_server_pb.BatchDeleteResponse', [
    ['results', 1, 'DeleteResult', 'r']]],
  ['volume_server_pb.DeleteResult', [
    ['file_id', 1, 'string', 's'],
    ['status', 2, 'int32', 's'],
    ['error', 3, 'string', 's'],
    ['size', 4, 'uint32', 's'],
    ['version', 5, 'uint32', 's']]],
  ['master_pb.Heartbeat', [
    ['ip', 1, 'string', 's'],
    ['port', 2, 'uint32', 's'],
    ['public_url', 3, 'string', 's'],
    ['max_file_key', 5, 'uint64', 's'],
    ['data_center', 6, 'string', 's'],
    ['rack', 7, 'string', 's'],
    ['admin_port', 8, 'uint32', 's'],
    ['volumes', 9, 'VolumeInformationMessage', 'r'],
    ['new_volumes', 10, 'VolumeShortInformationMessage', 'r'],
    ['deleted_volumes', 11, 'VolumeShortInformationMessage', 'r'],
    ['has_no_volumes', 12, 'bool', 's'],
    ['ec_shards', 16, 'VolumeEcShardInformationMessage', 'r'],
    ['new_ec_shards', 17, 'VolumeEcShardInformationMessage', 'r'],
    ['deleted_ec_shards', 18, 'VolumeEcShardInformationMessage', 'r'],
    ['has_no_ec_shards', 19, 'bool', 's'],
    ['max_volume_counts', 4, 'map<string,uint32>', 'm'],
    ['grpc_port', 20, 'uint32', 's'],
    ['location_uuids', 21, 'string', 'r'],
    ['id', 22, 'string', 's'],
    ['state', 23, 'volume_server_pb.VolumeServerState', 's'],
    ['disk_tags', 24, 'DiskTag', 'r'],
    ['disk_total_bytes', 25, 'map<string,uint64>', 'm'],
    ['disk_free_bytes', 26, 'map<string,uint64>', 'm'],
    ['volume_digest', 27, 'uint64', 'o'],
    ['changed_volumes', 28, 'VolumeInformationMessage', 'r']]],
  ['master_pb.HeartbeatResponse', [
    ['volume_size_limit', 1, 'uint64', 's'],
    ['leader', 2, 'string', 's'],
    ['metrics_address', 3, 'string', 's'],
    ['metrics_interval_seconds', 4, 'uint32', 's'],
    ['storage_backends', 5, 'StorageBackend', 'r'],
    ['duplicated_uuids', 6, 'string', 'r'],
    ['preallocate', 7, 'bool', 's'],
    ['resend_full_volume_list', 8, 'bool', 's'],
    ['volume_digest_supported', 9, 'bool', 's']]],
  ['master_pb.VolumeInformationMessage', [
    ['id', 1, 'uint32', 's'],
    ['size', 2, 'uint64', 's'],
    ['collection', 3, 'string', 's'],
    ['file_count', 4, 'uint64', 's'],
    ['delete_count', 5, 'uint64', 's'],
    ['deleted_byte_count', 6, 'uint64', 's'],
    ['read_only', 7, 'bool', 's'],
    ['replica_placement', 8, 'uint32', 's'],
    ['version', 9, 'uint32', 's'],
    ['ttl', 10, 'uint32', 's'],
    ['compact_revision', 11, 'uint32', 's'],
    ['modified_at_second', 12, 'int64', 's'],
    ['remote_storage_name', 13, 'string', 's'],
    ['remote_storage_key', 14, 'string', 's'],
    ['disk_type', 15, 'string', 's'],
    ['disk_id', 16, 'uint32', 's']]],
  ['master_pb.VolumeShortInformationMessage', [
    ['id', 1, 'uint32', 's'],
    ['collection', 3, 'string', 's'],
    ['replica_placement', 8, 'uint32', 's'],
    ['version', 9, 'uint32', 's'],
    ['ttl', 10, 'uint32', 's'],
    ['disk_type', 15, 'string', 's'],
    ['disk_id', 16, 'uint32', 's']]],
  ['master_pb.VolumeEcShardInformationMessage', [
    ['id', 1, 'uint32', 's'],
    ['collection', 2, 'string', 's'],
    ['ec_index_bits', 3, 'uint32', 's'],
    ['disk_type', 4, 'string', 's'],
    ['expire_at_sec', 5, 'uint64', 's'],
    ['disk_id', 6, 'uint32', 's'],
    ['shard_sizes', 7, 'int64', 'r'],
    ['file_count', 8, 'uint64', 's'],
    ['delete_count', 9, 'uint64', 's'],
    ['encode_ts_ns', 14, 'int64', 's']]],
  ['master_pb.VolumeMarkReadonlyRequest', [
    ['ip', 1, 'string', 's'],
    ['port', 2, 'uint32', 's'],
    ['volume_id', 4, 'uint32', 's'],
    ['collection', 5, 'string', 's'],
    ['replica_placement', 6, 'uint32', 's'],
    ['version', 7, 'uint32', 's'],
    ['ttl', 8, 'uint32', 's'],
    ['disk_type', 9, 'string', 's'],
    ['is_readonly', 10, 'bool', 's']]],
  ['master_pb.GetMasterConfigurationResponse', [
    ['metrics_address', 1, 'string', 's'],
    ['metrics_interval_seconds', 2, 'uint32', 's'],
    ['storage_backends', 3, 'StorageBackend', 'r'],
    ['default_replication', 4, 'string', 's'],
    ['leader', 5, 'string', 's'],
    ['volume_size_limit_m_b', 6, 'uint32', 's'],
    ['volume_preallocate', 7, 'bool', 's'],
    ['maintenance_scripts', 8, 'string', 's'],
    ['maintenance_sleep_minutes', 9, 'uint32', 's']]],
  ['master_pb.Location', [
    ['url', 1, 'string', 's'],
    ['public_url', 2, 'string', 's'],
    ['grpc_port', 3, 'uint32', 's'],
    ['data_center', 4, 'string', 's'],
    // weed/pb/master.proto Location: replication skips replicas the master lists as read-only
    ['data_in_remote', 5, 'bool', 's'],
    ['read_only', 6, 'bool', 's'],
    ['read_only_can_delete', 7, 'bool', 's']]],
  ['master_pb.LookupVolumeResponse.VolumeIdLocation', [
    ['volume_or_file_id', 1, 'string', 's'],
    ['locations', 2, 'Location', 'r'],
    ['error', 3, 'string', 's'],
    ['auth', 4, 'string', 's']]],
  ['master_pb.LookupEcVolumeResponse', [
    ['volume_id', 1, 'uint32', 's'],
    ['shard_id_locations', 2, 'LookupEcVolumeResponse.EcShardIdLocation', 'r']]],
  ['master_pb.StorageBackend', [
    ['type', 1, 'string', 's'],
    ['id', 2, 'string', 's'],
    ['properties', 3, 'map<string,string>', 'm']]],
  ['master_pb.DiskTag', [
    ['disk_id', 1, 'uint32', 's'],
    ['tags', 2, 'string', 'r'],
    ['type', 3, 'string', 's'],
    ['max_volume_count', 4, 'int64', 's']]],
  ['master_pb.SuperBlockExtra.ErasureCoding', [
    ['data', 1, 'uint32', 's'],
    ['parity', 2, 'uint32', 's'],
    ['volume_ids', 3, 'uint32', 'r']]],
  ['remote_pb.RemoteStorageLocation', [
    ['name', 1, 'string', 's'],
    ['bucket', 2, 'string', 's'],
    ['path', 3, 'string', 's'],
    ['listing_cache_ttl_seconds', 4, 'int32', 's']]],
  ['remote_pb.RemoteStorageMapping', [
    ['mappings', 1, 'map<string,RemoteStorageLocation>', 'm'],
    ['primary_bucket_storage_name', 2, 'string', 's']]],
  ['filer_pb.PingRequest', [
    ['target', 1, 'string', 's'],
    ['target_type', 2, 'string', 's']]],
  ['filer_pb.PingResponse', [
    ['start_time_ns', 1, 'int64', 's'],
    ['remote_time_ns', 2, 'int64', 's'],
    ['stop_time_ns', 3, 'int64', 's']]],
];

const ENUMS: [string, Record<string, number>][] = [
  ['volume_server_pb.ChecksumAlgorithm', { CHECKSUM_NONE: 0, CHECKSUM_CRC32C: 1 }],
  ['volume_server_pb.VolumeScrubMode', { UNKNOWN: 0, INDEX: 1, FULL: 2, LOCAL: 3, CHECKSUM: 4, READS: 5 }],
];

function kindOf(def: grpc.MethodDefinition<unknown, unknown>): Kind {
  if (def.requestStream) return def.responseStream ? 'bidi' : 'client';
  return def.responseStream ? 'server' : 'unary';
}

function typeName(def: grpc.MethodDefinition<unknown, unknown>, side: 'requestType' | 'responseType'): string {
  const t = (def as unknown as Record<string, { type: { name: string } }>)[side];
  return t.type.name;
}

function checkService(service: grpc.ServiceDefinition, pkgService: string, rpcs: Rpc[]): void {
  assert.deepEqual(Object.keys(service).sort(), rpcs.map((r) => r[0]).sort());
  for (const [name, req, resp, kind] of rpcs) {
    const def = service[name] as grpc.MethodDefinition<unknown, unknown>;
    assert.equal(def.path, `/${pkgService}/${name}`, name);
    assert.equal(kindOf(def), kind, `${name} streaming kind`);
    assert.equal(typeName(def, 'requestType'), req, `${name} request type`);
    assert.equal(typeName(def, 'responseType'), resp, `${name} response type`);
  }
}

let reflRoot: protobuf.Root | undefined;
/** The same .proto files parsed directly with protobufjs (field names kept as written). */
function root(): protobuf.Root {
  if (!reflRoot) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
    r.loadSync(PROTO_FILES, { keepCase: true });
    r.resolveAll();
    reflRoot = r;
  }
  return reflRoot;
}

function encode(typeName: string, obj: Record<string, unknown>): number[] {
  const t = root().lookupType(typeName);
  return [...t.encode(t.fromObject(obj)).finish()];
}

const SCALARS = new Set([
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
  'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes',
]);

/** Spec type name -> fully qualified name (scalars unchanged). */
function qualify(pkg: string, type: string): string {
  if (SCALARS.has(type)) return type;
  return type.includes('_pb.') ? type : `${pkg}.${type}`;
}

test('VolumeServer service: 49 rpcs with spec paths, types and streaming kinds', () => {
  assert.equal(VOLUME_SERVER_RPCS.length, 49);
  checkService(volumeServerService(), 'volume_server_pb.VolumeServer', VOLUME_SERVER_RPCS);
});

test('master Seaweed service: 27 rpcs, including those a volume server calls', () => {
  assert.equal(MASTER_RPCS.length, 27);
  const service = masterClientConstructor().service;
  checkService(service, 'master_pb.Seaweed', MASTER_RPCS);
  const hb = service.SendHeartbeat;
  assert.equal(hb.path, '/master_pb.Seaweed/SendHeartbeat');
  assert.equal(hb.requestStream, true);
  assert.equal(hb.responseStream, true);
  for (const name of ['LookupVolume', 'GetMasterConfiguration', 'VolumeMarkReadonly', 'LookupEcVolume', 'Ping']) {
    const def = service[name];
    assert.ok(def, name);
    assert.equal(def.path, `/master_pb.Seaweed/${name}`);
    assert.equal(kindOf(def), 'unary', name);
  }
});

test('filer SeaweedFiler service: Ping only', () => {
  const service = filerClientConstructor().service;
  assert.deepEqual(Object.keys(service), ['Ping']);
  assert.equal(service.Ping.path, '/filer_pb.SeaweedFiler/Ping');
  assert.equal(kindOf(service.Ping), 'unary');
  assert.ok(loadProtos().remote_pb, 'remote_pb package loaded');
});

test('message fields match the spec tables (names, numbers, types, labels)', () => {
  assert.ok(MESSAGE_FIELDS.length >= 15);
  for (const [fullName, rows] of MESSAGE_FIELDS) {
    const pkg = fullName.slice(0, fullName.indexOf('.'));
    const type = root().lookupType(fullName);
    assert.deepEqual(Object.keys(type.fields), rows.map((r) => r[0]), `${fullName}: field set and order`);
    for (const [name, id, specType, label] of rows) {
      const where = `${fullName}.${name}`;
      const field = type.fields[name];
      assert.equal(field.id, id, `${where} number`);
      if (label === 'm') {
        assert.ok(field instanceof protobuf.MapField, `${where} is a map`);
        const m = /^map<(\w+),(.+)>$/.exec(specType);
        assert.ok(m, `${where} spec map type`);
        assert.equal((field as protobuf.MapField).keyType, m[1], `${where} key type`);
        assert.equal(field.resolvedType ? field.resolvedType.fullName.slice(1) : field.type, qualify(pkg, m[2]), `${where} value type`);
        continue;
      }
      const actualType = field.resolvedType ? field.resolvedType.fullName.slice(1) : field.type;
      assert.equal(actualType, qualify(pkg, specType), `${where} type`);
      assert.equal(field.repeated, label === 'r', `${where} repeated`);
      const proto3Optional = Boolean(field.options?.proto3_optional);
      assert.equal(proto3Optional, label === 'o', `${where} proto3 optional`);
      if (label.startsWith('oneof ')) {
        assert.equal(field.partOf?.name, label.slice('oneof '.length), `${where} oneof`);
      } else if (label !== 'o') {
        assert.equal(field.partOf, null, `${where} not in a oneof`);
      }
    }
  }
});

test('enums and reserved numbers match the spec', () => {
  for (const [name, values] of ENUMS) {
    assert.deepEqual({ ...root().lookupEnum(name).values }, values, name);
  }
  assert.deepEqual(root().lookupType('volume_server_pb.VolumeEcShardReadRequest').reserved, [[6, 6]]);
});

test('Go-server variants are used where the Rust copy differs (version skew)', () => {
  assert.equal(root().lookupType('volume_server_pb.DiskStatus').fields.error.id, 8);
  assert.equal(root().lookupType('volume_server_pb.VolumeEcShardsCopyRequest').fields.io_byte_per_second.id, 10);
  assert.equal(root().lookupType('volume_server_pb.VolumeEcShardsRebuildRequest').fields.unsafe_ignore_sidecar.id, 3);
  assert.equal(root().lookupType('remote_pb.RemoteStorageLocation').fields.listing_cache_ttl_seconds.id, 4);
  const listReq = root().lookupType('master_pb.VolumeListRequest').fields;
  assert.deepEqual(
    Object.values(listReq).map((f) => [f.name, f.id]),
    [['collection', 1], ['volume_id', 2], ['default_collection_only', 3]],
  );
  const stream = root().lookupType('master_pb.VolumeListStreamResponse').fields;
  assert.deepEqual(
    Object.values(stream).map((f) => [f.name, f.id]),
    [['header', 1], ['data_center', 2], ['rack', 3], ['data_node', 4], ['disk_type', 5], ['volume_infos', 6], ['ec_shard_infos', 7]],
  );
});

test('exact wire bytes for a few messages', () => {
  const hex = (s: string) => [...Buffer.from(s, 'utf8')];
  assert.deepEqual(encode('master_pb.Heartbeat', { ip: 'a' }), [0x0a, 0x01, 0x61]);
  // grpc_port = 20 (varint): tag 0xa0 0x01; 18080 = a0 8d 01
  assert.deepEqual(encode('master_pb.Heartbeat', { grpc_port: 18080 }), [0xa0, 0x01, 0xa0, 0x8d, 0x01]);
  // state = 23 (length-delimited): tag 0xba 0x01
  assert.deepEqual(encode('master_pb.Heartbeat', { state: { version: 2 } }), [0xba, 0x01, 0x02, 0x10, 0x02]);
  // volume_digest = 27 has explicit presence, so an explicit 0 is still written: tag 0xd8 0x01
  assert.deepEqual(encode('master_pb.Heartbeat', { volume_digest: 0 }), [0xd8, 0x01, 0x00]);
  // max_volume_counts = 4: map entry {key = 1, value = 2}
  assert.deepEqual(
    encode('master_pb.Heartbeat', { max_volume_counts: { hdd: 8 } }),
    [0x22, 0x07, 0x0a, 0x03, ...hex('hdd'), 0x10, 0x08],
  );
  assert.deepEqual(encode('volume_server_pb.VolumeServerState', { version: 2 }), [0x10, 0x02]);
  assert.deepEqual(encode('volume_server_pb.VolumeServerState', { maintenance: true }), [0x08, 0x01]);
  assert.deepEqual(encode('volume_server_pb.AllocateVolumeRequest', { version: 3 }), [0x40, 0x03]);
  assert.deepEqual(encode('master_pb.VolumeInformationMessage', { id: 1, disk_id: 2 }), [0x08, 0x01, 0x80, 0x01, 0x02]);
  assert.deepEqual(encode('volume_server_pb.ReceiveFileRequest', { file_content: Buffer.from([1, 2]) }), [0x12, 0x02, 0x01, 0x02]);
  assert.deepEqual(encode('volume_server_pb.ReceiveFileInfo', { disk_type: 'ssd' }), [0x62, 0x03, ...hex('ssd')]);
  assert.deepEqual(encode('remote_pb.RemoteConf', { s3_support_tagging: true }), [0x68, 0x01]);
  // repeated scalars are packed; an unpacked encoding must still decode
  assert.deepEqual(encode('volume_server_pb.ReadAllNeedlesRequest', { volume_ids: [1, 2] }), [0x0a, 0x02, 0x01, 0x02]);
  const t = root().lookupType('volume_server_pb.ReadAllNeedlesRequest');
  const decoded = t.toObject(t.decode(Uint8Array.from([0x08, 0x01, 0x08, 0x02])));
  assert.deepEqual(decoded.volume_ids, [1, 2]);
});

test('Heartbeat round-trip through the grpc loader (volume_digest optional, VolumeInformationMessage)', () => {
  const hb = masterClientConstructor().service.SendHeartbeat;
  const msg = {
    ip: '127.0.0.1',
    port: 8080,
    grpc_port: 18080,
    data_center: 'dc1',
    max_volume_counts: { '': 8 },
    volumes: [
      { id: 7, size: '1048576', collection: 'pics', file_count: '3', replica_placement: 1, version: 3, ttl: 0x0103, disk_id: 1 },
    ],
    state: { maintenance: true, version: 4 },
    volume_digest: '18446744073709551615',
  };
  const bytes = hb.requestSerialize(msg);
  const back = hb.requestDeserialize(bytes) as Record<string, unknown>;
  assert.equal(back.ip, '127.0.0.1');
  assert.equal(back.port, 8080);
  assert.equal(back.grpc_port, 18080);
  assert.equal(back.data_center, 'dc1');
  assert.deepEqual(back.max_volume_counts, { '': 8 });
  assert.equal(back.volume_digest, '18446744073709551615');
  assert.deepEqual(back.state, { maintenance: true, version: 4 });
  const vols = back.volumes as Record<string, unknown>[];
  assert.equal(vols.length, 1);
  assert.equal(vols[0].id, 7);
  assert.equal(vols[0].size, '1048576');
  assert.equal(vols[0].collection, 'pics');
  assert.equal(vols[0].file_count, '3');
  assert.equal(vols[0].delete_count, '0');
  assert.equal(vols[0].replica_placement, 1);
  assert.equal(vols[0].ttl, 0x0103);
  assert.equal(vols[0].disk_id, 1);
  assert.equal(vols[0].read_only, false);

  // Field numbers on the wire: decode the same bytes with plain protobufjs reflection.
  const H = root().lookupType('master_pb.Heartbeat');
  const raw = H.toObject(H.decode(bytes), { longs: String });
  assert.equal(raw.volume_digest, '18446744073709551615');
  assert.equal(raw.grpc_port, 18080);

  // Without volume_digest, the decoded message has no value for it (explicit presence).
  const bare = hb.requestDeserialize(hb.requestSerialize({ ip: 'a' })) as Record<string, unknown>;
  assert.equal(bare.ip, 'a');
  assert.equal(bare.volume_digest, undefined);
  assert.deepEqual(bare.volumes, []);
});

test('HeartbeatResponse and VolumeServerStatusResponse round-trip', () => {
  const hb = masterClientConstructor().service.SendHeartbeat;
  const resp = hb.responseDeserialize(
    hb.responseSerialize({ volume_size_limit: '31457280000', leader: 'm:9333', volume_digest_supported: true }),
  ) as Record<string, unknown>;
  assert.equal(resp.volume_size_limit, '31457280000');
  assert.equal(resp.leader, 'm:9333');
  assert.equal(resp.volume_digest_supported, true);
  assert.equal(resp.resend_full_volume_list, false);

  const st = volumeServerService().VolumeServerStatus;
  const out = st.responseDeserialize(
    st.responseSerialize({
      disk_statuses: [{ dir: '/data', all: '100', used: '40', free: '60', percent_free: 60, percent_used: 40, disk_type: 'hdd' }],
      memory_status: { goroutines: 12, heap: '2048' },
      version: '30GB 3.80',
      data_center: 'dc1',
      rack: 'r1',
      state: { maintenance: false, version: 1 },
    }),
  ) as Record<string, unknown>;
  const disks = out.disk_statuses as Record<string, unknown>[];
  assert.equal(disks[0].dir, '/data');
  assert.equal(disks[0].free, '60');
  assert.equal(disks[0].error, '');
  assert.equal((out.memory_status as Record<string, unknown>).goroutines, 12);
  assert.equal((out.memory_status as Record<string, unknown>).heap, '2048');
  assert.equal(out.version, '30GB 3.80');
  assert.equal(out.rack, 'r1');
  assert.deepEqual(out.state, { maintenance: false, version: 1 });
});
