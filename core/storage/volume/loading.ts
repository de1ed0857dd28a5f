// Go's Volume.load (weed/storage/volume_loading.go): open or create the .dat (or the remote data
// file a .vif names), read the super block, find or rebuild the .idx, run the integrity check and
// load the needle map. The result is handed to the volume in one step (open and compaction reload).
import { constants as fsConstants, type Stats } from 'node:fs';
import { open, rename, stat, type FileHandle } from 'node:fs/promises';
import { readBufferAt, type BackendStorageFile } from '../backend/backend-file.js';
import { DiskFile } from '../backend/disk-file.js';
import { backendRegistry } from '../backend/registry.js';
import { isENOENT, pathExists, pwriteFull } from '../file-io.js';
import { checkIndexFile } from '../idx.js';
import { NeedleMap } from '../needle-map.js';
import {
  InvalidReplicaPlacementError,
  OffsetWidthMismatchError,
  StorageIoError,
  SuperBlockError,
  UnsupportedVersionError,
} from '../storage-errors.js';
import { SUPER_BLOCK_SIZE, SuperBlock } from '../super-block.js';
import { CURRENT_VERSION, ReplicaPlacement, isSupportedVersion, type OffsetWidth } from '../types.js';
import { checkVolumeDataIntegrity, findLastWriteSeconds, rebuildIndexRows } from '../volume-integrity.js';
import { loadVolumeInfo, saveVolumeInfo, type VolumeInfo } from '../volume-info.js';
import { volumeFileName, INDEX_DIR_EXTENSIONS } from '../volume-files.js';
import { reconcileCompactState } from './compaction-state.js';
import type { VolumeOpenOptions } from './options.js';

/** Everything loading decides about a volume; the volume adopts it whole. */
export interface LoadedVolume {
  dat: BackendStorageFile;
  idx: FileHandle;
  nm: NeedleMap;
  datSize: number;
  idxSize: number;
  datMtimeMs: number;
  superBlock: SuperBlock;
  volumeInfo: VolumeInfo;
  hasVif: boolean;
  /** Index directory actually used (Go falls back to the data dir when the .idx lives there). */
  idxDir: string;
  /** The .dat or .idx could only be opened read-only (permissions, read-only mount). */
  filesReadOnly: boolean;
  noWriteOrDelete: boolean;
  noWriteCanDelete: boolean;
  /** The .dat is a remote (tiered) backend file: read-only, deletes go to the .idx only. */
  hasRemoteFile: boolean;
  /** Why loading made the volume read-only ('' when it did not). */
  readOnlyReason: string;
  lastAppendAtNs: bigint;
  lastModifiedTsSeconds: number;
}

const FS_READ_ONLY_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

function isReadOnlyFsError(e: unknown): boolean {
  return FS_READ_ONLY_CODES.has((e as NodeJS.ErrnoException).code ?? '');
}

/** Runs Go's load sequence; on failure every file it opened is closed again. */
export async function loadVolume(o: VolumeOpenOptions): Promise<LoadedVolume> {
  const opened: { dat?: BackendStorageFile; idx?: FileHandle } = {};
  try {
    return await loadSteps(o, opened);
  } catch (e) {
    await opened.idx?.close().catch(() => undefined);
    await opened.dat?.close().catch(() => undefined);
    throw e;
  }
}

