// The super block at the start of every .dat (Go: weed/storage/super_block/super_block.go): 8 fixed bytes plus an
// optional protobuf SuperBlockExtra whose raw bytes are kept as-is.
import { SuperBlockError, UnsupportedVersionError } from './storage-errors.js';
import { ReplicaPlacement, Ttl, isSupportedVersion, readU16, writeU16, type Version } from './types.js';

export const SUPER_BLOCK_SIZE = 8;

export class SuperBlock {
  constructor(
    public version: Version,
    public replicaPlacement: ReplicaPlacement,
    public ttl: Ttl,
    public compactionRevision = 0,
    /** Raw SuperBlockExtra protobuf (never interpreted; Go writers always leave it empty). */
    public extra: Uint8Array = new Uint8Array(0),
  ) {}

  /** Where needle data starts: 8 + extra for v2/v3, 8 for v1. */
  blockSize(): number {
    return this.version === 1 ? SUPER_BLOCK_SIZE : SUPER_BLOCK_SIZE + this.extra.length;
  }

  toBytes(): Buffer {
    const extraLen = this.version === 1 ? 0 : this.extra.length;
    if (extraLen > 256 * 256 - 2) {
      throw new SuperBlockError(`super block extra size is ${extraLen} bigger than ${256 * 256 - 2}`);
    }
    const out = Buffer.alloc(SUPER_BLOCK_SIZE + extraLen);
    out[0] = this.version;
    out[1] = this.replicaPlacement.toByte();
    this.ttl.writeBytes(out, 2);
    writeU16(out, 4, this.compactionRevision & 0xffff);
    writeU16(out, 6, extraLen);
    if (extraLen > 0) out.set(this.extra, SUPER_BLOCK_SIZE);
    return out;
  }

  /**
   * Parses a super block from the first bytes of a .dat. `buf` must hold at least 8 bytes, and
   * 8 + extraSize bytes when an extra part is announced.
   */
  static parse(buf: Uint8Array, name = 'volume'): SuperBlock {
    if (buf.length < SUPER_BLOCK_SIZE) {
      throw new SuperBlockError(`cannot read volume ${name} super block: unexpected EOF`);
    }
    const version = buf[0];
    if (!isSupportedVersion(version)) {
      throw new UnsupportedVersionError(version, `Unsupported volume ${name} version ${version}`);
    }
    const rp = ReplicaPlacement.fromByte(buf[1]);
    const ttl = Ttl.fromBytes(buf, 2);
    const rev = readU16(buf, 4);
    const extraSize = readU16(buf, 6);
    let extra: Uint8Array = new Uint8Array(0);
    if (extraSize > 0) {
      if (buf.length < SUPER_BLOCK_SIZE + extraSize) {
        throw new SuperBlockError(`cannot read volume ${name} super block extra: unexpected EOF`);
      }
      extra = Uint8Array.prototype.slice.call(buf, SUPER_BLOCK_SIZE, SUPER_BLOCK_SIZE + extraSize);
    }
    return new SuperBlock(version, rp, ttl, rev, extra);
  }

  /** Extra size announced in bytes 6..7 of a super block header. */
  static extraSizeOf(header: Uint8Array): number {
    return readU16(header, 6);
  }
}
