// Test helpers for whole clusters: `weed shell` against a Go master, Go volume servers with chosen
// flags, a set of needles written and read back through every server, and where a volume's EC
// shards lie on disk.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { rawRequest } from './http.js';
import { startGoVolumeServer, waitFor, weedBinary, type Master, type VolumeServer } from './processes.js';

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `weed shell` non-interactively against the master: the commands go in on stdin between
 * `lock` and `unlock` (the ec.* commands refuse to run unlocked). The shell exits non-zero when a
 * command failed (weed/shell/shell_liner.go RunShell keeps the last error).
 */
export function weedShell(master: Master, commands: string[], opts: { width?: 4 | 5; timeoutMs?: number } = {}): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(weedBinary(opts.width ?? 5), ['shell', `-master=${master.address}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout.on('data', (c: Buffer) => out.push(c));
    proc.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    proc.stdin.end(['lock', ...commands, 'unlock', 'exit', ''].join('\n'));
  });
}

/** weedShell that must succeed: exit 0 and no `error:` line; returns stdout + stderr. */
export async function weedShellOk(master: Master, commands: string[], opts: { width?: 4 | 5; timeoutMs?: number } = {}): Promise<string> {
  const r = await weedShell(master, commands, opts);
  const all = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, `weed shell ${commands.join('; ')} exited ${r.code}:\n${all}`);
  assert.doesNotMatch(r.stderr, /^error: /m, `weed shell ${commands.join('; ')}:\n${all}`);
  return all;
}

/** The reference Go volume server with a chosen volume count (-max) and extra flags. */
export function startGoVolumeServerWith(opts: { master: string; dir: string; width: 4 | 5; max: number; extraArgs?: string[] }): Promise<VolumeServer> {
  // Go's flag package keeps the last value: this -max overrides the helper's default.
  return startGoVolumeServer({ master: opts.master, dir: opts.dir, width: opts.width, extraArgs: [`-max=${opts.max}`, ...(opts.extraArgs ?? [])] });
}

/** A needle written to the cluster: its fid, its body, and whether it was deleted since. */
export interface Needle {
  fid: string;
  body: Buffer;
  deleted: boolean;
}

/** Builds the fid of key `key` with the cookie of an assigned fid, in the volume of `vid`. */
export function fidOf(vid: number, key: bigint, cookieHex: string): string {
  return `${vid},${key.toString(16)}${cookieHex}`;
}

/**
 * Mixed bodies for `count` needles: mostly small (0..~30 KB, some empty), and every
 * `largeEvery`th one past 1 MiB, so that several needles cross from one shard's block into the next.
 */
export function mixedBodies(count: number, largeEvery = 50): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    if (i % largeEvery === largeEvery - 1) out.push(randomBytes(1024 * 1024 + 1 + i * 3001));
    else if (i % 37 === 5) out.push(Buffer.alloc(0));
    else out.push(randomBytes((i * 7919) % 30_000 + 1));
  }
  return out;
}

/** Uploads `body` as needle `fid` through `server` (raw octet-stream POST). */
export async function uploadNeedle(server: VolumeServer, fid: string, body: Buffer): Promise<void> {
  const r = await rawRequest('POST', `${server.url}/${fid}`, { 'Content-Type': 'application/octet-stream' }, body);
  assert.equal(r.status, 201, `upload ${fid} to ${server.port}: ${r.status} ${r.body.toString()}`);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Reads every needle through every server's HTTP port: a live one must come back byte-exact with
 * 200, a deleted one must answer 404. Collects every mismatch, then fails with the first few.
 */
export async function assertReadsEverywhere(servers: VolumeServer[], needles: Needle[], what: string): Promise<void> {
  const problems: string[] = [];
  const perServer = new Map<number, Map<string, number>>();
  const note = (s: VolumeServer, kind: string, detail: string) => {
    problems.push(`${s.port} ${detail}`);
    const m = perServer.get(s.port) ?? new Map<string, number>();
    m.set(kind, (m.get(kind) ?? 0) + 1);
    perServer.set(s.port, m);
  };
  const jobs = servers.flatMap((s) => needles.map((n) => ({ s, n })));
  await eachLimited(jobs, 6, async ({ s, n }) => {
    let r;
    try {
      r = await rawRequest('GET', `${s.url}/${n.fid}`);
    } catch (e) {
      note(s, 'error', `${n.fid}: ${(e as Error).message}`);
      return;
    }
    if (n.deleted) {
      if (r.status !== 404) note(s, `deleted→${r.status}`, `${n.fid}: deleted needle answered ${r.status}`);
    } else if (r.status !== 200) {
      note(s, String(r.status), `${n.fid}: ${r.status} ${r.body.subarray(0, 200).toString()}`);
    } else if (!r.body.equals(n.body)) {
      note(s, 'differs', `${n.fid}: body differs (${r.body.length} bytes, want ${n.body.length})`);
    }
  });
  const summary = servers
    .map((s) => `${s.port}: ${[...(perServer.get(s.port) ?? new Map<string, number>())].map(([k, v]) => `${v}×${k}`).join(' ') || 'ok'}`)
    .join('; ');
  assert.equal(problems.length, 0, `${what}: ${problems.length} of ${jobs.length} reads wrong (${summary}):\n${problems.slice(0, 10).join('\n')}`);
}

/** The EC shard ids of volume `vid` whose files (<vid>.ecNN) lie in `dir`. */
export function shardFilesIn(dir: string, vid: number, collection = ''): number[] {
  const prefix = collection ? `${collection}_${vid}` : String(vid);
  const re = new RegExp(`^${prefix}\\.ec(\\d\\d)$`);
  return readdirSync(dir)
    .map((n) => re.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * Where the shards of `vid` lie across `servers`' directories; asserts every one of the 14 lies on
 * exactly one server (the layout ec.encode, ec.rebuild and ec.balance leave), and that each
 * holder also has the sorted index (.ecx) and the .vif.
 */
export function assertShardsSpread(servers: VolumeServer[], vid: number): Map<VolumeServer, number[]> {
  const byServer = new Map<VolumeServer, number[]>();
  const seen: number[] = [];
  for (const s of servers) {
    const ids = shardFilesIn(s.dir, vid);
    byServer.set(s, ids);
    seen.push(...ids);
    if (ids.length === 0) continue;
    const files = readdirSync(s.dir);
    // The shards' sorted index and the .vif that records their layout (block size, shard counts).
    for (const ext of ['.ecx', '.vif']) assert.ok(files.includes(`${vid}${ext}`), `${s.port} holds shards of ${vid} but no ${ext}`);
  }
  seen.sort((a, b) => a - b);
  const layout = [...byServer].map(([s, ids]) => `${s.port}:[${ids.join(',')}]`).join(' ');
  assert.deepEqual(seen, [...Array(14).keys()], `shards of ${vid} across servers: ${layout}`);
  return byServer;
}

/** Waits until the master lists volume `vid` (a normal volume) at some server. */
export async function waitVolumeKnown(master: Master, vid: number): Promise<void> {
  await waitFor(
    async () => {
      const r = (await (await fetch(`${master.url}/dir/lookup?volumeId=${vid}`)).json()) as { locations?: unknown[] };
      return (r.locations?.length ?? 0) > 0;
    },
    15_000,
    `volume ${vid} known to the master`,
  );
}

/** Waits until the master's topology no longer lists the server at 127.0.0.1:<port>. */
export async function waitUnregistered(master: Master, port: number): Promise<void> {
  await waitFor(
    async () => !JSON.stringify(await (await fetch(`${master.url}/dir/status`)).json()).includes(`"Url":"127.0.0.1:${port}"`),
    30_000,
    `volume server ${port} gone from the master`,
  );
}

/**
 * `/dir/assign?count=N`: N consecutive keys in one volume with one cookie. Retried while the
 * master is still growing its first volumes (it answers an error until they are allocated).
 */
export async function assignBatch(master: Master, count: number): Promise<{ vid: number; firstKey: bigint; cookie: string; url: string }> {
  let last = '';
  let got: { vid: number; firstKey: bigint; cookie: string; url: string } | undefined;
  await waitFor(
    async () => {
      const r = (await (await fetch(`${master.url}/dir/assign?count=${count}`)).json()) as { fid?: string; url?: string; count?: number };
      last = JSON.stringify(r);
      const m = /^(\d+),([0-9a-f]+)([0-9a-f]{8})$/.exec(r.fid ?? '');
      if (!m || !r.url || r.count !== count) return false;
      got = { vid: Number(m[1]), firstKey: BigInt(`0x${m[2]}`), cookie: m[3], url: r.url };
      return true;
    },
    20_000,
    `an assign of ${count} keys`,
  ).catch((e: Error) => {
    throw new Error(`${e.message}: last answer ${last}`);
  });
  return got!;
}

/**
 * Shards regenerated after `gone` stopped must equal, byte for byte, the files `gone` left on its
 * disk (deletes touch only the .ecx and .ecj, never the shards).
 */
export function assertRebuiltShardsEqual(gone: VolumeServer, lostIds: number[], live: VolumeServer[], vid: number): void {
  for (const id of lostIds) {
    const name = `${vid}.ec${String(id).padStart(2, '0')}`;
    const holder = live.find((s) => shardFilesIn(s.dir, vid).includes(id));
    assert.ok(holder, `shard ${id} rebuilt somewhere`);
    const want = readFileSync(join(gone.dir, name));
    const got = readFileSync(join(holder.dir, name));
    assert.equal(got.length, want.length, `${name} size on ${holder.port}`);
    assert.ok(got.equals(want), `${name} rebuilt on ${holder.port} differs from the lost copy`);
  }
}

/**
 * The shard holding the start of needle `fid` of an EC volume whose shards, sorted index (.ecx)
 * and .vif lie in `dirs`. The .ecx gives the needle's offset in the encoded .dat (entries of key
 * 8 bytes, offset 4 or 5 bytes in 8-byte units — the fifth byte is the high one,
 * weed/storage/types/offset_5bytes.go — and size 4 bytes); the .dat lies in rows of one block per
 * data shard, the block size the .vif records (weed/storage/erasure_coding/ec_encoder.go
 * UniformBlockSize; 0 is the legacy 1 MiB small block, all there is below 10 GiB). Checked against
 * the shard file: the needle header there carries the key. A delete is journalled on this shard's
 * holder (weed/storage/store_ec_delete.go doDeleteNeedleFromAtLeastOneRemoteEcShards).
 */
export function primaryShardOf(dirs: string[], fid: string, width: 4 | 5): number {
  const MiB = 1024 * 1024;
  const comma = fid.indexOf(',');
  const vid = fid.slice(0, comma);
  const key = BigInt(`0x${fid.slice(comma + 1, -8)}`);
  const ecxDir = dirs.find((d) => readdirSync(d).includes(`${vid}.ecx`));
  assert.ok(ecxDir, `no ${vid}.ecx in ${dirs.join(' ')}`);
  const ecx = readFileSync(join(ecxDir, `${vid}.ecx`));
  const vif = JSON.parse(readFileSync(join(ecxDir, `${vid}.vif`), 'utf8')) as { ecShardConfig?: { blockSize?: number | string } };
  const block = Number(vif.ecShardConfig?.blockSize ?? 0) || MiB;
  const entry = 8 + width + 4;
  let lo = 0;
  let hi = ecx.length / entry - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const k = ecx.readBigUInt64BE(mid * entry);
    if (k < key) lo = mid + 1;
    else if (k > key) hi = mid - 1;
    else {
      const datOffset = (ecx.readUInt32BE(mid * entry + 8) + (width === 5 ? ecx[mid * entry + 12] * 2 ** 32 : 0)) * 8;
      assert.ok(datOffset < 10 * 1024 * MiB, 'an offset past the legacy layout large blocks');
      const shard = Math.floor(datOffset / block) % 10;
      const inShard = Math.floor(datOffset / (10 * block)) * block + (datOffset % block);
      const name = `${vid}.ec${String(shard).padStart(2, '0')}`;
      const shardDir = dirs.find((d) => readdirSync(d).includes(name));
      assert.ok(shardDir, `no ${name} in ${dirs.join(' ')}`);
      const header = Buffer.alloc(12);
      const fd = openSync(join(shardDir, name), 'r');
      try {
        readSync(fd, header, 0, 12, inShard);
      } finally {
        closeSync(fd);
      }
      assert.equal(header.readBigUInt64BE(4), key, `${fid}: the needle header in ${name} at ${inShard}`);
      return shard;
    }
  }
  throw new Error(`${fid} not in ${ecxDir}/${vid}.ecx`);
}
