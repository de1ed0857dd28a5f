// Shared bits of the read-write gRPC handlers: Go's access checks and stream writing come from
// core; only what is particular to this family lives here.
export { checks, plain, send, type Checks } from '../../../core/grpc/rpc-support.js';

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
