// A volume's data file as reads see it across a compaction commit. A read that takes several
// preads (a needle's meta then its data, a needle streamed chunk by chunk) pins the file it started
// on: the commit swaps the volume to the new .dat and retires the old file, which is closed only
// when its last pin is let go. The old offsets stay valid in the old file (on Linux the
// renamed-over inode stays readable through the open descriptor), so such a read completes from
// the generation it started on instead of reading the new file at the old offsets.
//
// Bound: a retired file is not held open by a stalled reader. A pin that has no read in flight
// and has not read for RETIRED_PIN_IDLE_MS after its file was retired is revoked (its next read
// fails, which ends the response mid-body as a failed read does); a pin is otherwise released by
// its reader (the HTTP read releases it when the response closes, whichever way it ends).
import { StorageIoError } from '../storage-errors.js';
import type { BackendStorageFile, ReadableFile } from './backend-file.js';

/** How long a pin on a retired file may sit without reading before it is revoked (Go's default -idleTimeout). */
export const RETIRED_PIN_IDLE_MS = 30_000;

/** A reference to one generation of a data file: reads through it, then release() once. */
export interface FilePin extends ReadableFile {
  /** Lets go of the file (idempotent); a read still in flight finishes first. */
  release(): void;
}

class Pin implements FilePin {
  inFlight = 0;
  lastUseMs = Date.now();
  released = false;
  revoked = false;

  constructor(private readonly owner: PinnedFile) {}

  get name(): string {
    return this.owner.file.name;
  }

  async readAt(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (this.released) {
      const why = this.revoked ? `idle for more than ${RETIRED_PIN_IDLE_MS / 1000}s after the file was replaced by a compaction` : 'released';
      throw new StorageIoError(`${this.name}: read through a ${why} pin`);
    }
    this.inFlight++;
    try {
      return await this.owner.file.readAt(buf, offset, length, position);
    } finally {
      this.inFlight--;
      this.lastUseMs = Date.now();
      if (this.released && this.inFlight === 0) this.owner.drop(this);
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.inFlight === 0) this.owner.drop(this);
  }
}

export class PinnedFile {
  private readonly pins = new Set<Pin>();
  private retired = false;
  private closing: Promise<void> | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    readonly file: BackendStorageFile,
    private readonly idleMs = RETIRED_PIN_IDLE_MS,
  ) {}

  /** Pins held (released pins with a read in flight included). */
  get pinCount(): number {
    return this.pins.size;
  }

  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  /** A new pin; refused once the file is retired (new reads go to the volume's current file). */
  pin(): FilePin {
    if (this.retired) throw new StorageIoError(`${this.file.name}: file was replaced or closed`);
    const p = new Pin(this);
    this.pins.add(p);
    return p;
  }

  /**
   * No new pins; the file is closed now when unpinned (the close is returned) or when the last
   * pin is let go (null is returned), idle pins being revoked meanwhile.
   */
  retire(): Promise<void> | null {
    if (this.retired) return this.closing ?? null;
    this.retired = true;
    if (this.pins.size === 0) return this.close();
    const every = Math.max(10, Math.min(this.idleMs, 5_000));
    this.sweeper = setInterval(() => this.revokeIdle(), every);
    this.sweeper.unref();
    return null;
  }

  /** Called by a pin let go with nothing in flight. */
  drop(p: Pin): void {
    this.pins.delete(p);
    if (this.retired && this.pins.size === 0) void this.close();
  }

  private revokeIdle(): void {
    const now = Date.now();
    for (const p of [...this.pins]) {
      if (p.released || p.inFlight > 0 || now - p.lastUseMs < this.idleMs) continue;
      p.revoked = true;
      p.release();
    }
  }

  private close(): Promise<void> {
    if (!this.closing) {
      if (this.sweeper) clearInterval(this.sweeper);
      this.sweeper = undefined;
      // a close that fails leaves nothing to do: the file is gone from the volume either way
      this.closing = this.file.close().catch(() => undefined);
    }
    return this.closing;
  }
}
