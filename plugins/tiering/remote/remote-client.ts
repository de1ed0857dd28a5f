// Remote storage clients for FetchAndWriteNeedle (Go: weed/remote_storage/remote_storage.go
// makeRemoteStorageClient, weed/remote_storage/s3/s3_storage_client.go, and the guarded builder
// BuildGuardedRemoteStorageClient of weed/server/volume_grpc_remote.go). The S3-compatible types are
// served through @aws-sdk/client-s3; a type this server has no client for answers Go's
// "remote storage type X not found" inside "get remote client: ...".
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { GetObjectCommand, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { guardedLookup, validateRemoteEndpoint } from './endpoint-guard.js';

/** remote_pb.RemoteConf as the proto loader hands it (only the fields read here). */
export type RemoteConf = Record<string, unknown> & { type?: string; name?: string };

/** remote_pb.RemoteStorageLocation. */
export interface RemoteLocation {
  name?: string;
  bucket?: string;
  path?: string;
}

/** Go's remote_storage.ErrRemoteObjectNotFound. */
export class RemoteObjectNotFoundError extends Error {
  constructor() {
    super('remote object not found');
  }
}

export interface RemoteStorageClient {
  /** Exactly `size` bytes at `offset` of the object at `loc` (Go's ReadFile). */
  readFile(loc: RemoteLocation, offset: number, size: number): Promise<Buffer>;
}

export interface S3Options {
  name: string;
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  forcePathStyle: boolean;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');
const nvl = (a: string, env: string) => a || process.env[env] || '';

/** Go's s3CompatibleClientOptions: the S3-SDK-backed types and where each keeps its settings. */
export function s3CompatibleOptions(c: RemoteConf): S3Options | undefined {
  switch (c.type) {
    case 's3':
      return { name: 's3', endpoint: str(c.s3_endpoint), region: str(c.s3_region), accessKey: str(c.s3_access_key), secretKey: str(c.s3_secret_key), forcePathStyle: c.s3_force_path_style === true };
    case 'aliyun':
      return { name: 'aliyun', endpoint: str(c.aliyun_endpoint), region: str(c.aliyun_region), accessKey: nvl(str(c.aliyun_access_key), 'ALICLOUD_ACCESS_KEY_ID'), secretKey: nvl(str(c.aliyun_secret_key), 'ALICLOUD_ACCESS_KEY_SECRET'), forcePathStyle: false };
    case 'b2':
      return { name: 'backblaze', endpoint: str(c.backblaze_endpoint), region: str(c.backblaze_region), accessKey: str(c.backblaze_key_id), secretKey: str(c.backblaze_application_key), forcePathStyle: true };
    case 'baidu':
      return { name: 'baidu', endpoint: str(c.baidu_endpoint), region: str(c.baidu_region), accessKey: nvl(str(c.baidu_access_key), 'BDCLOUD_ACCESS_KEY'), secretKey: nvl(str(c.baidu_secret_key), 'BDCLOUD_SECRET_KEY'), forcePathStyle: false };
    case 'contabo':
      return { name: 'contabo', endpoint: str(c.contabo_endpoint), region: str(c.contabo_region), accessKey: nvl(str(c.contabo_access_key), 'ACCESS_KEY'), secretKey: nvl(str(c.contabo_secret_key), 'SECRET_KEY'), forcePathStyle: true };
    case 'filebase':
      return { name: 'filebase', endpoint: str(c.filebase_endpoint), region: 'us-east-1', accessKey: nvl(str(c.filebase_access_key), 'AWS_ACCESS_KEY_ID'), secretKey: nvl(str(c.filebase_secret_key), 'AWS_SECRET_ACCESS_KEY'), forcePathStyle: true };
    case 'storj':
      return { name: 'storj', endpoint: str(c.storj_endpoint), region: 'us-west-2', accessKey: nvl(str(c.storj_access_key), 'AWS_ACCESS_KEY_ID'), secretKey: nvl(str(c.storj_secret_key), 'AWS_SECRET_ACCESS_KEY'), forcePathStyle: true };
    case 'tencent':
      return { name: 'tencent', endpoint: str(c.tencent_endpoint), region: 'us-west-2', accessKey: nvl(str(c.tencent_secret_id), 'COS_SECRETID'), secretKey: nvl(str(c.tencent_secret_key), 'COS_SECRETKEY'), forcePathStyle: true };
    case 'wasabi':
      return { name: 'wasabi', endpoint: str(c.wasabi_endpoint), region: str(c.wasabi_region), accessKey: str(c.wasabi_access_key), secretKey: str(c.wasabi_secret_key), forcePathStyle: true };
    default:
      return undefined;
  }
}

/** The S3 error name (NoSuchKey, AccessDenied, ...) or the transport error's text. */
export function s3ErrorText(e: unknown): string {
  if (e instanceof S3ServiceException) return `${e.name}: ${e.message} (status ${e.$metadata.httpStatusCode ?? '?'})`;
  return e instanceof Error ? e.message : String(e);
}

class S3RemoteClient implements RemoteStorageClient {
  constructor(private readonly s3: S3Client) {}

  async readFile(loc: RemoteLocation, offset: number, size: number): Promise<Buffer> {
    const bucket = loc.bucket ?? '';
    const path = loc.path ?? '';
    let body: AsyncIterable<Uint8Array> | undefined;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: path.slice(1), Range: `bytes=${offset}-${offset + size - 1}` }));
      body = out.Body as AsyncIterable<Uint8Array> | undefined;
    } catch (e) {
      if (e instanceof NoSuchKey || (e instanceof S3ServiceException && e.name === 'NoSuchKey')) throw new RemoteObjectNotFoundError();
      throw new Error(`failed to download file ${bucket}${path}: ${s3ErrorText(e)}`, { cause: e });
    }
    // Never hold more than the requested size: a server ignoring the range cannot make us buffer more.
    const out = Buffer.allocUnsafe(size);
    let n = 0;
    if (body) {
      for await (const chunk of body) {
        const take = Math.min(chunk.length, size - n);
        out.set(chunk.subarray(0, take), n);
        n += take;
        if (n >= size) break;
      }
    }
    if (n !== size) throw new Error(`short read from ${bucket}${path} at offset ${offset}: got ${n} bytes, want ${size}`);
    return out;
  }
}

