// What the tiering integration tests share: a Go master whose master.toml declares tier backends,
// server-streaming tier RPCs run to their end, `weed shell`, filling and reading back a volume, and
// a loopback S3 proxy that can slow or fail the traffic it forwards to the real S3 (`weed mini`).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { drainStream, volumeClient } from '../../../helpers/grpc.js';
import { multipartBody, rawRequest } from '../../../helpers/http.js';
import { startMaster, weedBinary, type Master, type VolumeServer } from '../../../helpers/processes.js';
import { s3BackendsToml, type BackendConf } from '../../../helpers/weed-mini.js';

export type Row = Record<string, unknown>;

export type { BackendConf };

/** A Go master whose master.toml declares one `[storage.backend.s3.<id>]` per entry. */
export function startMasterWithBackends(backends: Record<string, BackendConf>, width: 4 | 5 = 5): Promise<Master> {
  return startMaster(100, width, [], undefined, s3BackendsToml(backends));
}

/** Runs a server-streaming RPC to its end: the messages and the final error, if any. */
export function streamAll(address: string, rpc: string, req: object, onMessage?: (m: Row) => void): Promise<{ messages: Row[]; error?: grpc.ServiceError }> {
  return drainStream(address, rpc, req, 120_000, onMessage);
}

/** `weed shell` against `master` (asynchronous: a proxy in this process may carry its traffic); its output. */
export function weedShell(master: Master, commands: string, width: 4 | 5 = 5): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(weedBinary(width), [`-config_dir=${master.dir}`, 'shell', `-master=${master.address}`], { cwd: master.dir });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('error', reject);
    p.on('exit', () => {
      clearTimeout(timer);
      resolve(out);
    });
    p.stdin.end(`${commands}\nexit\n`);
  });
}

export interface Needle {
  cookie: number;
  data: Buffer;
}

/** Allocates volume `vid` on `server` and writes `sizes.length` needles of random bytes (ids 1..n). */
export async function fillVolume(server: VolumeServer, vid: number, collection: string, sizes: number[]): Promise<Map<bigint, Needle>> {
  const c = volumeClient(server.grpcAddress);
  try {
    await c.call('AllocateVolume', { volume_id: vid, collection, replication: '000', ttl: '', version: 3 });
  } finally {
    c.close();
  }
  const needles = new Map<bigint, Needle>();
  for (let i = 0; i < sizes.length; i++) {
    const id = BigInt(i + 1);
    const cookie = 0x20000 + i;
    const data = randomBytes(sizes[i]);
    const { body, contentType } = multipartBody(`n${id}.bin`, 'application/octet-stream', data);
    const r = await rawRequest('POST', `${server.url}/${formatFileId(vid, id, cookie)}`, { 'Content-Type': contentType }, body);
    assert.equal(r.status, 201, r.body.toString());
    needles.set(id, { cookie, data });
  }
  return needles;
}

/** Reads every needle back through `url` in full, and a middle range of each. */
export async function readAll(url: string, vid: number, needles: Map<bigint, Needle>): Promise<void> {
  for (const [id, { cookie, data }] of needles) {
    const fid = formatFileId(vid, id, cookie);
    const r = await rawRequest('GET', `${url}/${fid}`);
    assert.equal(r.status, 200, `needle ${fid}: ${r.body.toString().slice(0, 200)}`);
    assert.ok(r.body.equals(data), `needle ${fid} bytes`);
    const from = Math.floor(data.length / 3);
    const to = Math.min(data.length - 1, from + 999);
    const part = await rawRequest('GET', `${url}/${fid}`, { Range: `bytes=${from}-${to}` });
    assert.equal(part.status, 206, `needle ${fid} range`);
    assert.ok(part.body.equals(data.subarray(from, to + 1)), `needle ${fid} range bytes`);
  }
}

