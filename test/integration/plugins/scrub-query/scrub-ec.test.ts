// ScrubEcVolume on our server under a Go master, in both offset widths: an EC corruption matrix.
// Each EC volume gets one kind of damage — a flipped byte in a data shard, a flipped byte in a
// parity shard, a truncated shard, a missing shard, a corrupt .ecx row — and each mode must name
// that volume and that shard and nothing else; a healthy EC volume with deletions reports nothing.
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { volumeClient, type VolumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, type Master, type VolumeServer } from '../../../helpers/processes.js';

interface ShardInfo {
  shard_id: number;
  volume_id: number;
}
interface EcScrubResponse {
  total_volumes: string;
  total_files: string;
  broken_volume_ids: number[];
  broken_shard_infos: ShardInfo[];
  details: string[];
}

const MiB = 1024 * 1024;
const ALL = [...Array(14).keys()];
/** Five 500 KB needles: ~2.5 MB of .dat, so one 1 MiB block row puts data in shards 0, 1 and 2. */
const NEEDLES = 5;
const BODY = 500_000;

function flipByte(path: string, at: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] ^= 0xff;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

for (const width of [5, 4] as const) {
  describe(`ScrubEcVolume corruption matrix (${width}-byte offsets)`, { timeout: 240_000 }, () => {
    let master: Master;
    let s: VolumeServer;
    let c: VolumeClient;

    const scrub = (vid: number, mode: string) => c.call<EcScrubResponse>('ScrubEcVolume', { volume_ids: [vid], mode }, 60_000);
    const shardIds = (r: EcScrubResponse) => r.broken_shard_infos.map((i) => i.shard_id);
    const shard = (vid: number, id: number) => join(s.dir, `${vid}.ec${String(id).padStart(2, '0')}`);

    /** A volume of NEEDLES needles (ids 1..), `deleted` of them deleted before the encode, encoded and every shard mounted. */
    async function ecVolume(vid: number, deleted: number[] = []): Promise<void> {
      await c.call('AllocateVolume', { volume_id: vid, collection: '', replication: '000', ttl: '', version: 3 });
      for (let i = 1; i <= NEEDLES; i++) {
        const body = Buffer.alloc(BODY, (vid * 31 + i) & 0xff);
        const r = await rawRequest('POST', `${s.url}/${formatFileId(vid, BigInt(i), 0x1234)}`, { 'Content-Type': 'application/octet-stream' }, body);
        assert.equal(r.status, 201, r.body.toString());
      }
      for (const i of deleted) {
        const r = await rawRequest('DELETE', `${s.url}/${formatFileId(vid, BigInt(i), 0x1234)}`);
        assert.equal(r.status, 202);
      }
      await c.call('VolumeEcShardsGenerate', { volume_id: vid, collection: '' }, 60_000);
      await c.call('VolumeEcShardsMount', { volume_id: vid, collection: '', shard_ids: ALL });
    }

    function assertClean(r: EcScrubResponse, mode: string): void {
      assert.equal(r.total_volumes, '1', mode);
      assert.deepEqual(r.broken_volume_ids, [], `${mode}: ${r.details.join('; ')}`);
      assert.deepEqual(r.broken_shard_infos, [], mode);
      assert.deepEqual(r.details, [], mode);
    }

    function assertOnly(r: EcScrubResponse, vid: number, shards: number[], mode: string): void {
      assert.deepEqual(r.broken_volume_ids, [vid], `${mode}: ${r.details.join('; ')}`);
      assert.deepEqual(shardIds(r), shards, `${mode}: ${r.details.join('; ')}`);
      for (const i of r.broken_shard_infos) assert.equal(i.volume_id, vid);
      assert.ok(r.details.length > 0, mode);
    }

    before(async () => {
      master = await startMaster(100, width);
      s = await startVolumeServer({ master: master.address, extraArgs: ['--max', '30'], env: { WEED_OFFSET_BYTES: String(width) } });
      c = volumeClient(s.grpcAddress);
    });

    after(async () => {
      c?.close();
      await s?.stop('SIGKILL');
      await master?.stop('SIGKILL');
      if (s) cleanup(s.dir);
      if (master) cleanup(master.dir);
    });

    test('a healthy EC volume with deletions reports nothing in any mode, and writes its .ecsum', async () => {
      await ecVolume(11, [2]);
      assert.ok(existsSync(join(s.dir, '11.ecsum')));
      // A delete after the encode: journalled in the .ecj, the .ecx row stays.
      await c.call('VolumeEcBlobDelete', { volume_id: 11, collection: '', file_key: '4', version: 3 });
      for (const mode of ['INDEX', 'LOCAL', 'FULL', 'READS', 'CHECKSUM']) assertClean(await scrub(11, mode), mode);
      // The .ecx holds the live needles at encode time: four (needle 2 was deleted before).
      assert.equal((await scrub(11, 'LOCAL')).total_files, '4');
      assert.equal((await scrub(11, 'CHECKSUM')).total_files, '0');
    });

    test('a flipped byte in a data shard: LOCAL and FULL name the needle on shard 1, CHECKSUM names shard 1', async () => {
      await ecVolume(12);
      flipByte(shard(12, 1), MiB / 2);
      for (const mode of ['LOCAL', 'FULL']) {
        const r = await scrub(12, mode);
        assert.deepEqual(r.broken_volume_ids, [12], mode);
        // Bytes read fine: no shard is unreadable, the needle's CRC is what fails.
        assert.deepEqual(r.broken_shard_infos, [], mode);
        assert.equal(r.details.length, 1, `${mode}: ${r.details.join('; ')}`);
        assert.match(r.details[0], /needle \d+ on (volume 12, )?shards \[1\]: .*CRC/, mode);
      }
      const sum = await scrub(12, 'CHECKSUM');
      assertOnly(sum, 12, [1], 'CHECKSUM');
      assert.deepEqual(sum.details, ['ec volume 12 shard 1: checksum mismatch at block 0 (offset 0)']);
      assertClean(await scrub(12, 'INDEX'), 'INDEX');
    });

    test('a flipped byte in a parity shard: only CHECKSUM sees it, and names shard 12', async () => {
      await ecVolume(13);
      flipByte(shard(13, 12), 100);
      for (const mode of ['INDEX', 'LOCAL', 'FULL']) assertClean(await scrub(13, mode), mode);
      assertOnly(await scrub(13, 'CHECKSUM'), 13, [12], 'CHECKSUM');
    });

    test('a truncated shard: LOCAL, FULL and CHECKSUM name shard 2', async () => {
      await ecVolume(14);
      truncateSync(shard(14, 2), 1);
      const local = await scrub(14, 'LOCAL');
      assertOnly(local, 14, [2], 'LOCAL');
      assert.ok(local.details.every((d) => /local shard 2|volume 14/.test(d)), local.details.join('; '));
      assertOnly(await scrub(14, 'FULL'), 14, [2], 'FULL');
      const sum = await scrub(14, 'CHECKSUM');
      assertOnly(sum, 14, [2], 'CHECKSUM');
      assert.match(sum.details[0], /^ec volume 14 shard 2: size 1 != covered_size \d+ \(truncated or extended\)$/);
      // The rebuild regenerates a present shard that fails the sidecar, and the mounted shard
      // reads the new file.
      const rebuilt = await c.call<{ rebuilt_shard_ids: number[] }>('VolumeEcShardsRebuild', { volume_id: 14, collection: '' }, 60_000);
      assert.deepEqual(rebuilt.rebuilt_shard_ids, [2]);
      for (const mode of ['LOCAL', 'FULL', 'CHECKSUM']) assertClean(await scrub(14, mode), `${mode} after the rebuild`);
    });

    test('a damaged .ecsum: CHECKSUM says so without blaming a shard, a rebuild refuses to trust it', async () => {
      const path = join(s.dir, '12.ecsum');
      flipByte(path, 30);
      const r = await scrub(12, 'CHECKSUM');
      assert.deepEqual(r.broken_volume_ids, [12]);
      assert.deepEqual(r.broken_shard_infos, []);
      assert.deepEqual(r.details, ['ec volume 12: bitrot sidecar is malformed/unverifiable (sidecar integrity)']);
      await assert.rejects(
        c.call('VolumeEcShardsRebuild', { volume_id: 12, collection: '' }, 60_000),
        /bitrot sidecar for .*12 is malformed\/unverifiable; refusing to rebuild \(pass unsafeIgnoreSidecar to override\)/,
      );
      const forced = await c.call<{ rebuilt_shard_ids: number[] }>('VolumeEcShardsRebuild', { volume_id: 12, collection: '', unsafe_ignore_sidecar: true }, 60_000);
      assert.deepEqual(forced.rebuilt_shard_ids, []);
      flipByte(path, 30);
    });

    test('a missing shard: FULL and READS name shard 0, FULL the needles it could not read, READS rebuilds them; LOCAL and CHECKSUM see only what is here', async () => {
      await ecVolume(15);
      await c.call('VolumeEcShardsUnmount', { volume_id: 15, shard_ids: [0] });
      await c.call('VolumeEcShardsDelete', { volume_id: 15, collection: '', shard_ids: [0] });
      const full = await scrub(15, 'FULL');
      assertOnly(full, 15, [0], 'FULL');
      assert.ok(full.details.some((d) => /^failed to read EC shard 0 for needle \d+ on volume 15/.test(d)), full.details.join('; '));
      // READS reports the shard as well, but rebuilds every needle from the other shards.
      const reads = await scrub(15, 'READS');
      assert.deepEqual(reads.broken_volume_ids, [15]);
      assert.deepEqual(shardIds(reads), [0]);
      assert.deepEqual(reads.details, []);
      for (const mode of ['INDEX', 'LOCAL', 'CHECKSUM']) assertClean(await scrub(15, mode), mode);
    });

    test('a corrupt .ecx row: INDEX reports the overlap, no shard is blamed', async () => {
      await ecVolume(16);
      // Row 2 gets row 1's offset: two needles claim the same bytes.
      const es = width === 5 ? 17 : 16;
      const fd = openSync(join(s.dir, '16.ecx'), 'r+');
      try {
        const off = Buffer.alloc(width);
        readSync(fd, off, 0, width, 8);
        writeSync(fd, off, 0, width, es + 8);
      } finally {
        closeSync(fd);
      }
      const r = await scrub(16, 'INDEX');
      assert.deepEqual(r.broken_volume_ids, [16]);
      assert.deepEqual(r.broken_shard_infos, []);
      assert.equal(r.details.length, 1, r.details.join('; '));
      assert.match(r.details[0], /^needle \d+ \(#\d\) at \[\d+-\d+\] overlaps needle \d+ at \[\d+-\d+\]$/);
    });

    test('every mounted EC volume when none is named; an unknown mode is refused', async () => {
      const r = await c.call<EcScrubResponse>('ScrubEcVolume', { mode: 'INDEX' });
      assert.equal(r.total_volumes, '6');
      assert.deepEqual(r.broken_volume_ids, [16]);
      await assert.rejects(c.call('ScrubEcVolume', { volume_ids: [11], mode: 99 }), /unsupported EC volume scrub mode 99/);
      await assert.rejects(c.call('ScrubEcVolume', { volume_ids: [99], mode: 'INDEX' }), /EC volume id 99 not found/);
    });
  });
}
