// The tail-sync feature family: volume copy between servers (VolumeCopy, CopyFile, ReceiveFile,
// ReadVolumeFileStatus), incremental copy and sync status for backups, tailing a volume
// (VolumeTailSender / VolumeTailReceiver) and index consolidation.
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { tailSyncRpcs } from './grpc/handlers.js';

const plugin: VolumePlugin = {
  name: 'tail-sync',
  grpc: (cradle) => tailSyncRpcs(cradle),
};

export default plugin;
