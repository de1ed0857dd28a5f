// The read-write feature family: the HTTP data path and the needle RPCs.
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { dataRoutes } from './http/routes.js';

const plugin: VolumePlugin = {
  name: 'read-write',
  http: (cradle) => dataRoutes(cradle),
};

export default plugin;
