// Commit and cleanup of a compaction (Go: weed/storage/volume_vacuum.go CommitCompact, makeupDiff,
// cleanupCompact). Commit holds the write mutex only for the short catch-up: the index rows
// appended since the snapshot (writes, overwrites, deletes made during the compaction) are
// replayed into the compacted files, the .cpc marker is written, the files are renamed into place
// and the volume swaps to the new files in one synchronous step. Reads never wait: until the swap
// they use the old handles (the renamed-over inodes stay readable), after it the new ones.
import { constants as fsConstants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathExists, preadUpTo, pwriteFull } from '../file-io.js';
import { walkIndexFile, writeIdxEntryHL } from '../idx.js';
import { encodeNeedle, newNeedle } from '../needle.js';
import { StorageError, StorageIoError } from '../storage-errors.js';
import { SUPER_BLOCK_SIZE } from '../super-block.js';
import { NEEDLE_PADDING_SIZE, actualSize, indexEntrySize, needleIdHi, needleIdLo, readU16, type Size } from '../types.js';
import { finishCompactSwap, fsyncDir, type CommitCrashPoint } from '../volume/compaction-state.js';
import { alignUp } from './compact.js';
import { stateOf, type CompactableVolume, type CompactionState } from './compactable.js';

/** Cookie of the tombstones commit synthesizes for deletes made during a compaction (as Go). */
export const COMPACT_TOMBSTONE_COOKIE = 0x12345678;

// commit

export interface CommitResult {
  /** False when a compaction of the volume was still running (Go then does nothing). */
  committed: boolean;
  /** Index rows written during the compaction that were replayed into the new files. */
  replayed: number;
}


/**
 * Go's CommitCompact: replays the index tail written since the compaction started, writes the
 * .cpc marker, renames .cpd → .dat and .cpx → .idx, clears the marker and reloads the volume.
 */
export async function commitCompaction(v: CompactableVolume, hooks: { crashAt?: CommitCrashPoint } = {}): Promise<CommitResult> {
  const st = stateOf(v);
  if (st.inProgress) return { committed: false, replayed: 0 };
  st.inProgress = true;
  try {
    return await v.runExclusive(async () => {
      const f = (ext: string) => v.fileName(ext);
      if (!(await pathExists(f('.cpd'))) || !(await pathExists(f('.cpx')))) {
        throw new StorageError('REFUSED', `volume ${v.id} compact swap aborted: missing .cpd/.cpx`);
      }
      let replayed: number;
      try {
        replayed = await makeupDiff(v, st);
      } catch (e) {
        await rm(f('.cpd'), { force: true }).catch(() => undefined);
        await rm(f('.cpx'), { force: true }).catch(() => undefined);
        throw e;
      }
      // From here on a crash rolls forward: the marker decides the swap.
      await writeCommitMarker(f('.cpc'));
      if (hooks.crashAt === 'after-marker') throw new StorageError('REFUSED', 'simulated crash after the commit marker');
      try {
        await finishCompactSwap(f, hooks.crashAt);
        await v.reloadAfterCompaction();
      } catch (e) {
        if (!String((e as Error).message).startsWith('simulated crash')) {
          v.markUnhealthy(`commit compaction of volume ${v.id}: ${(e as Error).message}`);
        }
        throw e;
      }
      return { committed: true, replayed };
    });
  } finally {
    st.inProgress = false;
  }
}

async function writeCommitMarker(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC, 0o644);
  } catch (e) {
    throw new StorageIoError(`create commit marker ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    await fh.sync();
  } catch (e) {
    throw new StorageIoError(`sync commit marker ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh.close().catch(() => undefined);
  }
  await fsyncDir(dirname(path));
}

/**
 * Go's makeupDiff: the index rows appended since the compaction started (writes, overwrites,
 * deletes made while it ran), newest per needle, are applied to the .cpd/.cpx: a live record is
 * copied verbatim from the old .dat, anything else becomes a synthesized tombstone.
 */
