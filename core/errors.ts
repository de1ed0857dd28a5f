// The one catalog of typed errors. Every error a handler can raise is listed here with its HTTP
// status and gRPC code; the protocol layers map through toHttpStatus()/toGrpcStatus() and nowhere
// else. Messages copy the Go server's text where tests or tools read it.
import { status as GrpcStatus } from '@grpc/grpc-js';

interface ErrorSpec {
  http: number;
  grpc: GrpcStatus;
  message: (...args: string[]) => string;
}

export const ERROR_CATALOG = {
  VS_ERR_MAINTENANCE_MODE: {
    http: 503,
    grpc: GrpcStatus.UNKNOWN,
    message: (id) => `volume server ${id} is in maintenance mode`,
  },
  VS_ERR_STATE_VERSION_MISMATCH: {
    http: 409,
    grpc: GrpcStatus.UNKNOWN,
    message: (got, want) => `version mismatch for VolumeServerState (got ${got}, want ${want})`,
  },
  VS_ERR_STATE_SAVE: {
    http: 500,
    grpc: GrpcStatus.UNKNOWN,
    message: (path, reason) => `failed to write store state to ${path} : ${reason}`,
  },
  VS_ERR_NOT_AUTHORIZED: {
    http: 401,
    grpc: GrpcStatus.PERMISSION_DENIED,
    message: (host) => `not authorized: ${host}`,
  },
  VS_ERR_NO_PEER_INFO: {
    http: 401,
    grpc: GrpcStatus.PERMISSION_DENIED,
    message: () => 'no peer info',
  },
  VS_ERR_PING_UNKNOWN_TARGET: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    message: (target, type) => `unknown ping target ${target} of type ${type}`,
  },
  VS_ERR_PING_FAILED: {
    http: 502,
    grpc: GrpcStatus.UNKNOWN,
    message: (type, target, reason) => `ping ${type} ${target}: ${reason}`,
  },
  VS_ERR_FAMILY_DISABLED: {
    http: 501,
    grpc: GrpcStatus.UNIMPLEMENTED,
    message: (rpc, family) =>
      `${rpc} belongs to the ${family} plugin family, which is disabled; enable it with plugins.${family}.enabled=true`,
  },
  VS_ERR_NOT_IMPLEMENTED: {
    http: 501,
    grpc: GrpcStatus.UNIMPLEMENTED,
    message: (rpc, family) => `${rpc} (${family} family) is not implemented by this server yet`,
  },
  VS_ERR_NO_MASTER: {
    http: 503,
    grpc: GrpcStatus.UNAVAILABLE,
    message: () => 'no master connected',
  },
  VS_ERR_MASTER_CALL: {
    http: 502,
    grpc: GrpcStatus.UNKNOWN,
    message: (what, reason) => `${what}: ${reason}`,
  },
  VS_ERR_BAD_REQUEST: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    message: (reason) => reason,
  },
  VS_ERR_NOT_FOUND: {
    http: 404,
    grpc: GrpcStatus.NOT_FOUND,
    message: (reason) => reason,
  },
  VS_ERR_INTERNAL: {
    http: 500,
    grpc: GrpcStatus.UNKNOWN,
    message: (reason) => reason,
  },
  VS_ERR_UNAVAILABLE: {
    http: 503,
    grpc: GrpcStatus.UNAVAILABLE,
    message: (reason) => reason,
  },
  VS_ERR_FAILED_PRECONDITION: {
    http: 412,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    message: (reason) => reason,
  },
  // Stored data a read would have to hold in memory past a cap: a gzip needle inflating past it (a
  // decompression bomb), an oversized chunk manifest. Go inflates/reads it whole; we answer 500, as
  // Go answers a stored needle it cannot serve.
  VS_ERR_INFLATE_LIMIT: {
    http: 500,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    message: (what, limit) => `${what} exceeds the ${limit}-byte limit`,
  },
  // Errors whose text Go returns as a plain (code UNKNOWN) gRPC error: most admin RPC failures.
  VS_ERR_PLAIN: {
    http: 500,
    grpc: GrpcStatus.UNKNOWN,
    message: (reason) => reason,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class VolumeServerError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly grpcCode: GrpcStatus;

  constructor(code: ErrorCode, ...args: string[]) {
    const spec: ErrorSpec = ERROR_CATALOG[code];
    super(spec.message(...args));
    this.name = 'VolumeServerError';
    this.code = code;
    this.httpStatus = spec.http;
    this.grpcCode = spec.grpc;
  }
}

export function vsError(code: ErrorCode, ...args: (string | number | bigint)[]): VolumeServerError {
  return new VolumeServerError(code, ...args.map(String));
}

/**
 * Lower layers (storage) throw errors carrying a `code` string of their own; this table maps those
 * to protocol statuses so the storage layer stays free of HTTP/gRPC knowledge.
 */
const FOREIGN_CODES: Record<string, { http: number; grpc: GrpcStatus }> = {
  VOLUME_NOT_FOUND: { http: 404, grpc: GrpcStatus.UNKNOWN },
  NEEDLE_NOT_FOUND: { http: 404, grpc: GrpcStatus.UNKNOWN },
  NEEDLE_DELETED: { http: 404, grpc: GrpcStatus.UNKNOWN },
  NEEDLE_EXPIRED: { http: 404, grpc: GrpcStatus.UNKNOWN },
  COOKIE_MISMATCH: { http: 404, grpc: GrpcStatus.UNKNOWN },
  VOLUME_READ_ONLY: { http: 500, grpc: GrpcStatus.UNKNOWN },
  VOLUME_FULL: { http: 500, grpc: GrpcStatus.UNKNOWN },
  VOLUME_EXISTS: { http: 500, grpc: GrpcStatus.UNKNOWN },
  NO_FREE_SPACE: { http: 500, grpc: GrpcStatus.UNKNOWN },
  CRC_MISMATCH: { http: 500, grpc: GrpcStatus.UNKNOWN },
  OFFSET_WIDTH_MISMATCH: { http: 500, grpc: GrpcStatus.UNKNOWN },
  BAD_FILE_ID: { http: 400, grpc: GrpcStatus.UNKNOWN },
  INVALID_ARGUMENT: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  REFUSED: { http: 500, grpc: GrpcStatus.UNKNOWN },
  INSUFFICIENT_SPACE: { http: 507, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  VOLUME_NOT_EMPTY: { http: 500, grpc: GrpcStatus.FAILED_PRECONDITION },
};

export function toHttpStatus(err: unknown): number {
  if (err instanceof VolumeServerError) return err.httpStatus;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && FOREIGN_CODES[code]) return FOREIGN_CODES[code].http;
  return 500;
}

export function toGrpcStatus(err: unknown): GrpcStatus {
  if (err instanceof VolumeServerError) return err.grpcCode;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && FOREIGN_CODES[code]) return FOREIGN_CODES[code].grpc;
  return GrpcStatus.UNKNOWN;
}
