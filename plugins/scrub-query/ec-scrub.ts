// Scrubbing one EC volume, through core's EcVolumeAccess only (Go's
// weed/storage/erasure_coding/ec_volume_scrub.go ScrubIndex / ScrubLocal / ChecksumScrub and
// weed/storage/store_ec_scrub.go scrubEcVolumeWalk for FULL and READS), with Go's error texts.
// Memory stays bounded: the .ecx is walked in segments, shard bytes are read 1 MiB at a time, and a
// record larger than the scan window is verified streamed (core's checkRecord).
import { open, stat, type FileHandle } from 'node:fs/promises';
import { ecBlockLayout, locateData, type ShardInterval } from '../../core/storage/ec-locate.js';
import { mismatchedBlocks, resolveProtection, shardEntry, type ResolvedProtection } from '../../core/storage/ec-sum.js';
import type { EcVolumeAccess, LocalEcShard } from '../../core/storage/ec-volume-access.js';
import { walkIndexFile } from '../../core/storage/idx.js';
import { SizeMismatchError } from '../../core/storage/storage-errors.js';
import { indexEntrySize, needleIdFromHalves, NEEDLE_PADDING_SIZE, type OffsetWidth, type Version } from '../../core/storage/types.js';
import {
  checkIndexRows,
  checkRecord,
  goActualSize,
  SCAN_DAT_WINDOW,
  SCAN_IDX_ROWS,
  type ReadResult,
  type RecordSource,
  type ScanHooks,
} from '../../core/storage/volume-scan.js';

/** An EcShardInfo of the response. */
export interface BrokenShard {
  shard_id: number;
  size: string;
  collection: string;
  volume_id: number;
}

export interface EcScrubOutcome {
  /** .ecx rows walked (tombstones included), as Go counts. */
  files: number;
  /** Broken shards, one per shard id, by ascending id. */
  broken: BrokenShard[];
  /** Problems found, in Go's wording. */
  errors: string[];
}

const PIECE = 1024 * 1024;

function brokenOf(ev: EcVolumeAccess, shardId: number, size: number): BrokenShard {
  return { shard_id: shardId, size: String(size), collection: ev.collection, volume_id: ev.id };
}

function sortBroken(m: Map<number, BrokenShard>): BrokenShard[] {
  return [...m.values()].sort((a, b) => a.shard_id - b.shard_id);
}

const goList = (ids: number[]) => `[${ids.join(' ')}]`;

/** Go's error text of a failed read: io.EOF for a short one. */
function readErrorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return `open ${(err as { path?: string }).path ?? ''}: no such file or directory`;
  return err instanceof Error ? err.message : String(e);
}

class ShortReadError extends Error {
  constructor(readonly got: number) {
    super('EOF');
  }
}

/** The volume's mounted shard files, opened lazily and closed together. */
class LocalShards {
  private readonly fhs = new Map<number, Promise<FileHandle>>();
  readonly byId: Map<number, LocalEcShard>;

  constructor(ev: EcVolumeAccess) {
    this.byId = new Map(ev.localShards().map((s) => [s.shardId, s]));
  }

  /** Reads `buf.length` bytes of shard `id` at `pos`, in pieces, with the hook after each. */
  async read(id: number, pos: number, buf: Buffer, hooks: ScanHooks): Promise<void> {
    const s = this.byId.get(id)!;
    let p = this.fhs.get(id);
    if (!p) {
      p = open(s.path, 'r');
      this.fhs.set(id, p);
      p.catch(() => this.fhs.delete(id));
    }
    const fh = await p;
    let got = 0;
    while (got < buf.length) {
      const n = Math.min(PIECE, buf.length - got);
      const { bytesRead } = await fh.read(buf, got, n, pos + got);
      got += bytesRead;
      await hooks.onChunk?.(bytesRead);
      if (bytesRead < n) throw new ShortReadError(got);
    }
  }

  async close(): Promise<void> {
    for (const p of this.fhs.values()) await p.then((fh) => fh.close()).catch(() => undefined);
    this.fhs.clear();
  }
}

