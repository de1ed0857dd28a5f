// Backend factories by storage type (Go: weed/storage/backend/backend.go BackendStorageFactories):
// a tiering plugin registers e.g. 's3'; loading a volume whose .vif names remote files asks here
// for the factory of the file's backend type.
import { VolumeInfoError } from '../storage-errors.js';
import type { RemoteFile, VolumeInfo } from '../volume-info.js';
import type { BackendStorageFile } from './backend-file.js';

export interface BackendFactory {
  /** Opens the remote data file a .vif entry names (Go: BackendStorage.NewStorageFile). */
  open(file: RemoteFile, volume: { id: number; info: VolumeInfo }): Promise<BackendStorageFile>;
}

export class BackendRegistry {
  private readonly factories = new Map<string, BackendFactory>();
  /** Opens the volumes of a type nobody registered (set while the tiering family is off). */
  private fallback: BackendFactory | undefined;

  /** Registers the factory for a backend type (replacing an earlier one); returns an unregister function. */
  register(type: string, factory: BackendFactory): () => void {
    this.factories.set(type, factory);
    return () => {
      if (this.factories.get(type) === factory) this.factories.delete(type);
    };
  }

  /** Sets (or clears) the factory for types with none of their own; returns an unset function. */
  setFallback(factory: BackendFactory | undefined): () => void {
    this.fallback = factory;
    return () => {
      if (this.fallback === factory) this.fallback = undefined;
    };
  }

  has(type: string): boolean {
    return this.factories.has(type);
  }

  /** The factory for the first remote file a .vif names; without one the volume cannot be loaded. */
  factoryFor(volumeId: number, info: VolumeInfo): BackendFactory {
    const f = info.files[0];
    const factory = this.factories.get(f.backendType) ?? this.fallback;
    if (!factory) {
      throw new VolumeInfoError(
        `volume ${volumeId} is tiered to ${f.backendType}.${f.backendId} as ${f.key}; remote-tiered volumes are not supported`,
      );
    }
    return factory;
  }

  /** Opens the data file of a remote-tiered volume (the first file its .vif names). */
  async openRemote(volumeId: number, info: VolumeInfo): Promise<BackendStorageFile> {
    return this.factoryFor(volumeId, info).open(info.files[0], { id: volumeId, info });
  }
}

/** The process-wide registry volumes load through unless given another (Go's global factories). */
export const backendRegistry = new BackendRegistry();
