// GET /jobs on a real server: a VolumeCopy between two of our servers is listed as a finished
// 'volume.copy' job with its byte counts, and a vacuum as a 'vacuum' job (the admin page's browser
// test watches one while it runs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainStream, volumeClient } from '../../helpers/grpc.js';
import { cleanup, startVolumeServer } from '../../helpers/processes.js';

interface JobList {
  running: unknown[];
  recent: { kind: string; vid: number; state: string; percent?: number; bytesDone: number; totalBytes: number; detail?: string }[];
}

test('GET /jobs lists a finished volume copy and vacuum with their bytes', async () => {
  const flags = ['--volume.allowUntrustedRemoteEndpoints'];
  const a = await startVolumeServer({ extraArgs: flags });
  const b = await startVolumeServer({ extraArgs: flags });
  const ca = volumeClient(a.grpcAddress);
  try {
    assert.deepEqual(await (await fetch(`${b.url}/jobs`)).json(), { running: [], recent: [] });
    await ca.call('AllocateVolume', { volume_id: 5, replication: '000', version: 3 });
    for (let i = 1; i <= 20; i++) {
      const r = await fetch(`${a.url}/5,${i.toString(16)}00001234`, { method: 'PUT', body: Buffer.alloc(10_000, i) });
      assert.equal(r.status, 201);
    }
    assert.equal((await fetch(`${a.url}/5,100001234`, { method: 'DELETE' })).status, 202);
    const status = (await ca.call('ReadVolumeFileStatus', { volume_id: 5 })) as { dat_file_size: string; idx_file_size: string };
    const total = Number(status.dat_file_size) + Number(status.idx_file_size);

    const copy = await drainStream(b.grpcAddress, 'VolumeCopy', { volume_id: 5, source_data_node: `127.0.0.1:${a.port}` });
    assert.equal(copy.error, undefined, copy.error?.message);
    const onB = (await (await fetch(`${b.url}/jobs`)).json()) as JobList;
    assert.deepEqual(onB.running, []);
    assert.deepEqual(
      onB.recent.map((j) => ({ kind: j.kind, vid: j.vid, state: j.state, percent: j.percent, bytesDone: j.bytesDone, totalBytes: j.totalBytes, detail: j.detail })),
      [{ kind: 'volume.copy', vid: 5, state: 'done', percent: 100, bytesDone: total, totalBytes: total, detail: `from 127.0.0.1:${a.port}` }],
    );

    const vacuum = await drainStream(a.grpcAddress, 'VacuumVolumeCompact', { volume_id: 5 });
    assert.equal(vacuum.error, undefined, vacuum.error?.message);
    const onA = (await (await fetch(`${a.url}/jobs`)).json()) as JobList;
    assert.deepEqual(
      onA.recent.map((j) => [j.kind, j.vid, j.state, j.totalBytes]),
      [['vacuum', 5, 'done', Number(status.dat_file_size)]],
    );
  } finally {
    ca.close();
    await Promise.all([a.stop(), b.stop()]);
    cleanup(a.dir, b.dir);
  }
});

test('GET /jobs lists scrubs, EC generate and rebuild with their volumes and bytes', async () => {
  const s = await startVolumeServer({});
  const c = volumeClient(s.grpcAddress);
  try {
    await c.call('AllocateVolume', { volume_id: 6, replication: '000', version: 3 });
    for (let i = 1; i <= 30; i++) {
      const r = await fetch(`${s.url}/6,${i.toString(16)}00005678`, { method: 'PUT', body: Buffer.alloc(20_000 + i, i) });
      assert.equal(r.status, 201);
    }
    const status = (await c.call('ReadVolumeFileStatus', { volume_id: 6 })) as { dat_file_size: string; idx_file_size: string };
    const dat = Number(status.dat_file_size);
    const idx = Number(status.idx_file_size);

    await c.call('ScrubVolume', { volume_ids: [6], mode: 'FULL' }, 30_000);
    await c.call('ScrubVolume', { volume_ids: [6], mode: 'INDEX' }, 30_000);
    await c.call('VolumeEcShardsGenerate', { volume_id: 6, collection: '' }, 60_000);
    await c.call('VolumeEcShardsMount', { volume_id: 6, collection: '', shard_ids: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] });
    await c.call('VolumeEcShardsUnmount', { volume_id: 6, shard_ids: [3] });
    const { rm } = await import('node:fs/promises');
    await rm(`${s.dir}/6.ec03`);
    await c.call('VolumeEcShardsRebuild', { volume_id: 6, collection: '' }, 60_000);
    await c.call('ScrubEcVolume', { volume_ids: [6], mode: 'LOCAL' }, 30_000);

    const jobs = (await (await fetch(`${s.url}/jobs`)).json()) as JobList;
    assert.deepEqual(jobs.running, []);
    const seen = jobs.recent.map((j) => ({ kind: j.kind, vid: j.vid, state: j.state, totalBytes: j.totalBytes, detail: j.detail })).reverse();
    const shardSize = (await import('node:fs')).statSync(`${s.dir}/6.ec00`).size;
    assert.deepEqual(seen, [
      { kind: 'scrub', vid: 6, state: 'done', totalBytes: dat + idx, detail: 'FULL' },
      { kind: 'scrub', vid: 6, state: 'done', totalBytes: idx, detail: 'INDEX' },
      { kind: 'ec.generate', vid: 6, state: 'done', totalBytes: dat, detail: undefined },
      { kind: 'ec.rebuild', vid: 6, state: 'done', totalBytes: shardSize, detail: 'shards 3' },
      { kind: 'scrub.ec', vid: 6, state: 'done', totalBytes: 0, detail: 'LOCAL' },
    ]);
  } finally {
    c.close();
    await s.stop();
    cleanup(s.dir);
  }
});
