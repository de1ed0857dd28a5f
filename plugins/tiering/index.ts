// The tiering feature family: a volume's .dat moved to and from a remote tier
// (VolumeTierMoveDatToRemote / VolumeTierMoveDatFromRemote) and read from there with ranged GETs,
// and a remote object range fetched into a needle (FetchAndWriteNeedle, the filer's remote-mount
// cache). The tier backends are the ones the master announces.
import { rm } from 'node:fs/promises';
import type * as grpc from '@grpc/grpc-js';
import type { Cradle } from '../../core/container.js';
import { unary } from '../../core/grpc/client-pool.js';
import { masterClientConstructor } from '../../core/grpc/proto-loader.js';
import { toGrpcAddress } from '../../core/master/server-address.js';
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { backendRegistry } from '../../core/storage/backend/registry.js';
import { StorageIoError } from '../../core/storage/storage-errors.js';
import { loadVolumeInfo } from '../../core/storage/volume-info.js';
import { volumeFileName } from '../../core/storage/volume-files.js';
import { TierBackends, type StorageBackendMessage, type TierBackend } from './backends.js';
import { tieringRpcs } from './grpc/handlers.js';
import { DOWNLOAD_SUFFIX } from './grpc/tier-move.js';
import { S3BackendStorageFile } from './s3/s3-file.js';

interface TieringState {
  backends: TierBackends;
  stops: (() => void)[];
}

/** How long the one pre-scan GetMasterConfiguration may take per master. */
const MASTER_CONFIG_TIMEOUT_MS = 3000;

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

/** File paths without extension of the tiered volumes on disk that are not loaded (before the scan: all of them). */
async function unloadedTieredVolumes(cradle: Cradle): Promise<string[]> {
  const bases: string[] = [];
  for (const loc of cradle.store.locations) {
    let found: { collection: string; id: number }[];
    try {
      found = await loc.scanVolumes();
    } catch {
      continue; // a missing or unreadable directory: the store reports it when it loads
    }
    for (const { collection, id } of found) {
      if (cradle.store.findVolume(id)) continue;
      const base = volumeFileName(loc.directory, collection, id);
      const { info } = await loadVolumeInfo(base + '.vif');
      if (info.files.some((f) => f.backendType === 's3')) bases.push(base);
    }
  }
  return bases;
}

/**
 * Asks the masters for their storage backends once, before the volume scan, as Go's
 * checkWithMaster does before it loads volumes: a tiered volume's load reads its super block
 * from the remote tier. Bounded (one try per master); when no master answers, the tiered volumes
 * are loaded later, once a master announces their backend.
 */
async function fetchBackendsFromMaster(cradle: Cradle, backends: TierBackends): Promise<void> {
  const ctor = masterClientConstructor();
  for (const master of cradle.config.masters) {
    try {
      const resp = await unary<object, { storage_backends?: StorageBackendMessage[] }>(
        cradle.grpcClients.get<grpc.Client>(ctor, toGrpcAddress(master)),
        'GetMasterConfiguration',
        {},
        MASTER_CONFIG_TIMEOUT_MS,
      );
      backends.load(resp.storage_backends);
      return;
    } catch (e) {
      cradle.logger.child({ plugin: 'tiering' }).warn({ master, err: (e as Error).message }, 'storage backends not fetched before the volume scan');
    }
  }
}

function registerS3Factory(backends: TierBackends): () => void {
  // The backend is looked up per read: it may be announced (or changed) after the volume opened.
  return backendRegistry.register('s3', {
    open: async (file, volume) => {
      const name = `${file.backendType}.${file.backendId}`;
      const resolve = (): TierBackend => {
        const b = backends.get(name);
        if (!b) throw new StorageIoError(`remote storage ${name} not found from supported: [${backends.names().join(' ')}]`);
        return b;
      };
      const key = file.key.startsWith('/') ? file.key.slice(1) : file.key;
      return backends.track(name, key, new S3BackendStorageFile(resolve, key, volume.info));
    },
  });
}

const plugin: VolumePlugin = {
  name: 'tiering',
  grpc: (cradle) => tieringRpcs(cradle, stateOf(cradle).backends),

  prepare: async (cradle) => {
    const { backends, stops } = stateOf(cradle);
    stops.push(registerS3Factory(backends));
    const tiered = await unloadedTieredVolumes(cradle);
    // a download cut short (kill -9) leaves its partial copy beside the .dat: the volume is
    // still tiered (its .vif names the remote file until the copy is in place)
    for (const base of tiered) await rm(base + DOWNLOAD_SUFFIX, { force: true });
    if (tiered.length > 0) await fetchBackendsFromMaster(cradle, backends);
  },

  start: async (cradle) => {
    const { backends, stops } = stateOf(cradle);
    // Tiered volumes whose load failed for want of their backend (no master answered before the
    // scan) are loaded once a master announces it.
    const log = cradle.logger.child({ plugin: 'tiering' });
    let retrying: Promise<void> = Promise.resolve();
    stops.push(
      cradle.masterClient.onStorageBackends((list) => {
        if (backends.load(list) === 0) return;
        retrying = retrying
          .then(async () => {
            if ((await unloadedTieredVolumes(cradle)).length > 0) await cradle.store.loadNewVolumes();
          })
          .catch((e: Error) => log.error({ err: e.message }, 'loading tiered volumes failed'));
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
