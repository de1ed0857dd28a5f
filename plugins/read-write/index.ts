// The read-write feature family: the HTTP data path, the needle RPCs, batch delete and vacuum.
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { needleRpcs } from './grpc/handlers.js';
import { dataFastPath } from './http/fast-paths.js';
import { dataRoutes } from './http/routes.js';
import { plainReadCall } from './http/read-fast.js';
import { downloadLimiter, uploadLimiter } from './http/throttle.js';
import { READ_CALL, WRITE_CALL } from './http/worker-fast.js';
import { fastWriteCall } from './http/write-fast.js';

const plugin: VolumePlugin = {
  name: 'read-write',
  http: (cradle) => dataRoutes(cradle),
  httpFastPath: (cradle, opts) => dataFastPath(cradle, opts),
  workerFastPath: (cradle) => ({
    module: new URL('./http/worker-fast.js', import.meta.url).href,
    calls: { [READ_CALL]: plainReadCall(cradle), [WRITE_CALL]: fastWriteCall(cradle) },
  }),
  grpc: (cradle) => needleRpcs(cradle),
  // Go sets SeaweedFS_volumeServer_in_flight_{upload,download}_size from these counts.
  start: async (cradle) => {
    const { config, metrics } = cradle;
    metrics.inFlightBytes.upload = () => uploadLimiter(config).current;
    metrics.inFlightBytes.download = () => downloadLimiter(config).current;
  },
};

export default plugin;
