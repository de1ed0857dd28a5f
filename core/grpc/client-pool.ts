// Outgoing gRPC clients, one per (service, address), with the channel options Go peers expect:
// 1 GiB messages both ways and keepalive pings only while calls are active.
import * as grpc from '@grpc/grpc-js';

export const GRPC_MAX_MESSAGE_BYTES = 1024 * 1024 * 1024;

export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': GRPC_MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': GRPC_MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 0,
};

export class GrpcClientPool {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(private credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {}

  /**
   * New credentials (TLS configured or certificates reloaded): open clients are closed so the next
   * call dials with them; calls already running on a closed client finish on their connection.
   */
  setCredentials(credentials: grpc.ChannelCredentials): void {
    this.credentials = credentials;
    this.closeAll();
  }

  get<T extends grpc.Client>(ctor: grpc.ServiceClientConstructor, address: string): T {
    const key = `${ctor.serviceName}|${address}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new ctor(address, this.credentials, CHANNEL_OPTIONS);
      this.clients.set(key, c);
    }
    return c as T;
  }

  /** Drops a client whose channel misbehaves so the next call dials afresh. */
  drop(ctor: grpc.ServiceClientConstructor, address: string): void {
    const key = `${ctor.serviceName}|${address}`;
    this.clients.get(key)?.close();
    this.clients.delete(key);
  }

  closeAll(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** Promise wrapper for a unary call with a deadline. */
export function unary<Req, Res>(client: grpc.Client, method: string, req: Req, timeoutMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method];
    if (typeof fn !== 'function') {
      reject(new Error(`no method ${method}`));
      return;
    }
    fn.call(client, req, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Res) =>
      err ? reject(err) : resolve(res),
    );
  });
}
