import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, unary } from '../../core/grpc/client-pool.js';
import { masterClientConstructor, volumeServerClientConstructor } from '../../core/grpc/proto-loader.js';

export interface VolumeClient {
  call<T = Record<string, unknown>>(rpc: string, req?: object, timeoutMs?: number): Promise<T>;
  close(): void;
}

export function volumeClient(address: string): VolumeClient {
  const Ctor = volumeServerClientConstructor();
  const client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  return {
    call: (rpc, req = {}, timeoutMs = 10_000) => unary(client, rpc, req, timeoutMs),
    close: () => client.close(),
  };
}

/** A client of the Go master's gRPC service (master_pb.Seaweed), e.g. LookupEcVolume. */
export function masterGrpcClient(address: string): VolumeClient {
  const Ctor = masterClientConstructor();
  const client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  return {
    call: (rpc, req = {}, timeoutMs = 10_000) => unary(client, rpc, req, timeoutMs),
    close: () => client.close(),
  };
}
