import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, unary } from '../../core/grpc/client-pool.js';
import { volumeServerClientConstructor } from '../../core/grpc/proto-loader.js';

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
