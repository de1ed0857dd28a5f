// VolumeEcShardsToVolume (Go's volume_grpc_erasure_coding.go, erasure_coding/ec_decoder.go): the
// data shards mounted here are de-striped back into a .dat (layout fixed by the encode-time size
// the .vif records), the .ecj is folded into the .ecx and the .ecx becomes the .idx. The volume is
// not mounted and the shards are not deleted by this call. With from_staged, a volume a peer decoded
// and pushed here is adopted instead.
import { existsSync } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import type { Cradle } from '../../../core/container.js';
import { vsError } from '../../../core/errors.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { resolveProtection, verifyDataShards } from '../../../core/storage/ec-sum.js';
import { actualSize, isSupportedVersion } from '../../../core/storage/types.js';
import { volumeFileName } from '../../../core/storage/volume-files.js';
import { blockLayout } from '../codec/layout.js';
import { rebuildEcxFile, removeEcsumFiles } from '../ec-files.js';
import { ecStoreOf } from '../state.js';
import { checks, messageOf, plain, u32 } from './common.js';

const COPY_CHUNK = 1024 * 1024;

async function copyN(src: FileHandle, srcPos: number, dst: FileHandle, n: number, buf: Buffer): Promise<number> {
  let done = 0;
  while (done < n) {
    const want = Math.min(buf.length, n - done);
    const { bytesRead } = await src.read(buf, 0, want, srcPos + done);
    if (bytesRead === 0) break;
    await dst.write(buf, 0, bytesRead);
    done += bytesRead;
  }
  return done;
}

/** Go's writeDatFile: de-stripes `datSize` bytes from the data shards into `<base>.dat` (temp + rename). */
async function writeDatFile(base: string, datSize: number, encodedSize: number, shardPaths: string[], blockSize: number): Promise<void> {
  const layout = blockLayout(blockSize);
  const D = shardPaths.length;
  const tmp = base + '.dat.tmp';
  const out = await open(tmp, 'w', 0o644);
  const inputs: FileHandle[] = [];
  let committed = false;
  try {
    for (const p of shardPaths) inputs.push(await open(p, 'r'));
    if (encodedSize <= 0) {
      const shardSize = (await inputs[0].stat()).size;
      if (layout.large !== layout.small && shardSize % layout.large === 0 && datSize > (shardSize / layout.large - 1) * layout.large * D) {
        throw new Error(`shard size ${shardSize} of ${base} does not identify the block layout; re-encode to record the dat size in .vif`);
      }
      encodedSize = D * shardSize;
    }
    if (datSize > encodedSize) throw new Error(`dat file size ${datSize} exceeds encoded dat file size ${encodedSize}`);
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    const pos = new Array<number>(D).fill(0);
    let left = datSize;
    while (encodedSize >= D * layout.large && left > 0) {
      for (let s = 0; s < D && left > 0; s++) {
        const n = Math.min(left, layout.large);
        if ((await copyN(inputs[s], pos[s], out, n, buf)) !== n) throw new Error(`copy ${base} large block on shardId ${s}: short read`);
        pos[s] += n;
        left -= n;
      }
      encodedSize -= D * layout.large;
    }
    while (left > 0) {
      for (let s = 0; s < D && left > 0; s++) {
        const n = Math.min(left, layout.small);
        if ((await copyN(inputs[s], pos[s], out, n, buf)) !== n) throw new Error(`copy ${base} small block ${s}: short read`);
        pos[s] += n;
        left -= n;
      }
    }
    await out.sync();
    await out.close();
    await rename(tmp, base + '.dat');
    committed = true;
  } finally {
    await out.close().catch(() => undefined);
    for (const fh of inputs) await fh.close().catch(() => undefined);
    if (!committed) await rm(tmp, { force: true }).catch(() => undefined);
  }
}

/** Go's WriteIdxFileFromEcIndex: the .ecx bytes, then a tombstone row per .ecj id (temp + rename). */
async function writeIdxFromEcx(indexBase: string, tombstoneRow: (id: bigint) => Buffer): Promise<void> {
  const ecx = await readFile(indexBase + '.ecx');
  let ecj = Buffer.alloc(0);
  try {
    ecj = await readFile(indexBase + '.ecj');
  } catch {
    // no journal
  }
  const tmp = indexBase + '.idx.tmp';
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.write(ecx);
    for (let i = 0; i + 8 <= ecj.length; i += 8) await fh.write(tombstoneRow(ecj.readBigUInt64BE(i)));
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, indexBase + '.idx');
}

function toDiskType(s: string): string {
  const v = s.toLowerCase();
  return v === 'hdd' ? '' : v;
}

/**
 * Go's adoptStagedVolume: the caller pushed `<base>.dat/.idx/.vif.copying` (ReceiveFile) onto a
 * disk of `diskType`; they are renamed into place under a `.note` (a crash in between makes the
 * startup scan drop the half-adopted volume, not load it) and the volume is mounted.
 */