async function makeupDiff(v: CompactableVolume, st: CompactionState): Promise<number> {
  const width = v.offsetWidth;
  const version = v.version;
  const es = indexEntrySize(width);
  const idxSize = v.idxFileSize();
  if (idxSize === 0 || idxSize <= st.lastCompactIndexOffset) return 0;
  if (idxSize % es !== 0) {
    throw new StorageError('INDEX_CORRUPTED', `verifyIndexFileIntegrity ${v.fileName('.idx')} failed: index file's size is ${idxSize} bytes, maybe corrupted`);
  }
  const oldRevision = v.superBlock.compactionRevision;
  if (oldRevision !== st.lastCompactRevision) {
    throw new StorageError(
      'REFUSED',
      `current old dat file's compact revision ${oldRevision} is not the expected one ${st.lastCompactRevision}`,
    );
  }

  // newest entry per key; the Map keeps the order of each key's last row
  const latest = new Map<bigint, { hi: number; lo: number; units: number; size: Size }>();
  const idxFh = await open(v.fileName('.idx'), 'r');
  try {
    const fromRow = Math.floor(st.lastCompactIndexOffset / es);
    await walkIndexFile(
      idxFh,
      width,
      (hi, lo, units, size) => {
        const key = (BigInt(hi) << 32n) | BigInt(lo);
        latest.delete(key);
        latest.set(key, { hi, lo, units, size });
      },
      { fromRow, rows: idxSize / es - fromRow },
    );
  } finally {
    await idxFh.close().catch(() => undefined);
  }
  if (latest.size === 0) return 0;

  const cpdPath = v.fileName('.cpd');
  const dst = await open(cpdPath, 'r+').catch((e) => {
    throw new StorageIoError(`open dat file ${cpdPath} failed: ${(e as Error).message}`, { cause: e });
  });
  const cpxPath = v.fileName('.cpx');
  let idx: FileHandle;
  try {
    idx = await open(cpxPath, 'r+');
  } catch (e) {
    await dst.close().catch(() => undefined);
    throw new StorageIoError(`open idx file ${cpxPath} failed: ${(e as Error).message}`, { cause: e });
  }
  try {
    const head = Buffer.alloc(SUPER_BLOCK_SIZE);
    await preadUpTo(dst, head, 0, SUPER_BLOCK_SIZE, 0);
    const newRevision = readU16(head, 4);
    if (((oldRevision + 1) & 0xffff) !== newRevision) {
      throw new StorageError(
        'REFUSED',
        `oldDatFile ${v.fileName('.dat')} 's compact revision is ${oldRevision} while newDatFile ${cpdPath} 's compact revision is ${newRevision}`,
      );
    }
    let datEnd = alignUp((await dst.stat()).size);
    let idxEnd = (await idx.stat()).size;
    const row = Buffer.alloc(es);
    for (const [key, e] of latest) {
      const offset = e.units * NEEDLE_PADDING_SIZE;
      let rec: Buffer;
      if (e.units !== 0 && e.size > 0) {
        const len = actualSize(e.size, version);
        rec = Buffer.allocUnsafe(len);
        const got = await v.readDataRange(rec, 0, len, offset);
        if (got < len) {
          throw new StorageIoError(
            `ReadNeedleBlob ${v.fileName('.dat')} key ${key} offset ${offset} size ${e.size} failed: ${got === 0 ? 'EOF' : 'unexpected EOF'}`,
          );
        }
      } else {
        const t = newNeedle({ cookie: COMPACT_TOMBSTONE_COOKIE, id: key, checksum: 0 });
        t.appendAtNs = BigInt(Date.now()) * 1_000_000n;
        rec = encodeNeedle(t, version);
      }
      await pwriteFull(dst, rec, 0, rec.length, datEnd);
      writeIdxEntryHL(row, 0, needleIdHi(key), needleIdLo(key), datEnd, e.size, width);
      await pwriteFull(idx, row, 0, es, idxEnd);
      datEnd += rec.length;
      idxEnd += es;
    }
    await dst.sync();
    await idx.sync();
  } finally {
    await idx.close().catch(() => undefined);
    await dst.close().catch(() => undefined);
  }
  return latest.size;
}

/**
 * Go's finishCompactSwap: renames whichever temp file is still there (.cpd → .dat, .cpx → .idx),
 * fsyncs the directories, drops a stale .ldb/.rdb and clears the .cpc marker last.
 */
// cleanup

/** Go's cleanupCompact: removes .cpd, .cpx, .cpldb and .cpc; refused while a .cpc marker exists. */
export async function cleanupCompaction(v: CompactableVolume): Promise<void> {
  await v.runExclusive(async () => {
    if (await pathExists(v.fileName('.cpc'))) {
      throw new StorageError('REFUSED', `volume ${v.id}: refusing cleanup while commit marker present`);
    }
    await rm(v.fileName('.cpd'), { force: true });
    await rm(v.fileName('.cpx'), { force: true });
    await rm(v.fileName('.cpldb'), { recursive: true, force: true });
    await rm(v.fileName('.cpc'), { force: true });
  });
}
