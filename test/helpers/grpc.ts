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

/**
 * Reads a whole server stream of `rpc`; an error ends it and is returned beside what came before.
 * `onMessage` sees each message as it arrives.
 */
export function drainStream(
  address: string,
  rpc: string,
  req: object,
  timeoutMs = 60_000,
  onMessage?: (m: Record<string, unknown>) => void,
): Promise<{ messages: Record<string, unknown>[]; error?: grpc.ServiceError }> {
  const Ctor = volumeServerClientConstructor();
  const client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  return new Promise((resolve) => {
    const messages: Record<string, unknown>[] = [];
    const fn = (client as unknown as Record<string, (r: object, o: object) => grpc.ClientReadableStream<Record<string, unknown>>>)[rpc];
    const call = fn.call(client, req, { deadline: Date.now() + timeoutMs });
    call.on('data', (m) => {
      messages.push(m);
      onMessage?.(m);
    });
    call.on('error', (error: grpc.ServiceError) => {
      client.close();
      resolve({ messages, error });
    });
    call.on('end', () => {
      client.close();
      resolve({ messages });
    });
  });
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

/** A whole VolumeEcShardRead stream: the bytes and whether the holder answered "deleted"; a status error rejects. */
export async function ecShardRead(address: string, req: object): Promise<{ data: Buffer; deleted: boolean }> {
  const { messages, error } = await drainStream(address, 'VolumeEcShardRead', req, 60_000);
  if (error) throw error;
  return {
    data: Buffer.concat(messages.filter((m) => m.data).map((m) => m.data as Buffer)),
    deleted: messages.some((m) => m.is_deleted === true),
  };
}

/** A ReceiveFile client stream: sends `msgs` and returns the response, or the status error. */
export function receiveFileStream(address: string, msgs: object[], timeoutMs = 20_000): Promise<{ res?: Record<string, unknown>; error?: grpc.ServiceError }> {
  const Ctor = volumeServerClientConstructor();
  const client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  type Reply = (e: grpc.ServiceError | null, r: Record<string, unknown>) => void;
  return new Promise((resolve) => {
    const fn = (client as unknown as Record<string, (o: object, cb: Reply) => grpc.ClientWritableStream<object>>).ReceiveFile;
    const call = fn.call(client, { deadline: Date.now() + timeoutMs }, (error, res) => {
      client.close();
      resolve(error ? { error } : { res });
    });
    for (const m of msgs) call.write(m);
    call.end();
  });
}