async function adoptStaged(cradle: Cradle, vid: number, collection: string, diskType: string): Promise<Msg> {
  const { store } = cradle;
  if (!store.beginCopy(vid)) throw vsError('VS_ERR_UNAVAILABLE', `volume ${vid} is being copied`);
  try {
    if (store.findVolume(vid)) throw plain(`staged volume ${vid} already exists on this server`);
    const want = toDiskType(diskType);
    let base = '';
    for (const loc of store.locations) {
      if (loc.diskType !== want) continue;
      const candidate = volumeFileName(loc.directory, collection, vid);
      if (existsSync(candidate + '.dat.copying')) {
        base = candidate;
        break;
      }
    }
    if (!base) throw plain(`staged volume ${vid}: no .dat.copying found on a ${diskType} disk`);
    for (const ext of ['.dat', '.idx', '.vif']) {
      if (!existsSync(base + ext + '.copying')) throw plain(`staged volume ${vid} missing ${ext}.copying`);
    }
    const note = base + '.note';
    try {
      await writeFile(note, `adopting decoded volume ${vid}`, { mode: 0o644 });
    } catch (e) {
      throw plain(`write .note for volume ${vid}: ${messageOf(e)}`);
    }
    for (const ext of ['.vif', '.dat', '.idx']) {
      try {
        await rename(base + ext + '.copying', base + ext);
      } catch (e) {
        await rm(note, { force: true });
        throw plain(`rename staged ${ext} for volume ${vid}: ${messageOf(e)}`);
      }
    }
    await rm(note, { force: true });
    try {
      await store.mountVolume(vid);
    } catch (e) {
      throw plain(`mount staged volume ${vid}: ${messageOf(e)}`);
    }
    return {};
  } finally {
    store.endCopy(vid);
  }
}

export function toVolumeRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  const check = checks(cradle);
  const ec = ecStoreOf(cradle);
  const inFlight = new Set<number>();
  return {
    VolumeEcShardsToVolume: async (call: Msg) => {
      check.admin(call);
      check.notInMaintenance();
      const r = call.request;
      const vid = u32(r.volume_id);
      const collection = String(r.collection ?? '');
      if (r.from_staged) return adoptStaged(cradle, vid, collection, String(r.disk_type ?? ''));
      if (inFlight.has(vid)) throw vsError('VS_ERR_UNAVAILABLE', `ec volume ${vid} is already being decoded`);
      inFlight.add(vid);
      try {
        const all = ec.findAll(vid);
        if (all.length === 0) throw plain(`ec volume ${vid} not found`);
        const v = all[0];
        if (v.collection !== collection) throw plain(`existing collection:${v.collection} unexpected input: ${collection}`);
        const D = v.meta.dataShards;
        const shardPaths: string[] = [];
        for (let i = 0; i < D; i++) {
          const holder = all.find((e) => e.shards.has(i));
          if (!holder) throw plain(`ec volume ${vid} missing shard ${i}`);
          shardPaths.push(holder.shards.get(i)!.path);
        }
        const indexBase = v.indexBase;
        try {
          await rebuildEcxFile(indexBase, store.offsetWidth);
        } catch (e) {
          throw plain(`RebuildEcxFile ${indexBase}: ${messageOf(e)}`);
        }
        // The version byte opens the super block at the start of shard 0.
        const head = Buffer.alloc(1);
        const fh0 = await open(shardPaths[0], 'r');
        try {
          await fh0.read(head, 0, 1, 0);
        } finally {
          await fh0.close();
        }
        const version = head[0];
        if (!isSupportedVersion(version)) throw plain(`FindDatFileSize ${shardPaths[0]}: read ec volume ${shardPaths[0]} version: unsupported version ${version}`);
        let datSize = 8;
        let live = false;
        await v.walkIndex((_id, offset, size) => {
          if (size < 0) return;
          live = true;
          datSize = Math.max(datSize, offset + actualSize(size, version));
        });
        if (!live) throw vsError('VS_ERR_FAILED_PRECONDITION', `ec volume ${vid} has no live entries`);
        // A corrupt data shard copied into the .dat is lost for good once the caller deletes the
        // parity that could repair it: check the data shards against the bitrot sidecar first
        // (Go's VerifyEcVolumeDataShards). The sidecar is resolved now, not at mount: a rebuild or
        // a copy may have brought it since.
        try {
          const dirs = store.locations.flatMap((l) => (l.idxDirectory === l.directory ? [l.directory] : [l.directory, l.idxDirectory]));
          const layout = { dataShards: D, parityShards: v.meta.parityShards, blockSize: v.meta.blockSize };
          const prot = await resolveProtection(vid, layout, v.dataBase, indexBase, dirs);
          await verifyDataShards(prot, shardPaths);
        } catch (e) {
          throw plain(`ec volume ${vid}: ${messageOf(e)}`);
        }
        try {
          await writeDatFile(v.dataBase, datSize, v.meta.datFileSize, shardPaths, v.meta.blockSize);
        } catch (e) {
          throw plain(`WriteDatFile ${v.dataBase}: ${messageOf(e)}`);
        }
        const got = (await stat(v.dataBase + '.dat')).size;
        if (got < datSize) throw plain(`decoded ${v.dataBase}.dat is ${got} bytes, short of the ${datSize} its ec index references`);
        const es = v.entrySize;
        try {
          await writeIdxFromEcx(indexBase, (id) => {
            const b = Buffer.alloc(es);
            b.writeBigUInt64BE(id, 0);
            b.writeInt32BE(-1, es - 4);
            return b;
          });
        } catch (e) {
          throw plain(`WriteIdxFileFromEcIndex ${indexBase}: ${messageOf(e)}`);
        }
        await removeEcsumFiles(v.dataBase);
        if (indexBase !== v.dataBase) await removeEcsumFiles(indexBase);
        // The .idx goes next to the .dat when the .ecx lived elsewhere (Go moves it after compaction).
        if (indexBase !== v.dataBase) {
          await rename(indexBase + '.idx', v.dataBase + '.idx').catch(() => undefined);
        }
        return {};
      } finally {
        inFlight.delete(vid);
      }
    },
  };
}