async function loadSteps(o: VolumeOpenOptions, opened: { dat?: BackendStorageFile; idx?: FileHandle }): Promise<LoadedVolume> {
  const id = o.id >>> 0;
  const w: OffsetWidth = o.offsetWidth ?? 4;
  const create = o.create;
  let idxDir = o.idxDir ?? o.dir;
  const fileName = (ext: string) => volumeFileName(INDEX_DIR_EXTENSIONS.has(ext) ? idxDir : o.dir, o.collection, id) + ext;
  let noWriteOrDelete = false;
  let noWriteCanDelete = false;
  let filesReadOnly = false;
  let readOnlyReason = '';
  const markReadOnly = (reason: string) => {
    noWriteOrDelete = true;
    readOnlyReason = readOnlyReason ? `${readOnlyReason}; ${reason}` : reason;
  };

  // 0. an interrupted compaction commit: roll forward (.cpc marker) or drop leftovers
  await reconcileCompactState(fileName);
  // 1. .vif
  const vifPath = fileName('.vif');
  const lv = await loadVolumeInfo(vifPath);
  const vi = lv.info;
  let hasVif = lv.exists;
  if (vi.version === 0) vi.version = CURRENT_VERSION;
  // a remote-tiered volume needs a backend factory for its type, or it is refused here
  const remoteFactory = vi.files.length > 0 ? (o.backends ?? backendRegistry).factoryFor(id, vi) : undefined;
  if (vi.bytesOffset === 0) vi.bytesOffset = w;
  if (vi.bytesOffset !== w) {
    throw new OffsetWidthMismatchError(
      `BytesOffset mismatch in volume info file ${vifPath}, try use binary version ${w === 5 ? 'without' : 'with'} large_disk ` +
        `(the volume was written with ${vi.bytesOffset}-byte offsets; this server uses ${w}-byte offsets: ` +
        `set storage.offsetBytes / WEED_OFFSET_BYTES = ${vi.bytesOffset} to open it)`,
    );
  }
  if (remoteFactory) {
    // Go: a tiered volume takes deletes but no writes
    noWriteCanDelete = true;
  } else if (vi.readOnly) {
    if (vi.readOnlyCanDelete) noWriteCanDelete = true;
    else noWriteOrDelete = true;
  }

  // 2. the data file
  const datPath = fileName('.dat');
  let datSize = 0;
  let datMtimeMs: number;
  let dat: BackendStorageFile;
  if (remoteFactory) {
    dat = opened.dat = await remoteFactory.open(vi.files[0], { id, info: vi });
    const st = await dat.stat();
    datSize = st.size;
    datMtimeMs = st.mtimeMs;
  } else {
    let datStat: Stats | undefined;
    try {
      datStat = await stat(datPath);
    } catch (e) {
      if (!isENOENT(e)) throw new StorageIoError(`cannot load volume data ${datPath}: ${(e as Error).message}`, { cause: e });
    }
    if (datStat) {
      try {
        dat = opened.dat = await DiskFile.open(datPath, 'r+');
      } catch (e) {
        if (!isReadOnlyFsError(e)) {
          throw new StorageIoError(`cannot load volume data ${datPath}: ${(e as Error).message}`, { cause: e });
        }
        dat = opened.dat = await DiskFile.open(datPath, 'r');
        filesReadOnly = true;
        noWriteOrDelete = true;
      }
      datSize = datStat.size;
      datMtimeMs = datStat.mtimeMs;
    } else if (create) {
      dat = opened.dat = await DiskFile.open(datPath, 'create');
      datMtimeMs = Date.now();
    } else {
      throw new StorageIoError(`volume data file ${datPath} does not exist`);
    }
  }
  let lastModifiedTsSeconds = Math.floor(datMtimeMs / 1000);
  const hasSuperBlock = datSize >= SUPER_BLOCK_SIZE;

  // 3. super block
  let superBlock: SuperBlock;
  if (hasSuperBlock) {
    const head = await readBufferAt(dat, SUPER_BLOCK_SIZE, 0);
    const extraSize = SuperBlock.extraSizeOf(head);
    let all: Buffer = head;
    if (extraSize > 0) {
      const got = Buffer.alloc(SUPER_BLOCK_SIZE + extraSize);
      head.copy(got);
      const n = await dat.readAt(got, SUPER_BLOCK_SIZE, extraSize, SUPER_BLOCK_SIZE);
      all = got.subarray(0, SUPER_BLOCK_SIZE + n);
    }
    superBlock = SuperBlock.parse(all, String(id));
    vi.version = superBlock.version;
  } else {
    if (!create) throw new SuperBlockError(`volume ${datPath} not initialized`);
    if (datSize !== 0) throw new SuperBlockError(`cannot read volume ${datPath} super block: unexpected EOF`);
    const version = create.version ?? CURRENT_VERSION;
    if (!isSupportedVersion(version)) {
      throw new UnsupportedVersionError(version, `volume super block version ${version} is not supported`);
    }
    superBlock = new SuperBlock(version, create.replicaPlacement, create.ttl, 0);
    const sb = superBlock.toBytes();
    await dat.writeAt(sb, 0, sb.length, 0);
    datSize = sb.length;
  }
  if (vi.replication !== '') {
    try {
      superBlock.replicaPlacement = ReplicaPlacement.parse(vi.replication);
    } catch (e) {
      throw new InvalidReplicaPlacementError(`Error parse volume ${id} replication ${vi.replication} : ${(e as Error).message}`);
    }
  }
  const version = superBlock.version;

  // 4. index file
  if (idxDir !== o.dir && (await pathExists(volumeFileName(o.dir, o.collection, id) + '.idx'))) idxDir = o.dir;
  const idxPath = fileName('.idx');
  if (!(await pathExists(idxPath)) && datSize > SUPER_BLOCK_SIZE) {
    await rebuildIndexFile(dat, datSize, superBlock, w, idxPath, idxDir);
  }
  let idx: FileHandle;
  if (filesReadOnly) {
    idx = opened.idx = await open(idxPath, 'r');
  } else {
    try {
      idx = opened.idx = await open(idxPath, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
    } catch (e) {
      if (!isReadOnlyFsError(e)) throw e;
      idx = opened.idx = await open(idxPath, 'r');
      filesReadOnly = true;
      noWriteOrDelete = true;
    }
  }
  let idxSize = (await idx.stat()).size;

  // 5. offset width / geometry of the index (refuse rather than misread)
  const check = await checkIndexFile(idx, idxPath, datSize, w, version);
  if (check.widthMismatch) throw check.widthMismatch;
  if (check.corruption) markReadOnly(check.corruption.message);

  // 6. Go's integrity check (repairs a torn tail on writable volumes)
  const ctx = {
    datName: datPath,
    idxName: idxPath,
    dat,
    idx,
    datSize,
    idxSize,
    width: w,
    version,
    firstNeedleOffset: superBlock.blockSize(),
    writable: !noWriteOrDelete && !remoteFactory,
  };
  const integrity = await checkVolumeDataIntegrity(ctx);
  datSize = integrity.datSize;
  idxSize = integrity.idxSize;
  if (integrity.error) markReadOnly(integrity.error.message);
  if (integrity.cut > 0 || integrity.reindexed > 0) datMtimeMs = Date.now();
  if (superBlock.ttl.minutes() > 0) {
    const s = await findLastWriteSeconds(ctx, superBlock.compactionRevision).catch(() => 0);
    if (s > 0) lastModifiedTsSeconds = s;
  }

  // 7. needle map
  const { map: nm } = await NeedleMap.load(idx, w, version);
  if (datSize > 0 && nm.maxNeedleEnd > datSize) {
    markReadOnly(`volume ${id}: idx references end=${nm.maxNeedleEnd} but .dat is ${datSize} bytes; marking readonly`);
  }

  // 8. persisted "unavailable" marker (Go's restoreUnavailable)
  if (await pathExists(fileName('.unavailable'))) markReadOnly(`volume ${id} is unavailable`);

  // 9. every loaded volume ends up with a .vif
  if (!hasVif) {
    vi.version = version;
    vi.bytesOffset = w;
    try {
      await saveVolumeInfo(vifPath, vi);
      hasVif = true;
    } catch {
      // Go only warns
    }
  }
  return {
    dat,
    idx,
    nm,
    datSize,
    idxSize,
    datMtimeMs,
    superBlock,
    volumeInfo: vi,
    hasVif,
    idxDir,
    filesReadOnly,
    noWriteOrDelete,
    noWriteCanDelete,
    hasRemoteFile: remoteFactory !== undefined,
    readOnlyReason,
    lastAppendAtNs: integrity.lastAppendAtNs,
    lastModifiedTsSeconds,
  };
}

/** Go's rebuildIdxFile: regenerate a missing .idx from the .dat (temp file, rename, fsync dir). */
async function rebuildIndexFile(
  dat: BackendStorageFile,
  datSize: number,
  sb: SuperBlock,
  width: OffsetWidth,
  idxPath: string,
  idxDir: string,
): Promise<void> {
  const rows = await rebuildIndexRows(dat, datSize, sb.blockSize(), width, sb.version);
  const tmp = idxPath + '.tmp';
  const fh = await open(tmp, 'w', 0o644);
  try {
    await pwriteFull(fh, rows, 0, rows.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, idxPath);
  const dh = await open(idxDir, 'r').catch(() => undefined);
  await dh?.sync().catch(() => undefined);
  await dh?.close();
}
