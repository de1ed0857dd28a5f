// The read-write feature family: the HTTP data path, the needle RPCs, batch delete and vacuum.
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { needleRpcs } from './grpc/handlers.js';
import { dataFastPath } from './http/fast-paths.js';
import { dataRoutes } from './http/routes.js';
import { downloadLimiter, uploadLimiter } from './http/throttle.js';

const plugin: VolumePlugin = {
  name: 'read-write',
  http: (cradle) => dataRoutes(cradle),
  httpFastPath: (cradle, opts) => dataFastPath(cradle, opts),
  grpc: (cradle) => needleRpcs(cradle),
  // Go sets SeaweedFS_volumeServer_in_flight_{upload,download}_size from these counts.
  start: async (cradle) => {
    const { config, metrics } = cradle;
    metrics.inFlightBytes.upload = () => uploadLimiter(config).current;
    metrics.inFlightBytes.download = () => downloadLimiter(config).current;
  },
};

export default plugin;
