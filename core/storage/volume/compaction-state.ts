// The on-disk state of a compaction commit (Go: weed/storage/volume_vacuum.go finishCompactSwap,
// reconcileCompactState): the .cpc marker decides whether a crash rolls the swap forward or drops
// the leftovers. Used by loading (before any file is opened) and by vacuum's commit.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathExists } from '../file-io.js';
import { StorageError, StorageIoError } from '../storage-errors.js';

/** Test hook: throw at a named step of the commit to simulate a crash there. */
export type CommitCrashPoint = 'after-marker' | 'after-dat-rename' | 'after-idx-rename';

/** fsyncs a directory so renames/creates/unlinks in it are durable (unopenable dirs tolerated). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EBADF') throw new StorageIoError(`sync dir ${dir}: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Go's finishCompactSwap: renames whichever temp file is still there (.cpd → .dat, .cpx → .idx),
 * fsyncs the directories, drops a stale .ldb/.rdb and clears the .cpc marker last.
 */
export async function finishCompactSwap(f: (ext: string) => string, crashAt?: CommitCrashPoint): Promise<void> {
  const cpd = await pathExists(f('.cpd'));
  const cpx = await pathExists(f('.cpx'));
  if (cpd) {
    try {
      await rename(f('.cpd'), f('.dat'));
    } catch (e) {
      throw new StorageIoError(`rename ${f('.cpd')}: ${(e as Error).message}`, { cause: e });
    }
  }
  if (crashAt === 'after-dat-rename') throw new StorageError('REFUSED', 'simulated crash after the .dat rename');
  if (cpx) {
    try {
      await rename(f('.cpx'), f('.idx'));
    } catch (e) {
      throw new StorageIoError(`rename ${f('.cpx')}: ${(e as Error).message}`, { cause: e });
    }
  }
  if (crashAt === 'after-idx-rename') throw new StorageError('REFUSED', 'simulated crash after the .idx rename');
  if (cpd || cpx) {
    const datDir = dirname(f('.dat'));
    const idxDir = dirname(f('.idx'));
    await fsyncDir(datDir);
    if (idxDir !== datDir) await fsyncDir(idxDir);
    await rm(f('.ldb'), { recursive: true, force: true }).catch(() => undefined);
    await rm(f('.rdb'), { force: true }).catch(() => undefined);
  }
  await rm(f('.cpc'), { force: true });
  await fsyncDir(dirname(f('.cpc')));
}

/**
 * Go's reconcileCompactState, run before a volume's files are opened: with a .cpc marker the swap
 * was decided and is finished (roll forward); without one, leftover .cpd/.cpx are an abandoned
 * compaction and are removed (roll back).
 */
export async function reconcileCompactState(
  fileName: (ext: string) => string,
): Promise<'none' | 'rolled-forward' | 'rolled-back'> {
  if (await pathExists(fileName('.cpc'))) {
    await finishCompactSwap(fileName);
    return 'rolled-forward';
  }
  let rolledBack = false;
  for (const ext of ['.cpd', '.cpx']) {
    if (await pathExists(fileName(ext))) {
      await rm(fileName(ext), { force: true });
      rolledBack = true;
    }
  }
  if (rolledBack) {
    await rm(fileName('.ldb'), { recursive: true, force: true }).catch(() => undefined);
    await rm(fileName('.rdb'), { force: true }).catch(() => undefined);
    return 'rolled-back';
  }
  return 'none';
}
