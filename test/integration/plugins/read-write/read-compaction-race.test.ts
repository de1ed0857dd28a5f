// Reads racing compaction commits (issue 13): small (synchronous path), ~1 MB and multi-MB
// streamed needles and ranged reads run, read slowly, while the volume is compacted and committed
// again and again underneath them. Each commit moves every needle (a pad written before them is
// deleted each round), so a read that continued on the new .dat at the offsets it started with
// would get another needle's bytes. Every byte of every 200/206 answer is checked against what was
// written; a read of a live needle must never fail or come back short.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS } from '../../../../core/grpc/client-pool.js';
import { volumeServerClientConstructor } from '../../../../core/grpc/proto-loader.js';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { rawRequest } from '../../../helpers/http.js';
import { volumeClient } from '../../../helpers/grpc.js';
import { cleanup, startVolumeServer, tempDir, type VolumeServer } from '../../../helpers/processes.js';

const VID = 9;
const KiB = 1024;
const MiB = 1024 * KiB;
const ROUNDS = 6;
const READERS = 6;
const PAD_SIZE = 40 * KiB + 3;
/** Read targets: synchronous path, whole async read, streamed over 2 to 25 one-MiB chunks. */
const TARGET_SIZES = [700, 8 * KiB + 1, 100 * KiB, 900 * KiB, MiB + 4097, 3 * MiB + 17, 6 * MiB - 5, 16 * MiB + 1, 24 * MiB + 7];
/** Needles at least this big are big enough to outlast the socket buffers when read slowly. */
const SLOW_FROM = 16 * MiB;

/** Bytes of needle `id` (xorshift seeded by the id), so a byte from any other needle or offset differs. */
function content(id: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (id * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = (x >>> 0) & 0xff;
  }
  return b;
}

function drain(address: string, rpc: string, req: object): Promise<grpc.ServiceError | undefined> {
  const Ctor = volumeServerClientConstructor();
  const client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  return new Promise((resolve) => {
    const call = (client as unknown as Record<string, (r: object, o: object) => grpc.ClientReadableStream<unknown>>)[rpc].call(client, req, {
      deadline: Date.now() + 120_000,
    });
    call.on('data', () => undefined);
    call.on('error', (e: grpc.ServiceError) => {
      client.close();
      resolve(e);
    });
    call.on('end', () => {
      client.close();
      resolve(undefined);
    });
  });
}

interface Target {
  id: number;
  cookie: number;
  data: Buffer;
}

