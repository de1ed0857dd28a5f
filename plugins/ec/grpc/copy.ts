// VolumeEcShardsCopy (Go's volume_grpc_erasure_coding.go): pulls shard files and, on request, the
// .ecx, .ecj (appended: decode gathers every holder's journal), .vif and .ecsum of an EC volume
// from a peer through its CopyFile stream. Mandatory files are written in place and removed when
// the stream fails; optional ones arrive under `.copying` and replace the local file only when the
// peer had one. Shards are not mounted by this call.
import type * as grpc from '@grpc/grpc-js';
import { open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { Cradle } from '../../../core/container.js';
import type { Msg } from '../../../core/grpc/handler.js';
import type { GrpcHandler } from '../../../core/grpc/handler.js';
import { volumeServerClientConstructor } from '../../../core/grpc/proto-loader.js';
import { validateReplicaTarget } from '../../../core/grpc/replica-target.js';
import { toGrpcAddress } from '../../../core/master/server-address.js';
import type { DiskLocation } from '../../../core/storage/disk-location.js';
import { ecShardExt } from '../../../core/storage/ec-placement.js';
import { volumeFileName } from '../../../core/storage/volume-files.js';
import { WriteThrottler } from '../../../core/storage/vacuum.js';
import { MAX_SHARD_COUNT } from '../ec-volume.js';
import { checks, collectionError, i64, plain, shardIdsOf, u32 } from './common.js';

/** Go's math.MaxUint32 ("any compaction revision") and math.MaxInt64 ("to the end"). */
const ANY_REVISION = 0xffff_ffff;
const TO_THE_END = '9223372036854775807';

function grpcMessage(e: unknown): string {
  const d = (e as { details?: unknown })?.details;
  if (typeof d === 'string' && d) return d;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Streams `<base><ext>` of the peer into `path` (appending or truncating). Resolves to whether
 * the peer sent anything (a missing optional file sends nothing).
 */
async function fetchFile(
  client: grpc.Client,
  req: { volume_id: number; collection: string; ext: string; ignore_source_file_not_found: boolean },
  path: string,
  append: boolean,
  throttler: WriteThrottler,
): Promise<boolean> {
  const fn = (client as unknown as Record<string, (r: object) => grpc.ClientReadableStream<Msg>>).CopyFile;
  const stream = fn.call(client, {
    ...req,
    is_ec_volume: true,
    compaction_revision: ANY_REVISION,
    stop_offset: TO_THE_END,
  });
  // A cancel after the reader stopped still emits an error: without a listener it would be uncaught.
  stream.on('error', () => undefined);
  let fh: FileHandle | undefined;
  let got = false;
  try {
    for await (const msg of stream as AsyncIterable<Msg>) {
      if (!fh) fh = await open(path, append ? 'a' : 'w', 0o644);
      got = true;
      const data: Buffer | undefined = msg.file_content;
      if (data && data.length > 0) {
        await fh.write(data);
        await throttler.maybeSlowdown(data.length);
      }
    }
    await fh?.sync();
  } finally {
    stream.cancel();
    await fh?.close();
  }
  return got;
}

export function copyRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, config } = cradle;
  const check = checks(cradle);
  return {
    VolumeEcShardsCopy: async (call: Msg) => {
      check.admin(call);
      check.notInMaintenance();
      const r = call.request;
      const vid = u32(r.volume_id);
      const collection = String(r.collection ?? '');
      const bad = collectionError(collection);
      if (bad) throw plain(bad);
      const source = String(r.source_data_node ?? '');
      if (!config.allowUntrustedRemoteEndpoints) {
        try {
          await validateReplicaTarget(source);
        } catch (e) {
          throw plain(`invalid source data node ${source}: ${(e as Error).message}`);
        }
      }
      const shardIds = shardIdsOf(r.shard_ids);
      if (shardIds.some((s) => s >= MAX_SHARD_COUNT)) throw plain(`invalid shard ids ${JSON.stringify(shardIds)}`);
      const diskId = u32(r.disk_id);
      let loc: DiskLocation | undefined;
      if (diskId > 0) {
        if (diskId >= store.locations.length) throw plain(`invalid disk_id ${diskId}: only have ${store.locations.length} disks`);
        loc = store.locations[diskId];
      } else {
        // Shards already owned by two local disks have no single destination (Go's EcShardOwnerDisks).
        const owners = store.locations.filter((l) => store.contributions.mountedEcShardIds(l, vid).some((s) => shardIds.includes(s)));
        if (owners.length > 1) {
          throw plain(
            `volume ${vid} shards [${shardIds.join(' ')}] are already owned by multiple local disks [${owners.map((o) => o.directory).join(' ')}]: no single destination; copy per shard or pass disk_id`,
          );
        }
        loc = store.findEcShardTargetLocation(collection, vid, undefined, shardIds);
        if (!loc) throw Object.assign(new Error('no space left'), { code: 'INSUFFICIENT_SPACE' });
      }
      const dataBase = volumeFileName(loc.directory, collection, vid);
      const indexBase = volumeFileName(loc.idxDirectory, collection, vid);
      const grpcAddress = toGrpcAddress(source);
      if (!grpcAddress) throw plain(`VolumeEcShardsCopy volume ${vid}: invalid source data node ${JSON.stringify(source)}`);
      const client = cradle.grpcClients.get(volumeServerClientConstructor(), grpcAddress);
      const bps = i64(r.io_byte_per_second);
      const throttler = new WriteThrottler(bps > 0n ? Number(bps) : config.maintenanceMBps * 1024 * 1024);
      const base = { volume_id: vid, collection };

      const mandatory = async (ext: string, path: string) => {
        try {
          await fetchFile(client, { ...base, ext, ignore_source_file_not_found: false }, path, false, throttler);
        } catch (e) {
          await rm(path, { force: true }).catch(() => undefined);
          throw e;
        }
      };
      const optional = async (ext: string, path: string, append: boolean) => {
        const tmp = path + '.copying';
        await rm(tmp, { force: true });
        try {
          if (!(await fetchFile(client, { ...base, ext, ignore_source_file_not_found: true }, tmp, false, throttler))) return;
          if (!append) {
            await rename(tmp, path);
            return;
          }
          // Journals accumulate: ids this holder already has are not repeated.
          const have = new Set<string>();
          try {
            const cur = await readFile(path);
            for (let i = 0; i + 8 <= cur.length; i += 8) have.add(cur.subarray(i, i + 8).toString('hex'));
          } catch {
            // no local journal yet
          }
          const incoming = await readFile(tmp);
          const add: Buffer[] = [];
          for (let i = 0; i + 8 <= incoming.length; i += 8) {
            const k = incoming.subarray(i, i + 8);
            if (!have.has(k.toString('hex'))) {
              have.add(k.toString('hex'));
              add.push(k);
            }
          }
          if (add.length > 0) {
            const fh = await open(path, 'a', 0o644);
            try {
              await fh.write(Buffer.concat(add));
              await fh.sync();
            } finally {
              await fh.close();
            }
          }
        } finally {
          await rm(tmp, { force: true }).catch(() => undefined);
        }
      };

      try {
        for (const s of shardIds) await mandatory(ecShardExt(s), dataBase + ecShardExt(s));
        if (r.copy_ecx_file) {
          const ecx = indexBase + '.ecx';
          await mandatory('.ecx', ecx);
          if ((await stat(ecx)).size === 0) {
            await rm(ecx, { force: true });
            throw new Error(`VolumeEcShardsCopy volume ${vid}: source .ecx is 0 bytes`);
          }
        }
        if (r.copy_ecj_file) await optional('.ecj', indexBase + '.ecj', true);
        if (r.copy_vif_file) await optional('.vif', dataBase + '.vif', false);
        if (r.copy_ecsum_file) await optional('.ecsum', dataBase + '.ecsum', false);
      } catch (e) {
        throw plain(`VolumeEcShardsCopy volume ${vid}: ${grpcMessage(e)}`);
      }
      return {};
    },
  };
}
