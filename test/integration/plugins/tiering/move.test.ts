// Moving a volume's .dat to a real S3 tier and back (the reference `weed mini` on 127.0.0.1), with
// the backend announced by a Go master from its master.toml: needles stay readable through ranged
// GETs while tiered, the volume reloads from its .vif alone after a restart, and moving it back
// restores the local .dat, clears the .vif and deletes the remote object.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { volumeClient } from '../../../helpers/grpc.js';
import { multipartBody, rawRequest } from '../../../helpers/http.js';
import { cleanup, startVolumeServer, waitFor, waitRegistered, type Master, type VolumeServer } from '../../../helpers/processes.js';
import { startWeedMini, type WeedMini } from '../../../helpers/weed-mini.js';
import { startMasterWithBackends, streamAll, type Row } from './tier-env.js';

describe('tier move to and from a real S3', { timeout: 300_000 }, () => {
  let mini: WeedMini;
  let master: Master;
  let server: VolumeServer;
  const vid = 31;
  const needles = new Map<bigint, { cookie: number; data: Buffer }>();

  async function start(dir?: string): Promise<VolumeServer> {
    const s = await startVolumeServer({ master: master.address, dir, port: server?.port, extraArgs: ['--max', '10'] });
    await waitRegistered(master, s.port);
    return s;
  }

  async function readAll(s: VolumeServer): Promise<void> {
    for (const [id, { cookie, data }] of needles) {
      const r = await rawRequest('GET', `${s.url}/${formatFileId(vid, id, cookie)}`);
      assert.equal(r.status, 200, `needle ${id}: ${r.body.toString()}`);
      assert.ok(r.body.equals(data), `needle ${id} bytes`);
    }
  }

  async function volumeStatus(s: VolumeServer): Promise<Row | undefined> {
    const st = (await (await fetch(`${s.url}/status`)).json()) as { Volumes: Row[] };
    return st.Volumes.find((v) => v.Id === vid);
  }

  before(async () => {
    mini = await startWeedMini();
    await mini.createBucket('tier-it');
    master = await startMasterWithBackends({ default: { endpoint: mini.endpoint, bucket: 'tier-it' } });
    server = await start();
  });

  after(async () => {
    await server?.stop('SIGKILL');
    await master?.stop('SIGKILL');
    await mini?.stop();
    if (server) cleanup(server.dir);
    if (master) cleanup(master.dir);
  });

  test('tier up, serve, restart, tier down', async () => {
    const c = volumeClient(server.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: vid, collection: 'tc', replication: '000', ttl: '', version: 3 });
    } finally {
      c.close();
    }
    for (let i = 1n; i <= 20n; i++) {
      const data = Buffer.from(`tiered needle ${i} `.repeat(Number(i) * 50));
      const cookie = 0x10000 + Number(i);
      const { body, contentType } = multipartBody(`n${i}.txt`, 'text/plain', data);
      const r = await rawRequest('POST', `${server.url}/${formatFileId(vid, i, cookie)}`, { 'Content-Type': contentType }, body);
      assert.equal(r.status, 201, r.body.toString());
      needles.set(i, { cookie, data });
    }
    const datPath = join(server.dir, `tc_${vid}.dat`);
    const vifPath = join(server.dir, `tc_${vid}.vif`);
    const datBytes = readFileSync(datPath);

    // the backend arrives with the master's configuration shortly after registration
    let up!: { messages: Row[]; error?: grpc.ServiceError };
    await waitFor(
      async () => {
        up = await streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: vid, collection: 'tc', destination_backend_name: 's3.default' });
        return !/not found, supported/.test(up.error?.details ?? '');
      },
      20_000,
      'the master to announce s3.default',
    );
    assert.equal(up.error, undefined, up.error?.details);
    assert.equal(existsSync(datPath), false, 'the local .dat is removed unless kept');
    const vif = JSON.parse(readFileSync(vifPath, 'utf8')) as { files: Row[] };
    assert.equal(vif.files.length, 1);
    assert.equal(vif.files[0].backendType, 's3');
    assert.equal(vif.files[0].backendId, 'default');
    assert.equal(String(vif.files[0].fileSize), String(datBytes.length));
    const key = String(vif.files[0].key);
    const listed = await mini.s3.send(new ListObjectsV2Command({ Bucket: 'tier-it' }));
    assert.deepEqual(listed.Contents?.map((o) => [o.Key, o.Size]), [[key, datBytes.length]]);

    await readAll(server);
    const tiered = await volumeStatus(server);
    assert.equal(tiered?.RemoteStorageName, 's3.default');
    // a tiered volume takes no writes
    const { body, contentType } = multipartBody('late.txt', 'text/plain', Buffer.from('late'));
    const late = await rawRequest('POST', `${server.url}/${formatFileId(vid, 99n, 0x99)}`, { 'Content-Type': contentType }, body);
    assert.notEqual(late.status, 201);
    // deletes go through (Go: a tiered volume is noWriteCanDelete; appendDeleteRequest skips the
    // .dat and only the .idx takes the tombstone): HTTP DELETE and BatchDelete answer as Go does
    const gone: bigint[] = [20n, 19n];
    const del = await rawRequest('DELETE', `${server.url}/${formatFileId(vid, 20n, needles.get(20n)!.cookie)}`);
    assert.equal(del.status, 202, del.body.toString());
    const delSize = (JSON.parse(del.body.toString()) as { size: number }).size;
    assert.ok(delSize > 0, `size ${delSize} is the stored (gzipped) needle size`);
    const bc = volumeClient(server.grpcAddress);
    let batchSize: number;
    try {
      const br = await bc.call<{ results: { file_id: string; status: number; error: string; size: number }[] }>('BatchDelete', {
        file_ids: [formatFileId(vid, 19n, needles.get(19n)!.cookie)],
      });
      assert.equal(br.results.length, 1);
      assert.equal(br.results[0].status, 202, br.results[0].error);
      assert.equal(br.results[0].error, '');
      batchSize = br.results[0].size;
      assert.ok(batchSize > 0);
    } finally {
      bc.close();
    }
    for (const id of gone) {
      assert.equal((await rawRequest('GET', `${server.url}/${formatFileId(vid, id, needles.get(id)!.cookie)}`)).status, 404);
      needles.delete(id);
    }
    const counted = await volumeStatus(server);
    assert.equal(counted?.DeleteCount, 2);
    assert.equal(counted?.DeletedByteCount, delSize + batchSize);
    const unchanged = await mini.s3.send(new ListObjectsV2Command({ Bucket: 'tier-it' }));
    assert.deepEqual(unchanged.Contents?.map((o) => [o.Key, o.Size]), [[key, datBytes.length]], 'nothing written to the remote object');
    await readAll(server);

    // moving again is a no-op
    const again = await streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: vid, collection: 'tc', destination_backend_name: 's3.default' });
    assert.equal(again.error, undefined);

    // after a restart the volume loads from its .vif alone and serves once the backend is known
    const dir = server.dir;
    await server.stop('SIGINT');
    server = await start(dir);
    await waitFor(async () => (await rawRequest('GET', `${server.url}/${formatFileId(vid, 1n, 0x10001)}`)).status === 200, 20_000, 'tiered reads after restart');
    await readAll(server);
    for (const id of gone) {
      assert.equal((await rawRequest('GET', `${server.url}/${formatFileId(vid, id, 0x10000 + Number(id))}`)).status, 404, 'still deleted after restart');
    }
    const replayed = await volumeStatus(server);
    assert.equal(replayed?.DeleteCount, 2);
    assert.equal(replayed?.DeletedByteCount, delSize + batchSize);

    const down = await streamAll(server.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: vid, collection: 'tc' });
    assert.equal(down.error, undefined, down.error?.details);
    assert.ok(readFileSync(datPath).equals(datBytes), 'the .dat comes back byte for byte');
    assert.equal((JSON.parse(readFileSync(vifPath, 'utf8')) as { files?: Row[] }).files?.length ?? 0, 0);
    const local = await volumeStatus(server);
    assert.equal(local?.RemoteStorageName ?? '', '');
    await readAll(server);
    for (const id of gone) {
      assert.equal((await rawRequest('GET', `${server.url}/${formatFileId(vid, id, 0x10000 + Number(id))}`)).status, 404, 'still deleted after tier down');
    }
    const left = await mini.s3.send(new ListObjectsV2Command({ Bucket: 'tier-it' }));
    assert.equal(left.Contents?.length ?? 0, 0, 'the remote object is deleted');
    // and it takes writes again
    const again2 = multipartBody('after.txt', 'text/plain', Buffer.from('after'));
    const w = await rawRequest('POST', `${server.url}/${formatFileId(vid, 100n, 0x100)}`, { 'Content-Type': again2.contentType }, again2.body);
    assert.equal(w.status, 201, w.body.toString());

    const downAgain = await streamAll(server.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: vid, collection: 'tc' });
    assert.match(downAgain.error?.details ?? '', /volume 31 is already on local disk/);
  });

  test('keep_local_dat_file and keep_remote_dat_file keep the copies', async () => {
    const id = 32;
    const c = volumeClient(server.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: id, collection: '', replication: '000', ttl: '', version: 3 });
    } finally {
      c.close();
    }
    const data = Buffer.from('kept both ways '.repeat(100));
    const { body, contentType } = multipartBody('k.txt', 'text/plain', data);
    const fid = formatFileId(id, 1n, 0xabc);
    assert.equal((await rawRequest('POST', `${server.url}/${fid}`, { 'Content-Type': contentType }, body)).status, 201);
    const datPath = join(server.dir, `${id}.dat`);
    const datBytes = readFileSync(datPath);

    const up = await streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: id, destination_backend_name: 's3', keep_local_dat_file: true });
    assert.equal(up.error, undefined, up.error?.details);
    assert.ok(readFileSync(datPath).equals(datBytes), 'the local .dat is kept');
    const vif = JSON.parse(readFileSync(join(server.dir, `${id}.vif`), 'utf8')) as { files: Row[] };
    const key = String(vif.files[0].key);
    assert.equal(vif.files[0].backendId, 'default', '"s3" names s3.default');
    const got = await rawRequest('GET', `${server.url}/${fid}`);
    assert.ok(got.body.equals(data));

    const down = await streamAll(server.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: id, keep_remote_dat_file: true });
    assert.equal(down.error, undefined, down.error?.details);
    const listed = await mini.s3.send(new ListObjectsV2Command({ Bucket: 'tier-it' }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), [key], 'the remote object is kept');
    assert.ok(readFileSync(datPath).equals(datBytes));
    assert.ok((await rawRequest('GET', `${server.url}/${fid}`)).body.equals(data));
  });

  test('with plugins.tiering.enabled=false a tiered volume still loads and is reported; its reads fail naming the switch', async () => {
    const id = 33;
    const c = volumeClient(server.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: id, collection: '', replication: '000', ttl: '', version: 3 });
    } finally {
      c.close();
    }
    const data = Buffer.from('tiered while the family is off '.repeat(20));
    const { body, contentType } = multipartBody('off.txt', 'text/plain', data);
    const fid = formatFileId(id, 1n, 0xdef);
    assert.equal((await rawRequest('POST', `${server.url}/${fid}`, { 'Content-Type': contentType }, body)).status, 201);
    const up = await streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: id, destination_backend_name: 's3.default' });
    assert.equal(up.error, undefined, up.error?.details);
    const dir = server.dir;
    await server.stop('SIGINT');
    server = await startVolumeServer({ master: master.address, dir, port: server.port, extraArgs: ['--max', '10', '-plugins.tiering.enabled=false'] });
    try {
      await waitRegistered(master, server.port);
      const row = await (async () => {
        const st = (await (await fetch(`${server.url}/status`)).json()) as { Volumes: Row[] };
        return st.Volumes.find((v) => v.Id === id);
      })();
      assert.ok(row, 'the tiered volume is loaded');
      assert.equal(row.RemoteStorageName, 's3.default');
      assert.equal(row.ReadOnly, true);
      const got = await rawRequest('GET', `${server.url}/${fid}`);
      assert.equal(got.status, 500);
      assert.match(got.body.toString(), /volume 33 is tiered to s3\.default .*plugins\.tiering\.enabled=true/);
      // the master still lists it on this server
      await waitFor(
        async () => JSON.stringify(await (await fetch(`${master.url}/dir/lookup?volumeId=${id}`)).json()).includes(`127.0.0.1:${server.port}`),
        15_000,
        'the master to locate the tiered volume',
      );
    } finally {
      await server.stop('SIGINT');
      server = await start(dir);
    }
    await waitFor(async () => (await rawRequest('GET', `${server.url}/${fid}`)).status === 200, 20_000, 'reads once the family is back');
    assert.ok((await rawRequest('GET', `${server.url}/${fid}`)).body.equals(data));
  });

  test('with plugins.tiering.enabled=false the tier RPCs answer UNIMPLEMENTED naming the switch', async () => {
    const off = await startVolumeServer({ extraArgs: ['-plugins.tiering.enabled=false'] });
    try {
      const r = await streamAll(off.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: 1, destination_backend_name: 's3' });
      assert.equal(r.error?.code, grpc.status.UNIMPLEMENTED);
      assert.match(r.error?.details ?? '', /plugins\.tiering\.enabled=true/);
      const c = volumeClient(off.grpcAddress);
      try {
        await assert.rejects(c.call('FetchAndWriteNeedle', { volume_id: 1 }), (e: grpc.ServiceError) => e.code === grpc.status.UNIMPLEMENTED && /tiering/.test(e.details));
      } finally {
        c.close();
      }
    } finally {
      await off.stop('SIGKILL');
      cleanup(off.dir);
    }
  });
});
