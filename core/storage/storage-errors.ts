// Typed errors raised by the storage engine. Each carries a stable `code`; the protocol layers map
// codes to HTTP / gRPC statuses (core/errors.ts), storage itself knows nothing of either protocol.
// Messages reproduce the Go volume server's texts where clients or tools may read them.

export type StorageErrorCode =
  | 'VOLUME_NOT_FOUND'
  | 'NEEDLE_NOT_FOUND'
  | 'NEEDLE_DELETED'
  | 'NEEDLE_EXPIRED'
  | 'COOKIE_MISMATCH'
  | 'VOLUME_READ_ONLY'
  | 'VOLUME_FULL'
  | 'VOLUME_CLOSED'
  | 'CRC_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'NEEDLE_CORRUPTED'
  | 'OFFSET_WIDTH_MISMATCH'
  | 'INDEX_CORRUPTED'
  | 'SUPER_BLOCK'
  | 'UNSUPPORTED_VERSION'
  | 'VOLUME_INFO'
  | 'INVALID_FILE_ID'
  | 'INVALID_TTL'
  | 'INVALID_REPLICA_PLACEMENT'
  | 'VOLUME_NOT_EMPTY'
  | 'VOLUME_EXISTS'
  | 'NO_FREE_SPACE'
  | 'INSUFFICIENT_SPACE'
  | 'INVALID_ARGUMENT'
  | 'REFUSED'
  | 'IO_ERROR';

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Go: `volume %d not found`. */
export class VolumeNotFoundError extends StorageError {
  constructor(readonly volumeId: number, message = `volume ${volumeId} not found`) {
    super('VOLUME_NOT_FOUND', message);
  }
}

/** Go's ErrorNotFound: id unknown, offset 0, or (on read) TTL-expired. */
export class NeedleNotFoundError extends StorageError {
  constructor(message = 'not found') {
    super('NEEDLE_NOT_FOUND', message);
  }
}

/** Go's ErrorDeleted: the index says the needle was deleted. */
export class NeedleDeletedError extends StorageError {
  constructor(message = 'already deleted') {
    super('NEEDLE_DELETED', message);
  }
}

/** A TTL'd needle read after its expiry; Go answers it exactly like ErrorNotFound. */
export class NeedleExpiredError extends StorageError {
  constructor(message = 'not found') {
    super('NEEDLE_EXPIRED', message);
  }
}

/**
 * Cookie mismatch. On write Go says `mismatching cookie <hex of the request cookie>`; on read the
 * HTTP layer answers 404 (Go logs the mismatch only).
 */
export class CookieMismatchError extends StorageError {
  constructor(
    readonly requestCookie: number,
    readonly storedCookie: number,
    message = `mismatching cookie ${requestCookie.toString(16)}`,
  ) {
    super('COOKIE_MISMATCH', message);
  }
}

/** Go: `volume %d is read only`. */
export class VolumeReadOnlyError extends StorageError {
  constructor(readonly volumeId: number) {
    super('VOLUME_READ_ONLY', `volume ${volumeId} is read only`);
  }
}

/** Go: `Volume Size %d Exceeded %d` (append past MaxPossibleVolumeSize) or the batch variant. */
export class VolumeFullError extends StorageError {
  constructor(message: string) {
    super('VOLUME_FULL', message);
  }
}

/** Go: `volume %d is closed`. */
export class VolumeClosedError extends StorageError {
  constructor(readonly volumeId: number) {
    super('VOLUME_CLOSED', `volume ${volumeId} is closed`);
  }
}

/** Go: `invalid CRC for needle <id hex> (got %08x, want %08x), data on disk corrupted: needle data corrupted`. */
export class CrcMismatchError extends StorageError {
  constructor(readonly needleIdHex: string, readonly got: number, readonly want: number) {
    super(
      'CRC_MISMATCH',
      `invalid CRC for needle ${needleIdHex} (got ${hex8(got)}, want ${hex8(want)}), data on disk corrupted: needle data corrupted`,
    );
  }
}

/** Go's ErrorSizeMismatch ("size mismatch"), optionally with the detailed form. */
export class SizeMismatchError extends StorageError {
  constructor(message = 'size mismatch') {
    super('SIZE_MISMATCH', message);
  }
}

/** Go's ErrorCorrupted family: `index out of range %d: needle data corrupted` and similar. */
export class NeedleCorruptedError extends StorageError {
  constructor(message: string) {
    super('NEEDLE_CORRUPTED', message);
  }
}

/** The index / .vif was written with the other offset width (4 vs 5 bytes). */
export class OffsetWidthMismatchError extends StorageError {
  constructor(message: string) {
    super('OFFSET_WIDTH_MISMATCH', message);
  }
}

/** Index file geometry or content is wrong (Go: `index file's size is %d bytes, maybe corrupted`). */
export class IndexCorruptedError extends StorageError {
  constructor(message: string) {
    super('INDEX_CORRUPTED', message);
  }
}

export class SuperBlockError extends StorageError {
  constructor(message: string) {
    super('SUPER_BLOCK', message);
  }
}

export class UnsupportedVersionError extends StorageError {
  constructor(readonly version: number, message = `unsupported version: ${version}`) {
    super('UNSUPPORTED_VERSION', message);
  }
}

export class VolumeInfoError extends StorageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VOLUME_INFO', message, options);
  }
}

/** fid parse errors; messages are Go's exact texts (Go: weed/storage/needle/file_id.go, weed/server/volume_server_handlers.go). */
export class InvalidFileIdError extends StorageError {
  constructor(message: string) {
    super('INVALID_FILE_ID', message);
  }
}

export class InvalidTtlError extends StorageError {
  constructor(message: string) {
    super('INVALID_TTL', message);
  }
}

/** Go: `unknown replication type: %s` / `unexpected replication type: %s`. */
export class InvalidReplicaPlacementError extends StorageError {
  constructor(message: string) {
    super('INVALID_REPLICA_PLACEMENT', message);
  }
}

/** Go's ErrVolumeNotEmpty: `volume not empty`. */
export class VolumeNotEmptyError extends StorageError {
  constructor(message = 'volume not empty') {
    super('VOLUME_NOT_EMPTY', message);
  }
}

export class StorageIoError extends StorageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IO_ERROR', message, options);
  }
}

export function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

export function isStorageError(e: unknown): e is StorageError {
  return e instanceof StorageError;
}
