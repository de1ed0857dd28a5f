// The operator's flow end to end: `weed shell volume.tier.upload` picks our filled volume through
// the Go master (by fullness and quiet time), moves its .dat to a real S3 (`weed mini`) through the
// backend the master's master.toml declares; every needle reads back (full and ranged) from the
// tier, deletes go to the index, the volume reloads from its .vif alone after a restart, and
// `volume.tier.download` (which finds the volume by the remote_storage_name our heartbeat reports)
// brings it back: everything reads again and the deleted needles stay deleted.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startVolumeServer, waitFor, waitRegistered, type Master, type VolumeServer } from '../../../helpers/processes.js';
import { startWeedMini, type WeedMini } from '../../../helpers/weed-mini.js';
import { assertGone, fillVolume, readAll, readVif, startMasterWithBackends, volumeStatus, weedShell, type Needle } from './tier-env.js';

describe('weed shell volume.tier.upload / volume.tier.download against our server', { timeout: 170_000 }, () => {
  let mini: WeedMini;
  let master: Master;
  let server: VolumeServer;
  const vid = 41;
  const collection = 'tshell';

  async function start(dir?: string): Promise<VolumeServer> {
    const s = await startVolumeServer({ master: master.address, dir, port: server?.port, extraArgs: ['--max', '10'] });
    await waitRegistered(master, s.port);
    return s;
  }

  before(async () => {
    mini = await startWeedMini();
    await mini.createBucket('tier-shell');
    master = await startMasterWithBackends({ default: { endpoint: mini.endpoint, bucket: 'tier-shell' } });
    server = await start();
  });

  after(async () => {
    await server?.stop('SIGKILL');
    await master?.stop('SIGKILL');
    await mini?.stop();
    if (server) cleanup(server.dir);
    if (master) cleanup(master.dir);
  });

  test('upload picked by fullness and quiet time, serve, delete, restart, download', async () => {
    const sizes = Array.from({ length: 24 }, (_, i) => 100 + ((i * 37_813) % 300_000));
    const needles = await fillVolume(server, vid, collection, sizes);
    const datPath = join(server.dir, `${collection}_${vid}.dat`);
    const vifPath = join(server.dir, `${collection}_${vid}.vif`);
    const datBytes = readFileSync(datPath);

    // The shell selects volumes from the master's topology (size >= fullPercent of the limit, no
    // write for quietFor): repeat until our heartbeat has shown the volume quiet and the master
    // has announced s3.default to our server.
    let up = '';
    await waitFor(
      async () => {
        up = await weedShell(master, `lock\nvolume.tier.upload -dest=s3.default -collection=${collection} -fullPercent=0.1 -quietFor=2s\nunlock`);
        return up.includes(`tier upload volumes: [${vid}]`) && !/not found, supported/.test(up);
      },
      60_000,
      'the shell to pick and upload the volume',
    );
    assert.doesNotMatch(up, /error|failed/i, up);
    assert.equal(existsSync(datPath), false, 'the local .dat is removed');
    const vif = readVif(vifPath);
    assert.equal(vif.files?.length, 1, JSON.stringify(vif));
    const remote = vif.files![0];
    assert.equal(remote.backendType, 's3');
    assert.equal(remote.backendId, 'default');
    assert.equal(String(remote.fileSize), String(datBytes.length));
    const listed = await mini.s3.send(new ListObjectsV2Command({ Bucket: 'tier-shell' }));
    assert.deepEqual(listed.Contents?.map((o) => [o.Key, o.Size]), [[String(remote.key), datBytes.length]]);
    assert.equal((await volumeStatus(server.url, vid))?.RemoteStorageName, 's3.default');

    await readAll(server.url, vid, needles);

    // delete a few: the .idx takes the tombstones, the remote object stays as it is
    const gone = new Map<bigint, Needle>();
    for (const id of [3n, 11n, 24n]) {
      const n = needles.get(id)!;
      const r = await rawRequest('DELETE', `${server.url}/${formatFileId(vid, id, n.cookie)}`);
      assert.equal(r.status, 202, r.body.toString());
      gone.set(id, n);
      needles.delete(id);
    }
    await assertGone(server.url, vid, gone);
    await readAll(server.url, vid, needles);

    // the master sees the volume as remote (what volume.tier.download selects by)
    await waitFor(
      async () => (await weedShell(master, 'volume.list')).includes('s3.default'),
      30_000,
      'the master to list the volume with its remote storage name',
    );

    // restart: the tiered volume loads from its .vif and .idx alone, in the startup scan (the
    // backends are asked of the master before it, as Go does), with no failed load logged
    const dir = server.dir;
    await server.stop('SIGINT');
    server = await start(dir);
    // each start logs to a file of its own (test/helpers/processes.ts logFileFor)
    const startupLog = readFileSync(server.logFile, 'utf8');
    assert.match(startupLog, /"volumes":1,[^\n]*"msg":"volumes loaded"/, startupLog);
    assert.doesNotMatch(startupLog, /"level":50/, startupLog);
    assert.equal(existsSync(datPath), false);
    await readAll(server.url, vid, needles);
    await assertGone(server.url, vid, gone);

    // tier it back down, the shell choosing the volume by its remote storage name
    let down = '';
    await waitFor(
      async () => {
        down = await weedShell(master, `lock\nvolume.tier.download -collection=${collection}\nunlock`);
        return down.includes(`tier download volumes: [${vid}]`);
      },
      30_000,
      'the shell to find the remote volume',
    );
    assert.doesNotMatch(down, /error|failed/i, down);
    assert.ok(readFileSync(datPath).equals(datBytes), 'the .dat comes back byte for byte');
    assert.equal(readVif(vifPath).files?.length ?? 0, 0, 'the .vif no longer names a remote file');
    const left = await mini.s3.send(new ListObjectsV2Command({ Bucket: 'tier-shell' }));
    assert.equal(left.Contents?.length ?? 0, 0, 'the remote object is deleted');
    assert.equal((await volumeStatus(server.url, vid))?.RemoteStorageName ?? '', '');
    await readAll(server.url, vid, needles);
    await assertGone(server.url, vid, gone);
  });
});
