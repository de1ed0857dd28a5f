// One volume: its .dat (super block + appended needle records, behind a backend file), .idx (append
// log) and .vif (volume info), with Go's load-time checks, write/read/delete semantics and counters.
// The layers, each in its own file, follow the Go server's: state.ts (state and counters),
// loading.ts, reads.ts, writes.ts, write-from-file.ts, group-commit.ts; this file adds opening,
// what compaction needs and the lifecycle.
import { removeVolumeFiles, volumeFileName } from '../volume-files.js';
import { SuperBlock } from '../super-block.js';
import { VolumeNotEmptyError } from '../storage-errors.js';
import { VolumeGroupCommit } from './group-commit.js';
import { loadVolume } from './loading.js';
import type { VolumeCreateParams, VolumeOpenOptions } from './options.js';

export class Volume extends VolumeGroupCommit {
  /** Where a reload after compaction loads from (the options this volume was opened with). */
  private readonly openOptions: VolumeOpenOptions;

  private constructor(o: VolumeOpenOptions) {
    super(o);
    this.openOptions = { dir: o.dir, idxDir: o.idxDir, collection: o.collection, id: o.id, offsetWidth: o.offsetWidth, backends: o.backends };
  }

  /** Opens (and with `create`, creates) a volume, running Go's load sequence and checks. */
  static async open(o: VolumeOpenOptions): Promise<Volume> {
    const v = new Volume(o);
    v.adopt(await loadVolume(o), false);
    return v;
  }

  /** Creates a new volume (files named and filled as Go's NewVolume does). */
  static create(o: VolumeOpenOptions & { create: VolumeCreateParams }): Promise<Volume> {
    return Volume.open(o);
  }

  // ------------------------------------------------------------------ compaction support (vacuum/)

  /**
   * Runs `task` with writes and deletes of this volume held off (the write mutex, after queued
   * fsync writes are flushed). Reads keep going. The task must not call locking methods.
   */
  runExclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      await this.drainSyncQueue();
      this.assertOpen();
      return task();
    });
  }

  /**
   * Compaction snapshot (inside runExclusive): fsyncs the .dat and .idx and returns the index
   * length and super block the compaction copies from. Rows below `idxSize` and the records they
   * point to never change afterwards (both files are append-only).
   */
  async syncForCompaction(): Promise<{ idxSize: number; datSize: number; superBlock: SuperBlock }> {
    this.assertOpen();
    try {
      await this.dat!.sync();
      await this.idx!.sync();
    } catch {
      // Go only logs a failed sync before compacting
    }
    const sb = this.superBlock;
    return {
      idxSize: this.idxSize,
      datSize: this.datSize,
      superBlock: new SuperBlock(sb.version, sb.replicaPlacement, sb.ttl, sb.compactionRevision, sb.extra),
    };
  }

  /**
   * Compaction commit (inside runExclusive, after the compacted files were renamed into place):
   * loads the new .dat/.idx and takes over its files, map and sizes in one synchronous step, then
   * closes the old .idx and retires the old .dat: reads still running on it (pinned, reads.ts)
   * finish from it, and it is closed when the last of them lets go; the commit does not wait for
   * them. Runtime state (read-only marks, the write clock) is kept.
   */
  async reloadAfterCompaction(): Promise<void> {
    const loaded = await loadVolume({ ...this.openOptions, idxDir: this.idxDir });
    const oldDat = this.dat;
    const oldIdx = this.idx;
    this.adopt(loaded, true);
    const closing = oldDat ? this.retireData(oldDat) : null;
    await oldIdx?.close().catch(() => undefined);
    await closing;
  }

  /** Marks the volume read-only after a failure that left its files in doubt (compaction). */
  markUnhealthy(reason: string): void {
    this.markFailed(reason);
  }

  // ------------------------------------------------------------------ lifecycle

  /** fsyncs the .dat and .idx. */
  async sync(): Promise<void> {
    await this.lock.run(async () => {
      await this.dat?.sync();
      await this.idx?.sync();
    });
  }

  private async closeHandles(): Promise<void> {
    const dat = this.dat;
    const idx = this.idx;
    this.dat = null;
    this.datSync = null;
    this.idx = null;
    // reads still streaming from it finish first (bounded as in reads.ts)
    const closing = dat ? this.retireData(dat) : null;
    await idx?.close().catch(() => undefined);
    await closing;
  }

  /** Waits for queued writes, flushes and closes the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.lock.run(async () => {
      await this.drainSyncQueue();
      this.closed = true;
      try {
        await this.idx?.sync();
        await this.dat?.sync();
      } catch {
        // Go only warns
      }
      await this.closeHandles();
    });
  }

  /**
   * Go's Volume.Destroy: optionally only when empty (or only when garbage), then close and remove
   * every file of the volume (.vif kept when keepVif, e.g. shared with an EC volume).
   */
  async destroy(opts: { onlyEmpty?: boolean; onlyGarbage?: boolean; keepVif?: boolean } = {}): Promise<void> {
    if (opts.onlyEmpty || opts.onlyGarbage) {
      const ok = (opts.onlyEmpty && this.isEmpty()) || (opts.onlyGarbage && this.isGarbage());
      if (!ok) throw new VolumeNotEmptyError();
    }
    await this.close();
    await removeVolumeFiles(volumeFileName(this.dir, this.collection, this.id), opts.keepVif ?? false);
    if (this.idxDir !== this.dir) {
      await removeVolumeFiles(volumeFileName(this.idxDir, this.collection, this.id), opts.keepVif ?? false);
    }
  }
}
