// Vacuum (compaction) of one volume (Go: weed/storage/volume_vacuum.go): garbage ratio, compact by index into
// .cpd/.cpx, crash-safe commit with the .cpc marker, cleanup. The parts live in ./vacuum/; the
// load-time reconciliation of an interrupted commit is in ./volume/compaction-state.ts.
export { isCompacting, type CompactableVolume } from './vacuum/compactable.js';
export { compactionSpaceNeeded, ensureCompactionSpace, garbageLevel } from './vacuum/garbage.js';
export { WriteThrottler } from './vacuum/throttler.js';
export { compactVolume, type CompactOptions, type CompactResult } from './vacuum/compact.js';
export { COMPACT_TOMBSTONE_COOKIE, cleanupCompaction, commitCompaction, type CommitResult } from './vacuum/commit.js';
export { reconcileCompactState, type CommitCrashPoint } from './volume/compaction-state.js';
