// The ec feature family: erasure-coded volumes byte-compatible with Go's (weed/storage/
// erasure_coding): shard generation (Reed-Solomon in a worker thread), mount/unmount, shard reads
// and journalled deletes for peers, shard deletion; the mounted shards reach the heartbeat and
// /status through core's contributions registry, and shards on disk are mounted at startup.
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { ecRpcs } from './grpc/handlers.js';
import { ecStoreOf } from './state.js';

const plugin: VolumePlugin = {
  name: 'ec',
  grpc: (cradle) => ecRpcs(cradle),
  start: async (cradle) => {
    await cradle.contributions.register(ecStoreOf(cradle).contributor());
  },
  stop: async (cradle) => {
    cradle.contributions.unregister('ec');
    await ecStoreOf(cradle).closeAll();
  },
};

export default plugin;
