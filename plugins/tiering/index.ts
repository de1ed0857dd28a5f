// The tiering feature family: a volume's .dat moved to and from a remote tier
// (VolumeTierMoveDatToRemote / VolumeTierMoveDatFromRemote) and read from there with ranged GETs,
// and a remote object range fetched into a needle (FetchAndWriteNeedle, the filer's remote-mount
// cache). The tier backends are the ones the master announces.
import type { Cradle } from '../../core/container.js';
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { backendRegistry } from '../../core/storage/backend/registry.js';
import { StorageIoError } from '../../core/storage/storage-errors.js';
import { loadVolumeInfo } from '../../core/storage/volume-info.js';
import { volumeFileName } from '../../core/storage/volume-files.js';
import { TierBackends, type TierBackend } from './backends.js';
import { tieringRpcs } from './grpc/handlers.js';
import { S3BackendStorageFile } from './s3/s3-file.js';

interface TieringState {
  backends: TierBackends;
  stops: (() => void)[];
}

/** One state per server (keyed by its store, a singleton of the container). */
const states = new WeakMap<object, TieringState>();

function stateOf(cradle: Cradle): TieringState {
  let s = states.get(cradle.store);
  if (!s) {
    s = { backends: new TierBackends(cradle.logger.child({ plugin: 'tiering' })), stops: [] };
    states.set(cradle.store, s);
  }
  return s;
}

/** Whether some location holds a tiered volume that is not loaded (it was scanned before the s3 factory existed). */
async function hasUnloadedTieredVolume(cradle: Cradle): Promise<boolean> {
  for (const loc of cradle.store.locations) {
    for (const { collection, id } of await loc.scanVolumes()) {
      if (cradle.store.findVolume(id)) continue;
      const { info } = await loadVolumeInfo(volumeFileName(loc.directory, collection, id) + '.vif');
      if (info.files.some((f) => f.backendType === 's3')) return true;
    }
  }
  return false;
}

const plugin: VolumePlugin = {
  name: 'tiering',
  grpc: (cradle) => tieringRpcs(cradle, stateOf(cradle).backends),

  start: async (cradle) => {
    const { backends, stops } = stateOf(cradle);
    // Tiered volumes whose load failed for want of their backend (the super block is read at load)
    // are loaded once the master announces it (Go asks the master before it loads volumes).
    const log = cradle.logger.child({ plugin: 'tiering' });
    let retrying: Promise<void> = Promise.resolve();
    stops.push(
      cradle.masterClient.onStorageBackends((list) => {
        if (backends.load(list) === 0) return;
        retrying = retrying
          .then(async () => {
            if (await hasUnloadedTieredVolume(cradle)) await cradle.store.loadNewVolumes();
          })
          .catch((e: Error) => log.error({ err: e.message }, 'loading tiered volumes failed'));
      }),
    );
    // A tiered volume opens at once (size and time come from its .vif); its reads need the backend,
    // which the master announces after start, so the backend is looked up per read.
    stops.push(
      backendRegistry.register('s3', {
        open: async (file, volume) => {
          const name = `${file.backendType}.${file.backendId}`;
          const resolve = (): TierBackend => {
            const b = backends.get(name);
            if (!b) throw new StorageIoError(`remote storage ${name} not found from supported: [${backends.names().join(' ')}]`);
            return b;
          };
          return new S3BackendStorageFile(resolve, file.key.startsWith('/') ? file.key.slice(1) : file.key, volume.info);
        },
      }),
    );
  },

  stop: async (cradle) => {
    const s = stateOf(cradle);
    for (const stop of s.stops.splice(0)) stop();
    s.backends.close();
  },
};

export default plugin;
