// Erasure coding against the Go server: for the same .dat and .idx, the shards and sorted index our
// VolumeEcShardsGenerate writes are byte-identical to those the reference weed volume server
// writes, and its .vif records the same layout. Then, on our server: shards mounted, read back
// through VolumeEcShardRead, reported in /status, and mounted again from disk after a restart.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeSidecar, encodeSidecar } from '../../../../core/storage/ec-sum.js';
import { ecShardRead, volumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import {
  cleanup,
  startGoVolumeServer,
  startMaster,
  startVolumeServer,
  tempDir,
  waitRegistered,
  type Master,
  type VolumeServer,
} from '../../../helpers/processes.js';

const VID = 7;
const SHARD_EXTS = Array.from({ length: 14 }, (_, i) => `.ec${String(i).padStart(2, '0')}`);

const shardRead = ecShardRead;

function vifOf(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, `${VID}.vif`), 'utf8')) as Record<string, unknown>;
}

describe('EC shards are byte-identical to the Go server', { timeout: 180_000 }, () => {
  let master: Master;
  let go: VolumeServer | undefined;
  let ours: VolumeServer | undefined;
  const goDir = tempDir('ts-weed-ec-go-');
  const ourDir = tempDir('ts-weed-ec-ts-');
  const fids: { fid: string; body: Buffer }[] = [];

  before(async () => {
    master = await startMaster(100, 5);
  });
  after(async () => {
    await go?.stop('SIGKILL');
    await ours?.stop('SIGKILL');
    await master.stop();
    cleanup(goDir, ourDir, master.dir);
  });

  test('generate on both servers, compare every file', async () => {
    go = await startGoVolumeServer({ master: master.address, dir: goDir, width: 5 });
    await waitRegistered(master, go.port);
    const gc = volumeClient(go.grpcAddress);
    try {
      await gc.call('AllocateVolume', { volume_id: VID, collection: '', replication: '000', version: 3 });
      // ~13 MB over several needles: shard blocks of 2 MiB, data in every data shard.
      for (let i = 1; i <= 14; i++) {
        const body = randomBytes(i === 7 ? 0 : 900_000 + i * 1013);
        const fid = `${VID},${(1000 + i).toString(16)}${'1a2b3c4d'}`;
        const r = await rawRequest('POST', `${go.url}/${fid}`, { 'Content-Type': 'application/octet-stream' }, body);
        assert.equal(r.status, 201, r.body.toString());
        fids.push({ fid, body });
      }
      const del = await rawRequest('DELETE', `${go.url}/${fids[2].fid}`);
      assert.equal(del.status, 202);
      await gc.call('VolumeMarkReadonly', { volume_id: VID, persist: true });
      for (const ext of ['.dat', '.idx', '.vif']) copyFileSync(join(goDir, `${VID}${ext}`), join(ourDir, `${VID}${ext}`));
      await gc.call('VolumeEcShardsGenerate', { volume_id: VID, collection: '' }, 60_000);
    } finally {
      gc.close();
    }
    await go.stop();
    go = undefined;

    ours = await startVolumeServer({ master: master.address, dir: ourDir, env: { WEED_OFFSET_BYTES: '5' } });
    const oc = volumeClient(ours.grpcAddress);
    try {
      await oc.call('VolumeEcShardsGenerate', { volume_id: VID, collection: '' }, 60_000);
    } finally {
      oc.close();
    }
    for (const ext of [...SHARD_EXTS, '.ecx']) {
      const a = readFileSync(join(goDir, `${VID}${ext}`));
      const b = readFileSync(join(ourDir, `${VID}${ext}`));
      assert.equal(b.length, a.length, `${ext} size`);
      assert.ok(a.equals(b), `${ext} differs from Go's`);
    }
    assert.equal(readFileSync(join(ourDir, `${VID}.ec00`)).length, 2 * 1024 * 1024);
    // The bitrot sidecar: the same bytes but for the random per-encode uuid.
    const goSum = readFileSync(join(goDir, `${VID}.ecsum`));
    const ourSum = decodeSidecar(readFileSync(join(ourDir, `${VID}.ecsum`)), 'ours');
    assert.equal(ourSum.encodeUuid.length, 16);
    ourSum.encodeUuid = decodeSidecar(goSum, 'go').encodeUuid;
    assert.ok(encodeSidecar(ourSum).equals(goSum), '.ecsum differs from Go\'s');
    const gv = vifOf(goDir);
    const ov = vifOf(ourDir);
    for (const k of ['version', 'datFileSize', 'expireAtSec']) assert.deepEqual(ov[k], gv[k], `.vif ${k}`);
    const gcfg = gv.ecShardConfig as Record<string, unknown>;
    const ocfg = ov.ecShardConfig as Record<string, unknown>;
    for (const k of ['dataShards', 'parityShards', 'blockSize']) assert.deepEqual(ocfg[k], gcfg[k], `ecShardConfig.${k}`);
    assert.match(String(ocfg.encodeTsNs), /^[1-9]\d{17,}$/);
  });

  test('mounted shards serve reads and journal deletes, and load again after a restart', async () => {
    assert.ok(ours);
    let oc = volumeClient(ours.grpcAddress);
    try {
      await oc.call('VolumeEcShardsMount', { volume_id: VID, collection: '', shard_ids: [...Array(14).keys()] });
      const info = await oc.call<{ ec_shard_infos: unknown[]; file_count: string; file_deleted_count: string }>('VolumeEcShardsInfo', { volume_id: VID });
      assert.equal(info.ec_shard_infos.length, 14);
      assert.equal(info.file_count, '13');
      assert.equal(info.file_deleted_count, '0');
    } finally {
      oc.close();
    }
    // The first needle starts right after the 8-byte super block, in shard 0: its record holds the body.
    const rec = await shardRead(ours.grpcAddress, { volume_id: VID, shard_id: 0, offset: 8, size: 16 + 4 + fids[0].body.length });
    assert.ok(rec.data.subarray(20).equals(fids[0].body), 'needle body read from shard 0');
    // A read past the end of a shard returns what exists, without an error.
    const tail = await shardRead(ours.grpcAddress, { volume_id: VID, shard_id: 13, offset: 2 * 1024 * 1024 - 10, size: 100 });
    assert.equal(tail.data.length, 10);

    const key = BigInt(`0x${(1000 + 1).toString(16)}`);
    oc = volumeClient(ours.grpcAddress);
    try {
      await oc.call('VolumeEcBlobDelete', { volume_id: VID, collection: '', file_key: key.toString(), version: 3 });
      await assert.rejects(
        oc.call('VolumeEcBlobDelete', { volume_id: VID, collection: '', file_key: '999999', version: 3 }),
        /locate in local ec volume: .*needle not found/,
      );
    } finally {
      oc.close();
    }
    const marked = await shardRead(ours.grpcAddress, { volume_id: VID, shard_id: 0, offset: 0, size: 1, file_key: key.toString() });
    assert.equal(marked.deleted, true);
    assert.equal(readFileSync(join(ourDir, `${VID}.ecj`)).readBigUInt64BE(0), key);

    const status = (await (await fetch(`${ours.url}/status`)).json()) as { EcVolumes: { VolumeId: number; Shards: unknown[] }[] };
    assert.equal(status.EcVolumes.length, 1);
    assert.equal(status.EcVolumes[0].VolumeId, VID);
    assert.equal(status.EcVolumes[0].Shards.length, 14);

    // Restart: the shards found on disk are mounted again, the journal reloaded.
    assert.equal(await ours.stop(), 0);
    ours = await startVolumeServer({ master: master.address, dir: ourDir, env: { WEED_OFFSET_BYTES: '5' } });
    const again = await shardRead(ours.grpcAddress, { volume_id: VID, shard_id: 0, offset: 0, size: 1, file_key: key.toString() });
    assert.equal(again.deleted, true);
    oc = volumeClient(ours.grpcAddress);
    try {
      const info = await oc.call<{ ec_shard_infos: unknown[] }>('VolumeEcShardsInfo', { volume_id: VID });
      assert.equal(info.ec_shard_infos.length, 14);
      // Unmounting every shard closes the EC volume; the files stay.
      await oc.call('VolumeEcShardsUnmount', { volume_id: VID, shard_ids: [...Array(14).keys()] });
      await assert.rejects(oc.call('VolumeEcShardsInfo', { volume_id: VID }), /EC volume 7 not found/);
    } finally {
      oc.close();
    }
    assert.equal(readdirSync(ourDir).filter((n) => /^7\.ec\d\d$/.test(n)).length, 14);
  });
  test('a staged decoded volume is adopted and served', async () => {
    assert.ok(ours);
    // As a peer's ReceiveFile leaves them: the volume's files under `.copying` names.
    for (const ext of ['.dat', '.idx', '.vif']) copyFileSync(join(goDir, `${VID}${ext}`), join(ourDir, `8${ext}.copying`));
    const oc = volumeClient(ours.grpcAddress);
    try {
      await oc.call('VolumeEcShardsToVolume', { volume_id: 8, collection: '', from_staged: true, disk_type: 'hdd' });
      await assert.rejects(
        oc.call('VolumeEcShardsToVolume', { volume_id: 8, collection: '', from_staged: true, disk_type: 'hdd' }),
        /staged volume 8 already exists on this server/,
      );
      await assert.rejects(
        oc.call('VolumeEcShardsToVolume', { volume_id: 9, collection: '', from_staged: true, disk_type: 'hdd' }),
        /staged volume 9: no .dat.copying found/,
      );
    } finally {
      oc.close();
    }
    assert.equal(readdirSync(ourDir).filter((n) => n.startsWith('8.') && (n.endsWith('.copying') || n.endsWith('.note'))).length, 0);
    const fid = fids[0].fid.replace(/^7,/, '8,');
    const r = await rawRequest('GET', `${ours.url}/${fid}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(fids[0].body));
  });
});
