// The data file of a tiered volume whose backend cannot be opened because the family that opens it
// (tiering) is switched off: the volume still loads and is reported to the master (its .idx, .vif
// and needle map are local), but every read of a needle fails with a clear error naming the switch.
// Go never has the case (its backends are compiled in); without this the volume would vanish from
// the heartbeat and the master would think its data lost.
import { StorageIoError } from '../storage-errors.js';
import { SuperBlock, SUPER_BLOCK_SIZE } from '../super-block.js';
import { ReplicaPlacement, Ttl, isSupportedVersion, type Version } from '../types.js';
import type { RemoteFile, VolumeInfo } from '../volume-info.js';
import type { BackendStorageFile } from './backend-file.js';
import type { BackendFactory } from './registry.js';

class UnavailableRemoteFile implements BackendStorageFile {
  readonly type: string;
  readonly name: string;
  private readonly superBlock: Buffer;

  constructor(
    private readonly file: RemoteFile,
    private readonly volumeId: number,
    info: VolumeInfo,
    private readonly why: string,
  ) {
    this.type = file.backendType;
    this.name = file.key;
    // The super block lives in the remote object; the .vif keeps what the master needs of it.
    const version = (isSupportedVersion(info.version) ? info.version : 3) as Version;
    let rp = ReplicaPlacement.parse('000');
    try {
      if (info.replication) rp = ReplicaPlacement.parse(info.replication);
    } catch {
      // an unreadable placement in the .vif: report none rather than refuse the volume
    }
    this.superBlock = new SuperBlock(version, rp, Ttl.EMPTY).toBytes();
  }

  private unavailable(): StorageIoError {
    return new StorageIoError(
      `volume ${this.volumeId} is tiered to ${this.file.backendType}.${this.file.backendId} as ${this.file.key} and cannot be read: ${this.why}`,
    );
  }

  async readAt(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (position + length <= SUPER_BLOCK_SIZE) {
      buf.set(this.superBlock.subarray(position, position + length), offset);
      return length;
    }
    throw this.unavailable();
  }

  async writeAt(): Promise<void> {
    throw this.unavailable();
  }

  async truncate(): Promise<void> {
    throw this.unavailable();
  }

  async stat(): Promise<{ size: number; mtimeMs: number }> {
    return { size: this.file.fileSize, mtimeMs: this.file.modifiedTime * 1000 };
  }

  async sync(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Opens tiered volumes' data files as unavailable, for `why` (e.g. the switch that is off). */
export function unavailableRemoteBackend(why: string): BackendFactory {
  return {
    open: async (file, volume) => new UnavailableRemoteFile(file, volume.id, volume.info, why),
  };
}
