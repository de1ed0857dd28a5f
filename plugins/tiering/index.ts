// The tiering feature family: a volume's .dat moved to and from a remote tier
// (VolumeTierMoveDatToRemote / VolumeTierMoveDatFromRemote) and a remote object range fetched into
// a needle (FetchAndWriteNeedle, the filer's remote-mount cache).
import type { Cradle } from '../../core/container.js';
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { TierBackends } from './backends.js';
import { tieringRpcs } from './grpc/handlers.js';

/** One backend table per server (keyed by its store, a singleton of the container). */
const tables = new WeakMap<object, TierBackends>();

function backendsOf(cradle: Cradle): TierBackends {
  let t = tables.get(cradle.store);
  if (!t) {
    t = new TierBackends(cradle.logger.child({ plugin: 'tiering' }));
    tables.set(cradle.store, t);
  }
  return t;
}

const plugin: VolumePlugin = {
  name: 'tiering',
  grpc: (cradle) => tieringRpcs(cradle, backendsOf(cradle)),
  stop: async (cradle) => {
    backendsOf(cradle).close();
  },
};

export default plugin;
