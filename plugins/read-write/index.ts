// The read-write feature family: the HTTP data path, the needle RPCs, batch delete and vacuum.
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { needleRpcs } from './grpc/handlers.js';
import { readFastPath } from './http/read-fast.js';
import { dataRoutes } from './http/routes.js';

const plugin: VolumePlugin = {
  name: 'read-write',
  http: (cradle) => dataRoutes(cradle),
  httpFastPath: (cradle) => readFastPath(cradle),
  grpc: (cradle) => needleRpcs(cradle),
};

export default plugin;
