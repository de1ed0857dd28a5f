// Admin volume lifecycle RPCs, with Go's checks in Go's order: whitelist, then maintenance where
// Go applies it, then the store operation. Error texts are the store's (Go's) texts.
import type { Cradle } from '../container.js';
import { vsError } from '../errors.js';
import type { GrpcHandler, Msg } from '../grpc/handler.js';
import { checks } from '../grpc/rpc-support.js';
import { checkCollection } from '../security/names.js';
import { ReplicaPlacement } from '../storage/types.js';
import type { Volume } from '../storage/volume.js';

export function volumeRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, masterClient } = cradle;

  const { admin, notInMaintenance } = checks(cradle);
  const notifyMaster = (v: Volume, readOnly: boolean) =>
    masterClient.notifyVolumeReadonly(
      {
        id: v.id,
        collection: v.collection,
        replicaPlacement: v.replicaPlacement.toByte(),
        ttl: v.ttl.toUint32(),
        diskType: v.diskType,
      },
      readOnly,
    );
  // Go refuses these while a VolumeCopy is writing the volume's files.
  const notBeingCopied = (id: number) => {
    if (store.isCopying(id)) throw vsError('VS_ERR_UNAVAILABLE', `volume ${id} is being copied`);
  };
  const mustFind = (id: number): Volume => {
    const v = store.findVolume(id);
    if (!v) throw vsError('VS_ERR_PLAIN', `volume ${id} not found`);
    return v;
  };

  return {
    AllocateVolume: async (call: Msg) => {
      admin(call);
      notInMaintenance();
      const r = call.request;
      const collection = checkCollection(r.collection ?? '');
      notBeingCopied(r.volume_id >>> 0);
      await store.allocateVolume({
        id: r.volume_id >>> 0,
        collection,
        replication: r.replication,
        ttl: r.ttl,
        preallocate: Number(r.preallocate),
        diskType: r.disk_type,
        version: r.version,
      });
      return {};
    },

    VolumeMount: async (call: Msg) => {
      admin(call);
      notBeingCopied(call.request.volume_id >>> 0);
      await store.mountVolume(call.request.volume_id >>> 0);
      return {};
    },

    VolumeUnmount: async (call: Msg) => {
      admin(call);
      notBeingCopied(call.request.volume_id >>> 0);
      await store.unmountVolume(call.request.volume_id >>> 0);
      return {};
    },

    // Allowed in maintenance mode: evacuating a server ends each move by deleting the source.
    VolumeDelete: async (call: Msg) => {
      admin(call);
      notBeingCopied(call.request.volume_id >>> 0);
      await store.deleteVolume(call.request.volume_id >>> 0, !!call.request.only_empty);
      return {};
    },

    DeleteCollection: async (call: Msg) => {
      admin(call);
      await store.deleteCollection(checkCollection(call.request.collection ?? ''));
      return {};
    },

    // Not gated on maintenance: marking read-only is the first step of evacuating a server.
    VolumeMarkReadonly: async (call: Msg) => {
      admin(call);
      const v = mustFind(call.request.volume_id >>> 0);
      await notifyMaster(v, true); // stop the master from sending writes here first
      await store.markVolumeReadonly(v.id, !!call.request.can_delete, !!call.request.persist);
      await notifyMaster(v, true); // again, in case a heartbeat raced the change
      return {};
    },

    VolumeMarkWritable: async (call: Msg) => {
      admin(call);
      const v = mustFind(call.request.volume_id >>> 0);
      notInMaintenance();
      await store.markVolumeWritable(v.id);
      await notifyMaster(v, false);
      return {};
    },

    // Errors travel in the response's `error` field, not as a status, as Go does.
    VolumeConfigure: async (call: Msg) => {
      admin(call);
      notInMaintenance();
      const r = call.request as { volume_id: number; replication: string };
      const id = r.volume_id >>> 0;
      const describe = `volume_id:${id} replication:${JSON.stringify(r.replication)}`;
      try {
        ReplicaPlacement.parse(r.replication);
      } catch (e) {
        return { error: `volume configure replication ${describe}: ${(e as Error).message}` };
      }
      try {
        await store.unmountVolume(id);
      } catch (e) {
        return { error: `volume configure unmount ${describe}: ${(e as Error).message}` };
      }
      try {
        await store.configureVolume(id, r.replication);
      } catch (e) {
        let error = `volume configure ${describe}: ${(e as Error).message}`;
        try {
          await store.mountVolume(id);
        } catch (m) {
          error += `. Also failed to restore mount: ${(m as Error).message}`;
        }
        return { error };
      }
      try {
        await store.mountVolume(id);
      } catch (e) {
        return { error: `volume configure mount ${describe}: ${(e as Error).message}` };
      }
      return { error: '' };
    },

    VolumeStatus: async (call: Msg) => {
      const id = call.request.volume_id >>> 0;
      const v = store.findVolume(id);
      if (!v) throw vsError('VS_ERR_PLAIN', `not found volume id ${id}`);
      return {
        is_read_only: v.isReadOnly() || (store.volumeSizeLimit > 0 && v.isFull(store.volumeSizeLimit)),
        volume_size: v.datFileSize(),
        file_count: v.fileCount(),
        file_deleted_count: v.deletedCount(),
      };
    },
  };
}