/** Go's LocateEcShardNeedleInterval. */
function locator(ev: EcVolumeAccess): (offset: number, length: number) => ShardInterval[] {
  const layout = ecBlockLayout(ev.blockSize);
  let shardDatSize: number;
  if (ev.datFileSize > 0) shardDatSize = Math.floor(ev.datFileSize / ev.dataShards);
  else shardDatSize = (ev.localShards()[0]?.size ?? 1) - 1;
  return (offset, length) => (length > 0 ? locateData(layout, shardDatSize, offset, length) : []);
}

/** A needle record's bytes as checkRecord reads them, fetched on demand through one window. */
class RecordWindow implements RecordSource {
  private readonly buf: Buffer;
  private start = 0;
  private len = 0;

  constructor(
    private readonly base: number,
    private readonly limit: number,
    private readonly fetch: (pos: number, into: Buffer) => Promise<void>,
    preloaded?: Buffer,
  ) {
    this.buf = preloaded ?? Buffer.allocUnsafe(Math.min(SCAN_DAT_WINDOW, limit - base));
    if (preloaded) {
      this.start = base;
      this.len = preloaded.length;
    }
  }

  holds(pos: number, len: number): boolean {
    return pos >= this.base && pos + len <= this.limit;
  }

  async slice(pos: number, len: number): Promise<Buffer | undefined> {
    if (!this.holds(pos, len)) return undefined;
    if (pos >= this.start && pos + len <= this.start + this.len) return this.buf.subarray(pos - this.start, pos - this.start + len);
    if (len > this.buf.length) throw new Error(`read of ${len} bytes exceeds the scan window`);
    const want = Math.min(this.buf.length, this.limit - pos);
    await this.fetch(pos, this.buf.subarray(0, want));
    this.start = pos;
    this.len = want;
    return this.buf.subarray(0, len);
  }

  async copy(pos: number, len: number): Promise<Buffer | undefined> {
    const b = await this.slice(pos, len);
    return b ? Buffer.from(b) : undefined;
  }
}

/** Go's ReadBytes error text for a record whose header size differs (EC reads pass offset 0). */
function mismatchText(width: OffsetWidth, m: { id: bigint; size: number }, size: number): string {
  if (width === 4) return new SizeMismatchError().message;
  return `${new SizeMismatchError().message}: entry not found: offset 0 found id ${m.id.toString(16)} size ${m.size}, expected size ${size}`;
}

/** Walks the .ecx rows a segment at a time (async work per row allowed). */
async function walkEcx(
  ev: EcVolumeAccess,
  width: OffsetWidth,
  fn: (id: bigint, offset: number, size: number) => Promise<void>,
): Promise<void> {
  const fh = await open(ev.indexBase + '.ecx', 'r');
  try {
    const rows = Math.floor((await fh.stat()).size / indexEntrySize(width));
    const seg: { id: bigint; offset: number; size: number }[] = [];
    for (let from = 0; from < rows; from += SCAN_IDX_ROWS) {
      const n = Math.min(SCAN_IDX_ROWS, rows - from);
      await walkIndexFile(fh, width, (hi, lo, u, size) => seg.push({ id: needleIdFromHalves(hi, lo), offset: u * NEEDLE_PADDING_SIZE, size }), {
        fromRow: from,
        rows: n,
        readRows: n,
      });
      for (const r of seg) await fn(r.id, r.offset, r.size);
      seg.length = 0;
    }
  } finally {
    await fh.close();
  }
}

