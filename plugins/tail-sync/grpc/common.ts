// Shared bits of the tail-sync handlers: Go's access checks, the untrusted-name guards CopyFile and
// ReceiveFile apply before a request turns into a path, the peer-address guard of VolumeCopy and
// VolumeTailReceiver, outgoing clients to peer volume servers and stream writing with backpressure.
import type * as grpc from '@grpc/grpc-js';
import type { Cradle } from '../../../core/container.js';
import { volumeServerClientConstructor } from '../../../core/grpc/proto-loader.js';
import type { Msg } from '../../../core/grpc/handler.js';
import { plain } from '../../../core/grpc/rpc-support.js';
export { checks, plain, send, type Checks } from '../../../core/grpc/rpc-support.js';
import { toGrpcAddress } from '../../../core/master/server-address.js';

/** Go's BufferSizeLimit: the chunk size of file and needle-body streams. */
export const BUFFER_SIZE_LIMIT = 2 * 1024 * 1024;

/** Go's math.MaxUint32: "skip the compaction revision check" in CopyFile. */
export const ANY_COMPACTION_REVISION = 0xffff_ffff;

export function messageOf(e: unknown): string {
  if (e && typeof e === 'object' && 'details' in e && typeof (e as { details: unknown }).details === 'string') {
    const d = (e as { details: string }).details;
    if (d) return d;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Go's os error text for a failed open: `open <path>: no such file or directory`. */
export function openErrorText(path: string, e: NodeJS.ErrnoException): string {
  const reason =
    e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
  return `open ${path}: ${reason}`;
}

/** Go's %q for the ASCII names these checks see (close enough for error texts). */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/** Volume id from a request field (uint32). */
export { u32 as volumeIdOf, u64 } from '../../../core/grpc/rpc-support.js';

// ------------------------------------------------------------------ untrusted names

/**
 * Go's checkVolumeFileExtension: a file extension from a request becomes part of a path, so it must
 * be a dot followed by ASCII letters and digits only (no separator, no `..`). Returns the error
 * text, or undefined when the extension is acceptable.
 */
export function fileExtensionError(ext: string): string | undefined {
  if (typeof ext !== 'string' || !/^\.[0-9A-Za-z]+$/.test(ext)) return `invalid file extension ${quote(String(ext))}`;
  return undefined;
}

// Go's checkVolumeCollection is core's one rule for collection names from the network.
export { collectionError } from '../../../core/security/names.js';

// Go's validateReplicaTarget: one guard in core for every family that dials a peer named in a request.
export { validateReplicaTarget } from '../../../core/grpc/replica-target.js';

// ------------------------------------------------------------------ peers

/** A pooled client of the peer volume server at `address` (`host:port` or `host:port.grpcPort`). */
export function peerClient(cradle: Cradle, address: string): grpc.Client {
  const grpcAddress = toGrpcAddress(address);
  if (!grpcAddress) throw plain(`invalid volume server address ${quote(address)}`);
  return cradle.grpcClients.get(volumeServerClientConstructor(), grpcAddress);
}

/** Starts a server-streaming call on a peer client. */
export function openServerStream(client: grpc.Client, method: string, req: object): grpc.ClientReadableStream<Msg> {
  const fn = (client as unknown as Record<string, (r: object, o?: grpc.CallOptions) => grpc.ClientReadableStream<Msg>>)[method];
  const stream = fn.call(client, req, {});
  // A stream cancelled after its reader stopped listening still emits its CANCELLED status as an
  // 'error'; without a listener that would be an uncaught exception. Readers see errors through
  // their own listeners (for await).
  stream.on('error', () => undefined);
  return stream;
}

/** A unary call on a peer client; rejects with the peer's status error. */
export function callUnary<T = Msg>(client: grpc.Client, method: string, req: object, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method];
    fn.call(client, req, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: T) =>
      err ? reject(err) : resolve(res),
    );
  });
}

// ------------------------------------------------------------------ streams


/** Resolves after `ms`, or early when `call` is cancelled. */
export function sleepUnlessCancelled(call: { cancelled: boolean; once(ev: 'cancelled', fn: () => void): unknown; off(ev: 'cancelled', fn: () => void): unknown }, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (call.cancelled) {
      resolve();
      return;
    }
    const onCancel = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      call.off('cancelled', onCancel);
      resolve();
    }, ms);
    call.once('cancelled', onCancel);
  });
}

/** Go's types.ToDiskType: '' and 'hdd' are the hard-drive type (''), others lower-cased. */
export function toDiskType(s: string): string {
  const v = (s ?? '').toLowerCase();
  return v === 'hdd' ? '' : v;
}

/** Go's DiskType.ReadableString. */
export function readableDiskType(t: string): string {
  return t === '' ? 'hdd' : t;
}
