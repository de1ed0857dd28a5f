// EC files on disk: the sorted index written from a volume's .idx (Go's WriteSortedFileFromIdx)
// and the removal of an earlier run's artifacts (Go's removeStaleEcArtifacts,
// weed/server/volume_grpc_erasure_coding.go).
import { existsSync } from 'node:fs';
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ecShardExt } from '../../core/storage/ec-placement.js';
import { idxEntryBytes, walkIndexFile } from '../../core/storage/idx.js';
import { indexEntrySize, needleIdFromHalves, readU64, type OffsetWidth } from '../../core/storage/types.js';
import { MAX_SHARD_COUNT } from './ec-volume.js';

/**
 * Replays the .idx (later rows win; offset 0 or a deleted size removes the key) and writes the
 * survivors in ascending id order: the .ecx. Memory: one entry per live needle, like Go's MemDb.
 * `sync: false` leaves the fsync to the caller (syncFile), who can overlap it with other work.
 */
export async function writeSortedEcx(idxPath: string, ecxPath: string, width: OffsetWidth, opts: { sync?: boolean } = {}): Promise<void> {
  const live = new Map<bigint, { offsetUnits: number; size: number }>();
  const idx = await open(idxPath, 'r');
  try {
    await walkIndexFile(idx, width, (hi, lo, offsetUnits, size) => {
      const id = needleIdFromHalves(hi, lo);
      if (offsetUnits !== 0 && size >= 0) live.set(id, { offsetUnits, size });
      else live.delete(id);
    });
  } finally {
    await idx.close();
  }
  const ids = [...live.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const fh = await open(ecxPath, 'w', 0o644);
  try {
    const chunk: Buffer[] = [];
    for (const id of ids) {
      const e = live.get(id)!;
      chunk.push(idxEntryBytes(id, e.offsetUnits * 8, e.size, width));
      if (chunk.length >= 4096) await fh.write(Buffer.concat(chunk.splice(0)));
    }
    if (chunk.length) await fh.write(Buffer.concat(chunk));
    if (opts.sync !== false) await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a file already written and closed. */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function removeIfExists(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** `<base>.ecsum` and its reserved `<base>.ecsum.v<N>` generations. */
export async function removeEcsumFiles(base: string): Promise<void> {
  await removeIfExists(base + '.ecsum');
  let names: string[];
  try {
    names = await readdir(dirname(base));
  } catch {
    return;
  }
  const prefix = basename(base) + '.ecsum.v';
  for (const n of names) if (n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length))) await removeIfExists(join(dirname(base), n));
}

/** Every EC artifact of a volume on one disk; the .vif only where no .idx says a volume owns it. */
export async function removeStaleEcArtifacts(dataBase: string, indexBase: string): Promise<void> {
  for (let i = 0; i < MAX_SHARD_COUNT; i++) {
    await removeIfExists(dataBase + ecShardExt(i));
    // A rebuild's temp output, left by a crash mid-rebuild (rebuild.ts writes `<shard>.rebuilding`).
    await removeIfExists(dataBase + ecShardExt(i) + '.rebuilding');
  }
  for (const base of dataBase === indexBase ? [indexBase] : [indexBase, dataBase]) {
    await removeIfExists(base + '.ecx');
    await removeIfExists(base + '.ecj');
    await removeEcsumFiles(base);
  }
  if (!existsSync(indexBase + '.idx')) {
    await removeIfExists(indexBase + '.vif');
    if (dataBase !== indexBase && !existsSync(dataBase + '.idx')) await removeIfExists(dataBase + '.vif');
  }
}

/**
 * Go's RebuildEcxFile: every id journalled in `<indexBase>.ecj` gets its .ecx size set to the
 * tombstone in place; the .ecx is fsynced and the .ecj removed. No .ecj: nothing to do.
 */
export async function rebuildEcxFile(indexBase: string, width: OffsetWidth): Promise<void> {
  let journal: Buffer;
  try {
    journal = await readFile(indexBase + '.ecj');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const es = indexEntrySize(width);
  const sizeAt = width === 5 ? 13 : 12;
  const fh = await open(indexBase + '.ecx', 'r+');
  try {
    const rows = Math.floor((await fh.stat()).size / es);
    const entry = Buffer.allocUnsafe(es);
    const tomb = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    for (let j = 0; j + 8 <= journal.length; j += 8) {
      const id = readU64(journal, j);
      let lo = 0;
      let hi = rows;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        await fh.read(entry, 0, es, mid * es);
        const got = readU64(entry, 0);
        if (got === id) {
          await fh.write(tomb, 0, 4, mid * es + sizeAt);
          break;
        }
        if (got < id) lo = mid + 1;
        else hi = mid;
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rm(indexBase + '.ecj', { force: true });
}
