// Builds the grpc-js VolumeServer service from core's handlers and the enabled plugins' handlers.
// Every one of the 49 RPCs gets an implementation: the real one, or UNIMPLEMENTED naming the family
// (disabled) or saying it is not built yet. Thrown errors are mapped to gRPC statuses here only.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { PluginFamily } from '../../config/types.js';
import { toGrpcStatus, vsError } from '../errors.js';
import { rpcOwner } from '../plugins/families.js';
import { GRPC_MAX_MESSAGE_BYTES } from './client-pool.js';
import type { GrpcHandler, Msg } from './handler.js';
import { volumeServerService } from './proto-loader.js';

export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': GRPC_MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': GRPC_MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 1,
};

export function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  const message = err instanceof Error ? err.message : String(err);
  return { code: toGrpcStatus(err), details: message, message };
}

export interface ServiceBuildInput {
  core: Partial<Record<string, GrpcHandler>>;
  plugins: Map<PluginFamily, Partial<Record<string, GrpcHandler>>>;
  disabled: PluginFamily[];
  logger: Logger;
}

function fixedError(rpc: string, family: PluginFamily, disabled: boolean): GrpcHandler {
  return async () => {
    throw disabled ? vsError('VS_ERR_FAMILY_DISABLED', rpc, family) : vsError('VS_ERR_NOT_IMPLEMENTED', rpc, family);
  };
}

function adapt(def: grpc.MethodDefinition<Msg, Msg>, handler: GrpcHandler, log: Logger, rpc: string) {
  const fail = (err: unknown) => {
    if (toGrpcStatus(err) === grpc.status.UNKNOWN && !(err instanceof Error && 'code' in err)) {
      log.debug({ err, rpc }, 'rpc failed');
    }
    return toServiceError(err);
  };
  if (!def.requestStream && !def.responseStream) {
    return (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      (handler as (c: typeof call) => Promise<Msg>)(call).then(
        (res) => cb(null, res ?? {}),
        (err) => cb(fail(err)),
      );
    };
  }
  if (def.requestStream && !def.responseStream) {
    return (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      (handler as (c: typeof call) => Promise<Msg>)(call).then(
        (res) => cb(null, res ?? {}),
        (err) => cb(fail(err)),
      );
    };
  }
  return (call: grpc.ServerWritableStream<Msg, Msg> | grpc.ServerDuplexStream<Msg, Msg>) => {
    (handler as (c: typeof call) => Promise<void>)(call).then(
      () => call.end(),
      (err) => call.emit('error', fail(err)),
    );
  };
}

export function buildVolumeServerImplementation(input: ServiceBuildInput): grpc.UntypedServiceImplementation {
  const service = volumeServerService();
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [rpc, def] of Object.entries(service)) {
    const owner = rpcOwner(rpc);
    let handler: GrpcHandler | undefined;
    if (owner === 'core') {
      handler = input.core[rpc];
      if (!handler) throw new Error(`core RPC ${rpc} has no handler`);
    } else if (owner === undefined) {
      throw new Error(`RPC ${rpc} of the service has no owning family in core/plugins/families.ts`);
    } else if (input.disabled.includes(owner)) {
      handler = fixedError(rpc, owner, true);
    } else {
      handler = input.plugins.get(owner)?.[rpc] ?? fixedError(rpc, owner, false);
    }
    impl[rpc] = adapt(def as grpc.MethodDefinition<Msg, Msg>, handler, input.logger, rpc) as grpc.UntypedHandleCall;
  }
  return impl;
}

export function createGrpcServer(interceptors: grpc.ServerInterceptor[] = []): grpc.Server {
  return new grpc.Server(interceptors.length > 0 ? { ...SERVER_OPTIONS, interceptors } : SERVER_OPTIONS);
}

export function bindGrpc(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))),
  );
}