const SILENT = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** An S3 client with static credentials, or anonymous (unsigned) when none: never the SDK's default chain. */
export function makeS3Client(o: S3Options, guardedEndpoint?: string): S3Client {
  const lookup = guardedEndpoint === undefined ? undefined : guardedLookup(guardedEndpoint);
  const requestHandler = {
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 16, lookup }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 16, lookup }),
    connectionTimeout: 10_000,
    requestTimeout: 60_000,
  };
  const signed = o.accessKey !== '' && o.secretKey !== '';
  return new S3Client({
    region: o.region || 'us-east-1',
    endpoint: o.endpoint || undefined,
    forcePathStyle: o.forcePathStyle,
    requestHandler,
    credentials: { accessKeyId: o.accessKey, secretAccessKey: o.secretKey },
    // anonymous access when no keys are configured (Go: AnonymousCredentials)
    ...(signed ? {} : { signer: { sign: async (req) => req } }),
    // the SDK's own notes (e.g. "non-retryable streaming request") would go to the console: our
    // callers report the errors they get through the server's logger
    logger: SILENT,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

/** Clients by configuration, so repeated fetches reuse connections (Go caches them the same way). */
const cache = new Map<string, RemoteStorageClient>();
const CACHE_LIMIT = 64;

/**
 * Go's BuildGuardedRemoteStorageClient: unless untrusted endpoints are allowed, a conf whose
 * endpoint the caller steers is validated and dialled through the rebinding-safe lookup.
 * Errors carry Go's texts ("reject remote endpoint: ...", "get remote client: ...").
 */
export async function buildRemoteClient(conf: RemoteConf | null | undefined, allowUntrusted: boolean): Promise<RemoteStorageClient> {
  const c: RemoteConf = conf ?? {};
  const o = s3CompatibleOptions(c);
  const guarded = !allowUntrusted && o !== undefined && !(o.endpoint === '' && c.type === 's3');
  if (guarded) {
    try {
      await validateRemoteEndpoint(o.endpoint);
    } catch (e) {
      throw new Error(`reject remote endpoint: ${(e as Error).message}`, { cause: e });
    }
  }
  if (!o) {
    throw new Error(`get remote client: make remote storage client ${str(c.name)}: remote storage type ${str(c.type)} not found`);
  }
  const key = JSON.stringify([guarded, c.type, o]);
  let client = cache.get(key);
  if (!client) {
    client = new S3RemoteClient(makeS3Client(o, guarded ? o.endpoint : undefined));
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, client);
  }
  return client;
}
