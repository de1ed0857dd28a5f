// Which feature family owns which VolumeServer RPC. Core owns this table (the service is core's),
// so a disabled family's RPCs can answer UNIMPLEMENTED with the right name without its module ever
// being loaded.
import type { PluginFamily } from '../../config/types.js';

export const CORE_RPCS = [
  'AllocateVolume',
  'VolumeMount',
  'VolumeUnmount',
  'VolumeDelete',
  'VolumeMarkReadonly',
  'VolumeMarkWritable',
  'VolumeConfigure',
  'VolumeStatus',
  'DeleteCollection',
  'GetState',
  'SetState',
  'VolumeServerStatus',
  'VolumeServerLeave',
  'Ping',
] as const;

export const FAMILY_RPCS: Record<PluginFamily, readonly string[]> = {
  'read-write': [
    'BatchDelete',
    'ReadNeedleBlob',
    'ReadNeedleMeta',
    'WriteNeedleBlob',
    'ReadAllNeedles',
    'VolumeNeedleStatus',
    'VacuumVolumeCheck',
    'VacuumVolumeCompact',
    'VacuumVolumeCommit',
    'VacuumVolumeCleanup',
  ],
  ec: [
    'VolumeEcShardsGenerate',
    'VolumeEcShardsRebuild',
    'VolumeEcShardsCopy',
    'VolumeEcShardsDelete',
    'VolumeEcShardsMount',
    'VolumeEcShardsUnmount',
    'VolumeEcShardRead',
    'VolumeEcBlobDelete',
    'VolumeEcShardsToVolume',
    'VolumeEcShardsInfo',
  ],
  tiering: ['VolumeTierMoveDatToRemote', 'VolumeTierMoveDatFromRemote', 'FetchAndWriteNeedle'],
  'tail-sync': [
    'VolumeSyncStatus',
    'VolumeIncrementalCopy',
    'VolumeConsolidateIndex',
    'VolumeCopy',
    'ReadVolumeFileStatus',
    'CopyFile',
    'ReceiveFile',
    'VolumeTailSender',
    'VolumeTailReceiver',
  ],
  'scrub-query': ['ScrubVolume', 'ScrubEcVolume', 'Query'],
};

/** The owner of an RPC: 'core' or a plugin family; undefined for names outside the service. */
export function rpcOwner(rpc: string): PluginFamily | 'core' | undefined {
  if ((CORE_RPCS as readonly string[]).includes(rpc)) return 'core';
  for (const [family, rpcs] of Object.entries(FAMILY_RPCS)) {
    if (rpcs.includes(rpc)) return family as PluginFamily;
  }
  return undefined;
}
