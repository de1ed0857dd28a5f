// The ec feature family: erasure-coded volumes byte-compatible with Go's (weed/storage/
// erasure_coding): shard generation (Reed-Solomon in a worker thread), mount/unmount, shard reads
// and journalled deletes for peers, shard deletion; the mounted shards reach the heartbeat and
// /status through core's contributions registry, and shards on disk are mounted at startup.
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { ecRpcs } from './grpc/handlers.js';
import { EcPeers } from './remote/ec-peers.js';
import { ecStoreOf } from './state.js';

const plugin: VolumePlugin = {
  name: 'ec',
  grpc: (cradle) => ecRpcs(cradle),
  start: async (cradle) => {
    const ec = ecStoreOf(cradle);
    const { masterClient } = cradle;
    ec.serve.peers = new EcPeers({
      config: cradle.config,
      grpcClients: cradle.grpcClients,
      masterAddress: () => masterClient.currentMaster || masterClient.seeds[0] || '',
      log: cradle.logger.child({ family: 'ec' }),
    });
    await cradle.contributions.register(ec.contributor());
  },
  stop: async (cradle) => {
    cradle.contributions.unregister('ec');
    await ecStoreOf(cradle).closeAll();
  },
};

export default plugin;