interface ReadOutcome {
  straddled: boolean;
  failure?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Descriptors of process `pid` still open on a .dat that a commit renamed over ("path (deleted)"). */
function replacedDatFds(pid: number, datPath: string): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `${datPath} (deleted)`) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describe('reads racing compaction commits', () => {
  let vs: VolumeServer;
  let dir: string;
  const fid = (t: { id: number; cookie: number }) => formatFileId(VID, BigInt(t.id), t.cookie);

  before(async () => {
    dir = tempDir('ts-weed-read-race-');
    vs = await startVolumeServer({ dir, env: { WEED_OFFSET_BYTES: '4' }, extraArgs: ['--readBufferSizeMB', '1'] });
    const c = volumeClient(vs.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: VID, collection: '', replication: '000', ttl: '', version: 3 });
    } finally {
      c.close();
    }
  });

  after(async () => {
    await vs?.stop();
    cleanup(dir);
  });

  async function put(t: Target): Promise<void> {
    const r = await rawRequest('POST', `${vs.url}/${fid(t)}`, { 'Content-Type': 'application/octet-stream' }, t.data);
    assert.equal(r.status, 201, `upload ${t.id}: ${r.body.toString()}`);
  }

  async function del(t: Target): Promise<void> {
    const r = await rawRequest('DELETE', `${vs.url}/${fid(t)}`);
    assert.equal(r.status, 202, `delete ${t.id}: ${r.body.toString()}`);
  }

  test('every byte of every answer is the needle the read asked for', async () => {
    let nextId = 1;
    const make = (size: number): Target => {
      const id = nextId++;
      return { id, cookie: (0x5ace0000 + id) >>> 0, data: content(id, size) };
    };
    // One pad per round in front of every target: deleting it moves all of them at the commit.
    const pads = Array.from({ length: ROUNDS }, () => make(PAD_SIZE));
    for (const p of pads) await put(p);
    const targets = TARGET_SIZES.map(make);
    for (const t of targets) await put(t);

    let commits = 0;
    let done = false;
    let reads = 0;
    let ranged = 0;
    let straddled = 0;
    const failures: string[] = [];

    /** One GET, consumed slowly; every byte checked as it arrives. */
    const readOnce = (t: Target, range: [number, number] | undefined, pauseMs: number): Promise<ReadOutcome> => {
      const startCommits = commits;
      const [from, to] = range ?? [0, t.data.length - 1];
      const want = t.data.subarray(from, to + 1);
      const what = `needle ${t.id} (${t.data.length} B)${range ? ` range ${from}-${to}` : ''}`;
      return new Promise((resolve) => {
        let settled = false;
        const finish = (failure?: string) => {
          if (settled) return;
          settled = true;
          resolve({ straddled: commits !== startCommits, failure });
        };
        const headers: Record<string, string> = range ? { Range: `bytes=${from}-${to}` } : {};
        const req = httpRequest(`${vs.url}/${fid(t)}`, { headers }, (res) => {
          const status = res.statusCode ?? 0;
          if (status !== (range ? 206 : 200)) {
            res.resume();
            finish(`${what}: status ${status}`);
            return;
          }
          let pos = 0;
          res.on('data', (chunk: Buffer) => {
            if (settled) return;
            const expected = want.subarray(pos, pos + chunk.length);
            if (chunk.length > expected.length || !chunk.equals(expected)) {
              let at = 0;
              while (at < expected.length && chunk[at] === expected[at]) at++;
              finish(`${what}: wrong byte at ${from + pos + at} (commit ${startCommits} → ${commits})`);
              res.destroy();
              return;
            }
            pos += chunk.length;
            if (pauseMs > 0) {
              res.pause();
              setTimeout(() => res.resume(), pauseMs);
            }
          });
          res.on('end', () => finish(pos === want.length ? undefined : `${what}: body ended at ${pos} of ${want.length} bytes`));
          res.on('aborted', () => finish(`${what}: aborted after ${pos} of ${want.length} bytes (commit ${startCommits} → ${commits})`));
          res.on('error', (e) => finish(`${what}: ${e.message} after ${pos} bytes`));
          res.on('close', () => finish(pos === want.length ? undefined : `${what}: closed after ${pos} of ${want.length} bytes`));
        });
        req.on('error', (e) => finish(`${what}: ${e.message}`));
        req.end();
      });
    };

    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };

    const big = targets.filter((t) => t.data.length >= SLOW_FROM);
    const reader = async (bigOnly: boolean): Promise<void> => {
      while (!done) {
        const pool = bigOnly ? big : targets;
        const t = pool[rand(pool.length)];
        const len = t.data.length;
        let range: [number, number] | undefined;
        if (rand(3) === 0) {
          const a = rand(len);
          range = [a, a + rand(len - a)];
          ranged++;
        }
        // Big answers are consumed slowly so the server is still reading them at a commit.
        const out = await readOnce(t, range, bigOnly ? 5 : 0);
        reads++;
        if (out.straddled) straddled++;
        if (out.failure && failures.length < 20) failures.push(out.failure);
      }
    };

    const vacuumRounds = async (): Promise<void> => {
      try {
        for (let round = 0; round < ROUNDS; round++) {
          await sleep(300);
          await del(pads[round]);
          // garbage written and deleted behind the targets too
          const junk = [make(64 * KiB), make(300 * KiB)];
          for (const j of junk) await put(j);
          for (const j of junk) await del(j);
          const err = await drain(vs.grpcAddress, 'VacuumVolumeCompact', { volume_id: VID });
          assert.equal(err, undefined, err?.message);
          const c = volumeClient(vs.grpcAddress);
          try {
            await c.call('VacuumVolumeCommit', { volume_id: VID }, 60_000);
          } finally {
            c.close();
          }
          commits++;
        }
        await sleep(300);
      } finally {
        done = true;
      }
    };

    await Promise.all([vacuumRounds(), ...Array.from({ length: READERS }, (_, i) => reader(i < 2))]);

    assert.deepEqual(failures, [], `${failures.length} bad reads of ${reads}`);
    assert.equal(commits, ROUNDS);
    // each commit bumped the compaction revision in the super block
    assert.equal(readFileSync(join(dir, `${VID}.dat`)).readUInt16BE(4), ROUNDS);
    assert.ok(ranged > 0, 'no ranged read ran');
    assert.ok(straddled > 0, `no read was in flight across a commit (${reads} reads)`);

    // after the storm: everything still reads back whole
    for (const t of targets) {
      const out = await readOnce(t, undefined, 0);
      assert.equal(out.failure, undefined);
    }
    // and every replaced .dat the reads held was closed once they were done (bounded wait)
    const datPath = join(dir, `${VID}.dat`);
    for (let i = 0; i < 400 && replacedDatFds(vs.proc.pid!, datPath) > 0; i++) await sleep(25);
    assert.equal(replacedDatFds(vs.proc.pid!, datPath), 0, 'old .dat descriptors left open');
  });
});
