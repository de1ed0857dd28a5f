// Garbage ratio and the free-space check before a compaction (Go: weed/storage/volume_vacuum.go
// garbageLevel, compactionSpaceNeeded, ensureCompactVolumeSpace).
import { stat } from 'node:fs/promises';
import { diskStatus } from '../disk-status.js';
import { StorageError } from '../storage-errors.js';
import { SUPER_BLOCK_SIZE } from '../super-block.js';
import { NEEDLE_PADDING_SIZE, actualSize, indexEntrySize } from '../types.js';
import type { CompactableVolume } from './compactable.js';
// garbage ratio and space check

/** Go's garbageLevel (weed/storage/volume_vacuum.go): deleted bytes / content bytes, with the .sdx special case. */
export function garbageLevel(v: CompactableVolume): number {
  const content = v.contentSize();
  if (content === 0) return 0;
  let deleted = v.deletedSize();
  let total = content;
  if (v.deletedCount() > 0 && deleted === 0) {
    // an index converted back from .sdx carries no deleted sizes
    total = v.datFileSize();
    deleted = total - content - SUPER_BLOCK_SIZE;
  }
  return deleted / total;
}

function withHeadroom(n: number): number {
  return n + Math.floor(n / 16);
}

/** Go's compactionSpaceNeeded: bytes the new .dat and .idx will take (estimates, capped). */
export function compactionSpaceNeeded(v: CompactableVolume, preallocate = 0): { dataBytes: number; indexBytes: number } {
  let dataBytes = v.datFileSize();
  let indexBytes = v.idxFileSize();
  const liveCount = v.fileCount() - v.deletedCount();
  const liveContent = v.contentSize() - v.deletedSize();
  const deletedSizeKnown = v.deletedCount() === 0 || v.deletedSize() > 0;
  if (deletedSizeKnown && liveCount >= 0 && liveContent >= 0) {
    const perNeedle = actualSize(0, v.version) + NEEDLE_PADDING_SIZE;
    const d = withHeadroom(SUPER_BLOCK_SIZE + liveContent + liveCount * perNeedle);
    if (d < dataBytes) dataBytes = d;
    const i = withHeadroom(liveCount * indexEntrySize(v.offsetWidth));
    if (i < indexBytes) indexBytes = i;
  }
  if (preallocate > dataBytes) dataBytes = preallocate;
  return { dataBytes, indexBytes };
}

/** Go's ensureCompactVolumeSpace; `freeBytes` is replaceable for tests. */
export async function ensureCompactionSpace(
  v: CompactableVolume,
  preallocate = 0,
  freeBytes: (dir: string) => number = (dir) => diskStatus(dir).free,
): Promise<void> {
  const { dataBytes, indexBytes } = compactionSpaceNeeded(v, preallocate);
  const check = (dir: string, needed: number) => {
    const free = freeBytes(dir);
    if (free < needed) {
      throw new StorageError(
        'INSUFFICIENT_SPACE',
        `insufficient free space for compaction in ${dir}: need ${needed} bytes (data: ${dataBytes}, index: ${indexBytes}, ` +
          `current volume: ${v.datFileSize()}, current index: ${v.idxFileSize()}), but only ${free} bytes available: insufficient free space`,
      );
    }
  };
  if (v.idxDir === v.dir) return check(v.dir, dataBytes + indexBytes);
  let same: boolean;
  try {
    same = (await stat(v.dir)).dev === (await stat(v.idxDir)).dev;
  } catch {
    same = true;
  }
  if (!same) {
    check(v.dir, dataBytes);
    return check(v.idxDir, indexBytes);
  }
  check(v.dir, dataBytes + indexBytes);
  check(v.idxDir, indexBytes);
}