/** Go's EcVolume.ScrubIndex: the .ecx checked as an index file. */
export async function scrubEcIndex(ev: EcVolumeAccess, width: OffsetWidth, hooks: ScanHooks = {}): Promise<EcScrubOutcome> {
  const path = ev.indexBase + '.ecx';
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return { files: 0, broken: [], errors: [`no ECX file associated with EC volume ${ev.id}`] };
  }
  try {
    const size = (await fh.stat()).size;
    if (size === 0) return { files: 0, broken: [], errors: [`zero-size ECX file for EC volume ${ev.id}`] };
    const out = await checkIndexRows(fh, size, width, ev.version as Version, hooks);
    return { files: out.files, broken: [], errors: out.errors };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** What a walk over the live needles starts from: the index check's errors, the interval locator, the local shards, no broken shard yet. */
async function beginWalk(ev: EcVolumeAccess, width: OffsetWidth, hooks: ScanHooks) {
  const { errors } = await scrubEcIndex(ev, width, hooks);
  return { errors, locate: locator(ev), local: new LocalShards(ev), broken: new Map<number, BrokenShard>(), version: ev.version as Version };
}

/**
 * Go's EcVolume.ScrubLocal: the index check, then every live needle's intervals on local shards
 * read (a short or unreadable local shard is reported broken), and a needle held wholly here
 * decoded and its CRC checked. Intervals on other servers' shards are not read.
 */
export async function scrubEcLocal(ev: EcVolumeAccess, width: OffsetWidth, hooks: ScanHooks = {}): Promise<EcScrubOutcome> {
  const { errors, locate, local, broken, version } = await beginWalk(ev, width, hooks);
  let count = 0;
  const flag = (s: LocalEcShard, text: string) => {
    broken.set(s.shardId, brokenOf(ev, s.shardId, s.size));
    errors.push(text);
  };
  try {
    await walkEcx(ev, width, async (id, offset, size) => {
      count++;
      if (size === -1) return;
      const want = goActualSize(size, version);
      const ivs = locate(offset, want);
      const keep = want <= SCAN_DAT_WINDOW ? Buffer.alloc(Math.max(want, 0)) : undefined;
      let read = 0;
      let remote = false;
      const localIds: number[] = [];
      for (let i = 0; i < ivs.length; i++) {
        const iv = ivs[i];
        const s = local.byId.get(iv.shardId);
        if (!s) {
          remote = true;
          read += iv.size;
          continue;
        }
        localIds.push(iv.shardId);
        if (iv.offset + iv.size > s.size) {
          flag(s, `local shard ${iv.shardId} for needle ${id} is too short (${s.size}), cannot read chunk ${i + 1}/${ivs.length}`);
          continue;
        }
        const chunk = keep ? keep.subarray(read, read + iv.size) : Buffer.allocUnsafe(Math.min(iv.size, PIECE));
        try {
          if (keep) await local.read(iv.shardId, iv.offset, chunk, hooks);
          else for (let p = 0; p < iv.size; p += PIECE) await local.read(iv.shardId, iv.offset + p, chunk.subarray(0, Math.min(PIECE, iv.size - p)), hooks);
        } catch (e) {
          if (e instanceof ShortReadError) {
            flag(s, `failed to read chunk ${i + 1}/${ivs.length} for needle ${id} from local shard ${iv.shardId} at offset ${iv.offset}: EOF`);
          } else {
            flag(s, `failed to read chunk ${i + 1}/${ivs.length} for needle ${id} from local shard ${iv.shardId} at offset ${iv.offset}: ${readErrorText(e)}`);
          }
          continue;
        }
        read += iv.size;
      }
      localIds.sort((a, b) => a - b);
      if (read !== want) {
        // Go aborts the walk here: the rows after it are not checked.
        throw new WalkStop(`expected ${want} bytes for needle ${id} on volume ${ev.id}, got ${read}`);
      }
      if (remote) return;
      const src = new RecordWindow(offset, offset + want, (pos, into) => readLocal(local, locate, pos, into, hooks), keep);
      const r = await checkRecord(src, offset, size, version);
      const text = recordProblem(r, size, width, false);
      if (text) errors.push(`needle ${id} on volume ${ev.id}, shards ${goList(localIds)}: ${text}`);
    });
  } catch (e) {
    if (!(e instanceof WalkStop)) throw e;
    errors.push(e.message);
  } finally {
    await local.close();
  }
  return { files: count, broken: sortBroken(broken), errors };
}

class WalkStop extends Error {}

async function readLocal(local: LocalShards, locate: (o: number, l: number) => ShardInterval[], pos: number, into: Buffer, hooks: ScanHooks): Promise<void> {
  let at = 0;
  for (const iv of locate(pos, into.length)) {
    await local.read(iv.shardId, iv.offset, into.subarray(at, at + iv.size), hooks);
    at += iv.size;
  }
}

/** The problem checkRecord found, or undefined; a delete-state disagreement is not one unless forced. */
function recordProblem(r: ReadResult, size: number, width: OffsetWidth, force: boolean): string | undefined {
  if ('needle' in r) return undefined;
  if ('error' in r) return r.error;
  const indexDeleted = size < 0;
  if (indexDeleted !== (r.mismatch.size === 0) && !force) return undefined;
  return mismatchText(width, r.mismatch, size);
}

/**
 * Go's scrubEcVolumeWalk: every live needle's intervals read as stored, from the local shard or
 * else from a peer holding that shard (never rebuilt: the point is to find broken shards). A shard
 * that cannot be read is reported broken; FULL then reports the needle, READS rebuilds the interval
 * from the other shards and checks the needle anyway.
 */
export async function scrubEcReads(
  ev: EcVolumeAccess,
  width: OffsetWidth,
  mode: 'FULL' | 'READS',
  forceDeleted: boolean,
  hooks: ScanHooks = {},
  signal?: AbortSignal,
): Promise<EcScrubOutcome> {
  const { errors, locate, local, broken, version } = await beginWalk(ev, width, hooks);
  let count = 0;
  try {
    await walkEcx(ev, width, async (id, offset, size) => {
      count++;
      if (size === -1) return;
      const want = goActualSize(size, version);
      const ivs = locate(offset, want);
      const shardIds = ivs.map((iv) => iv.shardId).sort((a, b) => a - b);
      const keep = want <= SCAN_DAT_WINDOW ? Buffer.alloc(Math.max(want, 0)) : undefined;
      // How each interval was read, so a large record is decoded from the same places.
      const how: ('local' | 'stored' | 'rebuilt')[] = [];
      let got = 0;
      let logical = offset;
      for (let i = 0; i < ivs.length; i++) {
        const iv = ivs[i];
        const into = keep ? keep.subarray(got, got + iv.size) : undefined;
        const attempt = async (kind: 'local' | 'stored' | 'rebuilt'): Promise<unknown> => {
          try {
            await readInterval(ev, local, iv, logical, kind, into, hooks, signal);
            how.push(kind);
            return undefined;
          } catch (e) {
            return e;
          }
        };
        let err: unknown = local.byId.has(iv.shardId) ? await attempt('local') : new Error('no known shard locations');
        if (err !== undefined) err = await attempt('stored');
        if (err !== undefined) {
          broken.set(iv.shardId, brokenOf(ev, iv.shardId, iv.size));
          if (mode === 'FULL') {
            errors.push(`failed to read EC shard ${iv.shardId} for needle ${id} on volume ${ev.id} (interval ${i + 1}/${ivs.length}): ${readErrorText(err)}`);
            break;
          }
          const rerr = await attempt('rebuilt');
          if (rerr !== undefined) {
            errors.push(`failed to recover EC shard ${iv.shardId} for needle ${id} on volume ${ev.id} (interval ${i + 1}/${ivs.length}): ${readErrorText(rerr)}`);
            break;
          }
        }
        got += iv.size;
        logical += iv.size;
      }
      if (got !== want) {
        errors.push(`EC volume ${ev.id}, needle ${id} on shards ${goList(shardIds)}: expected ${want} bytes, got ${got}`);
        return;
      }
      const fetch = async (pos: number, into: Buffer) => {
        let at = 0;
        let lpos = pos;
        for (const iv of locate(pos, into.length)) {
          const k = how[ivs.findIndex((x) => x.shardId === iv.shardId)] ?? 'rebuilt';
          await readInterval(ev, local, iv, lpos, k, into.subarray(at, at + iv.size), hooks, signal);
          at += iv.size;
          lpos += iv.size;
        }
      };
      const r = await checkRecord(new RecordWindow(offset, offset + want, fetch, keep), offset, size, version);
      const text = recordProblem(r, size, width, forceDeleted);
      if (text) errors.push(`EC volume ${ev.id}, needle ${id} on shards ${goList(shardIds)}: ${text}`);
    });
  } finally {
    await local.close();
  }
  return { files: count, broken: sortBroken(broken), errors };
}

/** One interval: from the local shard file, as stored on a peer, or rebuilt from other shards. */
async function readInterval(
  ev: EcVolumeAccess,
  local: LocalShards,
  iv: ShardInterval,
  logical: number,
  kind: 'local' | 'stored' | 'rebuilt',
  into: Buffer | undefined,
  hooks: ScanHooks,
  signal?: AbortSignal,
): Promise<void> {
  for (let p = 0; p < iv.size; p += PIECE) {
    const n = Math.min(PIECE, iv.size - p);
    if (kind === 'local') {
      await local.read(iv.shardId, iv.offset + p, into ? into.subarray(p, p + n) : Buffer.allocUnsafe(n), hooks);
      continue;
    }
    const b = await ev.readDat(logical + p, n, { signal, noReconstruct: kind === 'stored' });
    if (b.length !== n) throw new Error(`short read of shard ${iv.shardId}: ${b.length} of ${n} bytes`);
    if (into) b.copy(into, p);
    await hooks.onChunk?.(n);
  }
}

/**
 * Go's ChecksumScrub: every local shard's bytes against the bitrot sidecar. No sidecar: nothing to
 * check. More mismatching shards than parity shards is taken for a stale sidecar, not for that
 * many rotten shards.
 */
export async function scrubEcChecksum(ev: EcVolumeAccess, metadataDirs: string[], hooks: ScanHooks = {}): Promise<EcScrubOutcome> {
  const errors: string[] = [];
  let r: ResolvedProtection;
  try {
    const dataBase = ev.localShards()[0]?.path.replace(/\.ec\d\d$/, '') ?? ev.indexBase;
    r = await resolveProtection(ev.id, { dataShards: ev.dataShards, parityShards: ev.parityShards, blockSize: ev.blockSize }, dataBase, ev.indexBase, metadataDirs);
  } catch (e) {
    return { files: 0, broken: [], errors: [(e as Error).message] };
  }
  if (r.status === 'off') return { files: 0, broken: [], errors: [] };
  if (r.status === 'invalid' || !r.prot) {
    return { files: 0, broken: [], errors: [`ec volume ${ev.id}: bitrot sidecar is malformed/unverifiable (sidecar integrity)`] };
  }
  const prot = r.prot;
  const shards = ev.localShards();
  const broken = new Map<number, BrokenShard>();
  for (const s of shards) {
    const entry = shardEntry(prot, s.shardId);
    if (!entry) {
      errors.push(`ec volume ${ev.id}: no checksum entry for local shard ${s.shardId}`);
      continue;
    }
    let size: number;
    try {
      size = (await stat(s.path)).size;
    } catch (e) {
      errors.push(`ec volume ${ev.id} shard ${s.shardId}: ${readErrorText(e)}`);
      broken.set(s.shardId, brokenOf(ev, s.shardId, s.size));
      continue;
    }
    if (size !== entry.coveredSize) {
      errors.push(`ec volume ${ev.id} shard ${s.shardId}: size ${size} != covered_size ${entry.coveredSize} (truncated or extended)`);
      broken.set(s.shardId, brokenOf(ev, s.shardId, s.size));
      continue;
    }
    let bad: number[];
    try {
      bad = await mismatchedBlocks(s.path, entry, prot.blockSize, hooks);
    } catch (e) {
      errors.push(`ec volume ${ev.id} shard ${s.shardId}: ${readErrorText(e)}`);
      broken.set(s.shardId, brokenOf(ev, s.shardId, s.size));
      continue;
    }
    for (const i of bad) errors.push(`ec volume ${ev.id} shard ${s.shardId}: checksum mismatch at block ${i} (offset ${i * prot.blockSize})`);
    if (bad.length > 0) broken.set(s.shardId, brokenOf(ev, s.shardId, s.size));
  }
  if (broken.size > ev.parityShards) {
    return {
      files: 0,
      broken: [],
      errors: [`ec volume ${ev.id}: ${broken.size}/${shards.length} local shards mismatch (> parity ${ev.parityShards}): suspect stale sidecar, not flagging shard corruption`],
    };
  }
  return { files: 0, broken: sortBroken(broken), errors };
}
