// What vacuum needs of a volume (a narrow view, so vacuum does not depend on the whole Volume),
// and the per-volume compaction state (Go's isCompactionInProgress, lastCompactIndexOffset,
// lastCompactRevision).
import type { SuperBlock } from '../super-block.js';
import type { OffsetWidth, Ttl, Version } from '../types.js';

export interface CompactableVolume {
  readonly id: number;
  readonly dir: string;
  readonly idxDir: string;
  readonly offsetWidth: OffsetWidth;
  readonly version: Version;
  readonly ttl: Ttl;
  readonly superBlock: SuperBlock;
  fileName(ext: string): string;
  contentSize(): number;
  deletedSize(): number;
  deletedCount(): number;
  fileCount(): number;
  datFileSize(): number;
  idxFileSize(): number;
  /** Reads up to `length` .dat bytes at `position` (the live file, for the commit's catch-up). */
  readDataRange(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Runs `task` with writes and deletes held off (queued fsync writes flushed first). */
  runExclusive<T>(task: () => Promise<T>): Promise<T>;
  /** Inside runExclusive: fsyncs both files and returns the snapshot compaction copies from. */
  syncForCompaction(): Promise<{ idxSize: number; datSize: number; superBlock: SuperBlock }>;
  /** Inside runExclusive, after the swap: takes over the new files. */
  reloadAfterCompaction(): Promise<void>;
  /** A failure left the files in doubt: no more writes or deletes. */
  markUnhealthy(reason: string): void;
}

export interface CompactionState {
  /** Go's isCompactionInProgress: one compaction or commit at a time. */
  inProgress: boolean;
  /** .idx length when the last compaction started (rows after it are replayed at commit). */
  lastCompactIndexOffset: number;
  /** Super block compaction revision when the last compaction started. */
  lastCompactRevision: number;
}

const states = new WeakMap<CompactableVolume, CompactionState>();

export function stateOf(v: CompactableVolume): CompactionState {
  let s = states.get(v);
  if (!s) {
    s = { inProgress: false, lastCompactIndexOffset: 0, lastCompactRevision: 0 };
    states.set(v, s);
  }
  return s;
}

/** True while a compaction or a commit of this volume runs. */
export function isCompacting(v: CompactableVolume): boolean {
  return states.get(v)?.inProgress ?? false;
}
