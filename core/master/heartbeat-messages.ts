// Builds the messages of the SendHeartbeat stream from the store (Go: weed/server/volume_grpc_client_to_master.go doHeartbeat, weed/storage/store.go CollectHeartbeat).
// We always send full volume lists and no volume_digest: the master then treats us as a
// pre-digest server and replaces its view each pulse, which is the documented compatible mode.
// EC shards come from the families' contributions (core/storage/contributions.ts): none registered
// means no EC shards, exactly what a server without the ec family reports.
import type { ServerConfig } from '../../config/types.js';
import type { EcShardInformation } from '../storage/contributions.js';
import type { Store, VolumeShortInformation } from '../storage/store.js';

export type HeartbeatMessage = Record<string, unknown>;

function identity(config: ServerConfig): HeartbeatMessage {
  return {
    ip: config.ip,
    port: config.port,
    public_url: config.publicUrl,
    data_center: config.dataCenter,
    rack: config.rack,
  };
}

export function fullHeartbeat(config: ServerConfig, store: Store): HeartbeatMessage {
  const volumes = store.volumeInformations();
  const bytes = store.diskBytes();
  return {
    ...identity(config),
    id: config.id,
    grpc_port: config.grpcPort,
    max_file_key: store.maxFileKey().toString(),
    max_volume_counts: store.maxVolumeCounts(),
    disk_total_bytes: bytes.total,
    disk_free_bytes: bytes.free,
    location_uuids: store.locations.map((l) => l.uuid),
    disk_tags: store.locations.map((l) => ({
      disk_id: l.diskId,
      tags: l.tags,
      type: l.diskType,
      max_volume_count: l.maxVolumeCount,
    })),
    volumes,
    has_no_volumes: volumes.length === 0,
    has_no_ec_shards: store.contributions.ecShards().length === 0,
  };
}

/** Go's CollectErasureCodingHeartbeat: every mounted (EC volume, disk); no ip/port. */
export function fullEcHeartbeat(store: Store): HeartbeatMessage {
  const ecShards = store.contributions.ecShards();
  return { ec_shards: ecShards, has_no_ec_shards: ecShards.length === 0 };
}

/** EC shards mounted or unmounted since the last message (Go's NewEcShardsChan / DeletedEcShardsChan). */
export function ecShardsDelta(config: ServerConfig, added: EcShardInformation[], removed: EcShardInformation[]): HeartbeatMessage {
  return { ...identity(config), new_ec_shards: added, deleted_ec_shards: removed };
}

export function volumeDelta(
  config: ServerConfig,
  added: VolumeShortInformation[],
  removed: VolumeShortInformation[],
): HeartbeatMessage {
  return { ...identity(config), new_volumes: added, deleted_volumes: removed };
}

export function stateMessage(config: ServerConfig, state: { maintenance: boolean; version: number }): HeartbeatMessage {
  return { ...identity(config), state };
}

/** Sent when heartbeating stops (leave or shutdown): the master drops our volumes from its lists. */
export function goodbyeHeartbeat(config: ServerConfig): HeartbeatMessage {
  return { ...identity(config), max_file_key: '0', volumes: [], has_no_volumes: true };
}
