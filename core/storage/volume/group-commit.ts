// The fsync group commit (Go: weed/storage/volume_write.go startWorker / processBatch /
// processBatchRun): fsync=true writes are queued and handled in batches of up to 128 requests or
// 4 MiB, with one .dat fsync and one .idx fsync per batch; each request is acknowledged only after
// its batch is synced.
import { StorageIoError, VolumeClosedError, VolumeReadOnlyError } from '../storage-errors.js';
import { needleIdToHex } from '../types.js';
import { SYNC_BATCH_MAX_BYTES, SYNC_BATCH_MAX_REQUESTS, type WriteResult } from './options.js';
import { VolumeFileWrites } from './write-from-file.js';
import type { PendingSyncWrite } from './writes.js';

export abstract class VolumeGroupCommit extends VolumeFileWrites {
  private syncQueue: PendingSyncWrite[] = [];
  private syncScheduled = false;

  protected enqueueSyncWrite(p: PendingSyncWrite): void {
    this.syncQueue.push(p);
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      void this.lock.run(() => this.drainSyncQueue());
    });
  }

  /** Handles every queued fsync write (inside the write lock). */
  protected async drainSyncQueue(): Promise<void> {
    while (this.syncQueue.length > 0) {
      const batch: PendingSyncWrite[] = [];
      let bytes = 0;
      while (this.syncQueue.length > 0 && batch.length < SYNC_BATCH_MAX_REQUESTS && bytes < SYNC_BATCH_MAX_BYTES) {
        const r = this.syncQueue.shift()!;
        try {
          this.assertContentRoom(bytes + r.bytes);
        } catch (e) {
          r.reject(e);
          continue;
        }
        batch.push(r);
        bytes += r.bytes;
      }
      // Go splits a batch into runs without duplicate ids.
      let run: PendingSyncWrite[] = [];
      const seen = new Set<bigint>();
      for (const r of batch) {
        if (seen.has(r.needle.id)) {
          await this.processSyncRun(run);
          run = [];
          seen.clear();
        }
        seen.add(r.needle.id);
        run.push(r);
      }
      if (run.length > 0) await this.processSyncRun(run);
    }
  }

  /** Go's processBatchRun: append all, one fsync, publish all, one index fsync, acknowledge. */
  private async processSyncRun(run: PendingSyncWrite[]): Promise<void> {
    const dat = this.dat;
    const idx = this.idx;
    if (this.closed || !dat || !idx) {
      for (const r of run) r.reject(new VolumeClosedError(this.id));
      return;
    }
    const end = this.datSize;
    const savedAppendAtNs = this.lastAppendAtNs;
    const savedModified = this.lastModifiedTsSeconds;
    const results: (WriteResult | Error)[] = [];
    for (const r of run) {
      if (this.isReadOnly()) {
        results.push(new VolumeReadOnlyError(this.id));
        continue;
      }
      try {
        results.push(r.file ? await this.appendWriteFromFile(r.needle, r.file, r.checkCookie) : await this.appendWrite(r.needle, r.checkCookie));
      } catch (e) {
        results.push(e as Error);
      }
    }
    if (this.datSize !== end) {
      try {
        await dat.sync();
      } catch (e) {
        this.lastAppendAtNs = savedAppendAtNs;
        this.lastModifiedTsSeconds = savedModified;
        let err: Error = new StorageIoError(`sync ${this.fileName('.dat')}: ${(e as Error).message}`, { cause: e });
        try {
          await dat.truncate(end);
          this.datSize = end;
        } catch (te) {
          err = new StorageIoError(`${err.message}; truncate ${this.fileName('.dat')} to ${end}: ${(te as Error).message}`);
          this.markFailed(err.message);
        }
        for (const r of run) r.reject(err);
        return;
      }
    }
    let published = false;
    for (let i = 0; i < run.length; i++) {
      const res = results[i];
      if (res instanceof Error || res.unchanged) continue;
      try {
        this.publishWrite(run[i].needle, res.offset);
        published = true;
      } catch (e) {
        results[i] = e as Error;
        this.markFailed(`index needle ${needleIdToHex(run[i].needle.id)} of volume ${this.id}: ${(e as Error).message}`);
      }
    }
    if (published) {
      try {
        await idx.sync();
      } catch (e) {
        this.markFailed(`sync volume ${this.id} index: ${(e as Error).message}`);
        const err = new StorageIoError(`sync volume ${this.id} index: ${(e as Error).message}`, { cause: e });
        for (const r of run) r.reject(err);
        return;
      }
    }
    for (let i = 0; i < run.length; i++) {
      const res = results[i];
      if (res instanceof Error) run[i].reject(res);
      else run[i].resolve(res);
    }
  }
}
