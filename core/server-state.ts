// The volume server's persisted state (maintenance flag + optimistic-concurrency version), kept in
// `state.pb` in the first data dir exactly as Go stores it: a VolumeServerState protobuf message.
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { vsError } from './errors.js';

export interface VolumeServerState {
  maintenance: boolean;
  version: number;
}

export const STATE_FILE_NAME = 'state.pb';

// VolumeServerState { bool maintenance = 1; uint32 version = 2; } — two scalar fields, so a
// hand-written codec avoids pulling protobuf reflection into startup.
export function encodeState(s: VolumeServerState): Buffer {
  const bytes: number[] = [];
  if (s.maintenance) bytes.push(0x08, 0x01);
  if (s.version) {
    bytes.push(0x10);
    let v = s.version >>> 0;
    while (v >= 0x80) {
      bytes.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    bytes.push(v);
  }
  return Buffer.from(bytes);
}

export function decodeState(buf: Buffer): VolumeServerState {
  const out: VolumeServerState = { maintenance: false, version: 0 };
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++];
      if (shift < 32) result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return result;
      if (shift > 63) throw new Error('varint too long');
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 1) out.maintenance = v !== 0;
      else if (field === 2) out.version = v >>> 0;
    } else if (wire === 2) {
      const len = varint(); // read first: `i += varint()` would use i from before the length
      i += len;
    } else if (wire === 5) {
      i += 4;
    } else if (wire === 1) {
      i += 8;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
    if (i > buf.length) throw new Error('truncated field');
  }
  return out;
}

export class ServerState extends EventEmitter<{ changed: [VolumeServerState] }> {
  private state: VolumeServerState = { maintenance: false, version: 0 };
  readonly filePath: string;

  constructor(dir: string) {
    super();
    this.filePath = join(dir, STATE_FILE_NAME);
    if (existsSync(this.filePath)) {
      try {
        this.state = decodeState(readFileSync(this.filePath));
      } catch (e) {
        throw new Error(`failed to parse store state from ${this.filePath} : ${(e as Error).message}`, { cause: e });
      }
    }
  }

  get(): VolumeServerState {
    return { ...this.state };
  }

  get maintenance(): boolean {
    return this.state.maintenance;
  }

  /**
   * Go semantics: a missing state is a no-op; the caller must present the current version; the
   * stored version then increments. A failed save keeps the old state.
   */
  update(next: VolumeServerState | null | undefined): VolumeServerState {
    if (!next) return this.get();
    const want = next.version >>> 0;
    if (this.state.version !== want) throw vsError('VS_ERR_STATE_VERSION_MISMATCH', this.state.version, want);
    const updated: VolumeServerState = { maintenance: !!next.maintenance, version: (want + 1) >>> 0 };
    try {
      const tmp = `${this.filePath}.tmp`;
      writeFileSync(tmp, encodeState(updated), { mode: 0o644 });
      renameSync(tmp, this.filePath);
    } catch (e) {
      throw vsError('VS_ERR_STATE_SAVE', this.filePath, (e as Error).message);
    }
    this.state = updated;
    this.emit('changed', this.get());
    return this.get();
  }
}