/** Asserts that the deleted needles answer 404. */
export async function assertGone(url: string, vid: number, gone: Map<bigint, Needle>): Promise<void> {
  for (const [id, { cookie }] of gone) {
    const r = await rawRequest('GET', `${url}/${formatFileId(vid, id, cookie)}`);
    assert.equal(r.status, 404, `deleted needle ${id}`);
  }
}

/** Our (or Go's) /status entry of volume `vid`. */
export async function volumeStatus(url: string, vid: number): Promise<Row | undefined> {
  const st = (await (await fetch(`${url}/status`)).json()) as { Volumes: Row[] | null };
  return (st.Volumes ?? []).find((v) => v.Id === vid);
}

/** The .vif of a volume as JSON (Go writes it with protojson). */
export function readVif(path: string): { files?: Row[] } {
  return JSON.parse(readFileSync(path, 'utf8')) as { files?: Row[] };
}

/**
 * A loopback HTTP proxy in front of the real S3 that forwards requests unchanged (the Host header
 * too, so SigV4 signatures still match), optionally pausing before each request or each MiB of a
 * response, or answering S3's 500 InternalError to every request from the (failAfter+1)-th on.
 * GETs alone can be failed (the next `failGets` answer 500), cut (the next `cutGets` answers end
 * the connection after `cutAfterBytes` of body) or sent without their Content-Length (chunked).
 */
export interface S3Proxy {
  endpoint: string;
  /** Requests seen so far (method and path, then the Range header if any). */
  seen: string[];
  delayMs: number;
  /** Pause per MiB of a response body (slows a download). */
  responseDelayMsPerMiB: number;
  failAfter: number;
  failGets: number;
  cutGets: number;
  cutAfterBytes: number;
  chunkedGets: boolean;
  close(): Promise<void>;
}

export async function startS3Proxy(target: string): Promise<S3Proxy> {
  const t = new URL(target);
  const state = { seen: [] as string[], delayMs: 0, responseDelayMsPerMiB: 0, failAfter: Number.POSITIVE_INFINITY, failGets: 0, cutGets: 0, cutAfterBytes: 0, chunkedGets: false };
  const internalError = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected failure</Message></Error>';
  const server: Server = createServer((req, res) => {
    const n = state.seen.push(`${req.method} ${req.url}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    const isGet = req.method === 'GET';
    const go = () => {
      if (n > state.failAfter || (isGet && state.failGets > 0)) {
        if (isGet && state.failGets > 0) state.failGets--;
        req.resume();
        res.writeHead(500, { 'Content-Type': 'application/xml' });
        res.end(internalError);
        return;
      }
      const cut = isGet && state.cutGets > 0;
      if (cut) state.cutGets--;
      const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        const headers = { ...r.headers };
        if (isGet && state.chunkedGets) delete headers['content-length'];
        res.writeHead(r.statusCode ?? 502, headers);
        if (cut) {
          let left = state.cutAfterBytes;
          r.on('data', (c: Buffer) => {
            if (left <= 0) return;
            res.write(c.subarray(0, left));
            left -= c.length;
            if (left <= 0) {
              r.destroy();
              // the bytes written go out before the connection ends
              res.socket?.end();
            }
          });
          r.on('end', () => res.end());
          r.on('error', () => res.destroy());
          return;
        }
        if (state.responseDelayMsPerMiB <= 0) {
          r.pipe(res);
          return;
        }
        let sinceDelay = 0;
        r.on('data', (c: Buffer) => {
          res.write(c);
          sinceDelay += c.length;
          if (sinceDelay >= 1024 * 1024) {
            sinceDelay = 0;
            r.pause();
            setTimeout(() => r.resume(), state.responseDelayMsPerMiB);
          }
        });
        r.on('end', () => res.end());
        r.on('error', () => res.destroy());
      });
      up.on('error', () => res.destroy());
      res.on('close', () => up.destroy());
      req.pipe(up);
    };
    if (state.delayMs > 0) setTimeout(go, state.delayMs);
    else go();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // The controls are the state the proxy reads on every request: setting one takes effect at once.
  return Object.assign(state, {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
