// Needles of an EC volume read through core's EcVolumeAccess: located in the .ecx, parsed and
// CRC-checked; a needle whose bytes fail to parse because a shard is silently corrupt is rebuilt
// from the other shards (Go's rebuildEcShardNeedle), and one no hypothesis repairs is a clear
// corrupted-needle error. Deleted and unknown ids are Go's typed errors.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { Contributions } from '../../../../core/storage/contributions.js';
import { DiskLocation } from '../../../../core/storage/disk-location.js';
import type { EcVolumeAccess } from '../../../../core/storage/ec-volume-access.js';
import { idxEntryBytes } from '../../../../core/storage/idx.js';
import { encodeNeedle, newNeedle, parseNeedleHeader } from '../../../../core/storage/needle.js';
import { emptyVolumeInfo, saveVolumeInfo } from '../../../../core/storage/volume-info.js';
import { encodeDatFile } from '../../../../plugins/ec/codec/encode-files.js';
import { blockLayout, uniformBlockSize } from '../../../../plugins/ec/codec/layout.js';
import { EcStore } from '../../../../plugins/ec/ec-store.js';
import { deleteEcNeedle, readEcNeedle, readEcNeedleMeta } from '../../../../plugins/read-write/ec-read.js';

const VID = 3;
const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'ec-read-'));
// The last needle crosses the first 1 MiB block: its bytes are in shards 0 and 1.
const sizes = [100, 300_000, 50, 700_000, 100_000];
const records: { id: bigint; data: Buffer; offset: number; size: number }[] = [];
let store: EcStore;
let ec: EcVolumeAccess;

function shardPath(i: number): string {
  return join(dir, `${VID}.ec${String(i).padStart(2, '0')}`);
}

/** Flips the byte at `pos` of a shard file in place (the mounted handle sees it). */
function flip(shard: number, pos: number): void {
  const fd = openSync(shardPath(shard), 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, pos);
    b[0] ^= 0xff;
    writeSync(fd, b, 0, 1, pos);
  } finally {
    closeSync(fd);
  }
}

before(async () => {
  const parts: Buffer[] = [Buffer.from([3, 0, 0, 0, 0, 0, 0, 0])];
  let offset = 8;
  for (const [i, len] of sizes.entries()) {
    const id = BigInt(10 + i);
    const data = randomBytes(len);
    const rec = encodeNeedle(newNeedle({ id, cookie: 0x1234, data, appendAtNs: 1n }), 3);
    records.push({ id, data, offset, size: parseNeedleHeader(rec).size });
    parts.push(rec);
    offset += rec.length;
  }
  const dat = Buffer.concat(parts);
  assert.ok(records[4].offset < MiB && records[4].offset + 100_000 > MiB);
  const datPath = join(dir, `${VID}.dat`);
  writeFileSync(datPath, dat);
  const blockSize = uniformBlockSize(dat.length, 10);
  encodeDatFile({ datPath, shardPaths: Array.from({ length: 14 }, (_, i) => shardPath(i)), dataShards: 10, parityShards: 4, datSize: dat.length, layout: blockLayout(blockSize) });
  rmSync(datPath);
  writeFileSync(join(dir, `${VID}.ecx`), Buffer.concat(records.map((r) => idxEntryBytes(r.id, r.offset, r.size, 5))));
  const vi = emptyVolumeInfo();
  vi.version = 3;
  vi.datFileSize = dat.length;
  vi.ecShardConfig = { dataShards: 10, parityShards: 4, encodeTsNs: 1n, unknown: { blockSize: String(blockSize) } };
  await saveVolumeInfo(join(dir, `${VID}.vif`), vi);
  const loc = new DiskLocation({ directory: dir, idxDirectory: dir, maxVolumeCount: 8, diskType: '', minFreeSpace: { kind: 'percent', value: 0 }, tags: [], diskId: 0 });
  store = new EcStore([loc], new Contributions(), 5, pino({ level: 'silent' }));
  await store.loadLocation(loc, { data: readdirSync(dir), index: [] });
  ec = store.contributor().ecVolume!(VID)!;
});

after(async () => {
  await store.closeAll();
  rmSync(dir, { recursive: true, force: true });
});

test('every needle reads back whole, and as metadata', async () => {
  for (const r of records) {
    const got = await readEcNeedle(ec, r.id);
    assert.equal(got.needle.id, r.id);
    assert.equal(got.needle.cookie, 0x1234);
    assert.ok(Buffer.from(got.needle.data).equals(r.data));
    const meta = await readEcNeedleMeta(ec, r.id);
    assert.equal(meta.needle.dataSize, r.data.length);
    assert.equal(meta.needle.dataOffset, r.offset + 20);
  }
  await assert.rejects(readEcNeedle(ec, 999n), { code: 'NEEDLE_NOT_FOUND', message: 'locate in local ec volume: needle not found' });
});

test('a corrupt data shard is routed around: the needle is rebuilt from the others', async () => {
  // A byte of needle 11's data in shard 0, and a byte of needle 14's second part in shard 1: the
  // latter also lies in the range of shard 1 that rebuilding needle 11's interval reads, so that
  // needle needs the second hypothesis (shard 1 left out of the rebuild too).
  flip(0, records[1].offset + 5_000);
  flip(1, records[4].offset + 60_000 - MiB);
  for (const r of [records[1], records[4]]) {
    const got = await readEcNeedle(ec, r.id);
    assert.ok(Buffer.from(got.needle.data).equals(r.data), `needle ${r.id}`);
  }
});

test('corruption no hypothesis repairs is a corrupted-needle error naming the needle', async () => {
  const pos = records[3].offset + 1_000;
  // The data shard and every parity shard at the same place: no clean set of ten remains.
  for (const s of [0, 10, 11, 12, 13]) flip(s, pos);
  await assert.rejects(readEcNeedle(ec, records[3].id), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'NEEDLE_CORRUPTED');
    assert.match(e.message, /^ec volume 3 needle d offset \d+ size \d+: /);
    return true;
  });
});

test('a delete checks the cookie, journals the id, and the needle then reads as deleted', async () => {
  const r = records[2];
  await assert.rejects(deleteEcNeedle(ec, r.id, 0x9999), /unexpected cookie 9999/);
  const size = await deleteEcNeedle(ec, r.id, 0x1234);
  assert.equal(size % 8, 0);
  assert.ok(size > r.data.length);
  await assert.rejects(readEcNeedle(ec, r.id), { code: 'NEEDLE_DELETED' });
  await assert.rejects(deleteEcNeedle(ec, r.id, 0x1234), { code: 'NEEDLE_DELETED' });
});
