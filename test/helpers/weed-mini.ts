// `weed mini` from the reference binary as a real S3 endpoint on 127.0.0.1 (what the upstream
// fetch_remote_s3_test.go boots), with an S3 client for it. Credentials admin/admin.
import { writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { cleanup, freePort, tempDir, waitFor, weedBinary } from './processes.js';

export interface WeedMini {
  endpoint: string;
  /** The one process serving master, volume, filer and S3 (benchmarks charge its CPU to a phase). */
  pid: number;
  s3: S3Client;
  dir: string;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** `autoCreateBucket: false` makes an upload to a missing bucket fail with NoSuchBucket (weed's default creates it). */
export async function startWeedMini(opts: { autoCreateBucket?: boolean } = {}): Promise<WeedMini> {
  const dir = tempDir('ts-weed-mini-');
  writeFileSync(join(dir, 'security.toml'), '# empty\n');
  // free ports whose +10000 gRPC twins are free too (freePort keeps them in range)
  const [master, volume, filer, s3Port, admin] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const fd = openSync(join(dir, 'mini.log'), 'a');
  const proc = spawn(
    weedBinary(5),
    [
      'mini',
      `-dir=${dir}`,
      `-master.port=${master}`,
      `-volume.port=${volume}`,
      `-filer.port=${filer}`,
      `-s3.port=${s3Port}`,
      '-webdav=false',
      '-s3.port.lance=0',
      '-s3.port.iceberg=0',
      `-admin.port=${admin}`,
      `-admin.port.grpc=${admin + 10000}`,
      '-admin.port.legacy=0',
      ...(opts.autoCreateBucket === false ? ['-s3.autoCreateBucket=false'] : []),
    ],
    { cwd: dir, stdio: ['ignore', fd, fd], env: { ...process.env, AWS_ACCESS_KEY_ID: 'admin', AWS_SECRET_ACCESS_KEY: 'admin' } },
  );
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    cleanup(dir);
  };
  const endpoint = `http://127.0.0.1:${s3Port}`;
  const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'admin', secretAccessKey: 'admin' } });
  try {
    await waitFor(() => portOpen(s3Port), 60_000, 'weed mini S3 port');
    // the port opens before the gateway answers: wait until a bucket can be created
    await waitFor(
      async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'ready-probe' }));
        return true;
      },
      60_000,
      'weed mini S3 ready',
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    endpoint,
    pid: proc.pid!,
    s3,
    dir,
    createBucket: async (name) => {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: async () => {
      s3.destroy();
      await stop();
    },
  };
}

/** One S3-compatible tier backend as a master.toml declares it (Go's `[storage.backend.s3.<id>]`). */
export interface BackendConf {
  endpoint: string;
  bucket: string;
  accessKey?: string;
  secretKey?: string;
}

/** A master.toml declaring one `[storage.backend.s3.<id>]` per entry (path-style, weed mini's keys by default). */
export function s3BackendsToml(backends: Record<string, BackendConf>): string {
  const lines = ['[storage.backend]'];
  for (const [id, b] of Object.entries(backends)) {
    lines.push(
      `  [storage.backend.s3.${id}]`,
      '  enabled = true',
      `  aws_access_key_id = "${b.accessKey ?? 'admin'}"`,
      `  aws_secret_access_key = "${b.secretKey ?? 'admin'}"`,
      '  region = "us-east-1"',
      `  bucket = "${b.bucket}"`,
      `  endpoint = "${b.endpoint}"`,
      '  storage_class = "STANDARD"',
      '  force_path_style = true',
    );
  }
  return lines.join('\n') + '\n';
}
