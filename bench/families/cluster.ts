// The processes of one families run, all on 127.0.0.1: a Go master (whose master.toml announces an
// s3.default tier backend when an S3 endpoint is given), the Go volume server and ours under it,
// and gRPC calls to either.
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, unary } from '../../core/grpc/client-pool.js';
import { volumeServerClientConstructor } from '../../core/grpc/proto-loader.js';
import { PROJECT_ROOT } from '../../core/paths.js';
import { freePort, startMaster as startGoMaster, waitFor, weedBinary, type Master } from '../../test/helpers/processes.js';
import { s3BackendsToml } from '../../test/helpers/weed-mini.js';

export type Row = Record<string, unknown>;

/** The Go master; with `s3`, its master.toml announces that bucket as the s3.default tier backend. */
export function startMaster(width: 4 | 5, volumeSizeLimitMB: number, s3?: { endpoint: string; bucket: string }): Promise<Master> {
  return startGoMaster(volumeSizeLimitMB, width, [], undefined, s3 ? s3BackendsToml({ default: s3 }) : undefined);
}

function client(address: string): grpc.Client {
  const Ctor = volumeServerClientConstructor();
  return new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** One unary call on a fresh channel (a phase makes a handful of calls: no pooling needed). */
export async function call<T = Row>(address: string, rpc: string, req: object, timeoutMs = 60_000): Promise<T> {
  const c = client(address);
  try {
    return await unary<object, T>(c, rpc, req, timeoutMs);
  } finally {
    c.close();
  }
}

/** A server-streaming call run to its end; rejects with the stream's error. */
export function stream(address: string, rpc: string, req: object, timeoutMs: number): Promise<Row[]> {
  const c = client(address);
  return new Promise((resolve, reject) => {
    const messages: Row[] = [];
    const s = (c as unknown as Record<string, (r: object, o: object) => grpc.ClientReadableStream<Row>>)[rpc].call(c, req, {
      deadline: Date.now() + timeoutMs,
    });
    s.on('data', (m: Row) => messages.push(m));
    s.on('error', (e: grpc.ServiceError) => {
      c.close();
      reject(e);
    });
    s.on('end', () => {
      c.close();
      resolve(messages);
    });
  });
}

export interface Server {
  impl: 'go' | 'ts';
  pid: number;
  port: number;
  url: string;
  grpcAddress: string;
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

/** The Go volume server or ours with the same flags, bound to 127.0.0.1, registered at `master`. */
export async function startServer(impl: 'go' | 'ts', width: 4 | 5, master: Master, dir: string, logFile: string): Promise<Server> {
  const port = await freePort();
  const flags = [`-port=${port}`, `-port.grpc=${port + 10000}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1', `-dir=${dir}`, '-max=10', `-master=${master.address}`, '-preStopSeconds=0'];
  const fd = openSync(logFile, 'a');
  const proc =
    impl === 'go'
      ? spawn(weedBinary(width), ['volume', ...flags], { stdio: ['ignore', fd, fd] })
      : spawn(join(PROJECT_ROOT, 'bin', 'weed-volume'), flags, { stdio: ['ignore', fd, fd], env: { ...process.env, WEED_OFFSET_BYTES: String(width) } });
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGINT');
    const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => JSON.stringify(await (await fetch(`${master.url}/dir/status`)).json()).includes(`"Url":"127.0.0.1:${port}"`),
      60_000,
      `${impl} volume server registered`,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { impl, pid: proc.pid!, port, url, grpcAddress: `127.0.0.1:${port + 10000}`, dir, logFile, stop };
}
