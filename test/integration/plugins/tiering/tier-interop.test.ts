// Tiered volumes between the Go volume server and ours, both told about the same S3 backend
// (`weed mini`) by the same Go master: a volume the Go server tiered is mounted and served by ours
// from its .vif and .idx alone (full and ranged reads) and tiered back down by ours; a volume we
// tiered is mounted, served and tiered down by the Go server. Both offset widths.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { volumeClient } from '../../../helpers/grpc.js';
import { cleanup, startGoVolumeServer, startVolumeServer, tempDir, waitFor, waitRegistered, type Master, type VolumeServer } from '../../../helpers/processes.js';
import { startWeedMini, type WeedMini } from '../../../helpers/weed-mini.js';
import { fillVolume, readAll, readVif, startMasterWithBackends, streamAll, volumeStatus } from './tier-env.js';

describe('tiered volumes between the Go volume server and ours', { timeout: 175_000 }, () => {
  let mini: WeedMini;

  before(async () => {
    mini = await startWeedMini();
  });

  after(async () => {
    await mini?.stop();
  });

  for (const width of [5, 4] as const) {
    test(`${width}-byte offsets: Go tiers, ours serves and tiers down; ours tiers, Go serves and tiers down`, async () => {
      const bucket = `tier-interop-${width}`;
      await mini.createBucket(bucket);
      const master: Master = await startMasterWithBackends({ default: { endpoint: mini.endpoint, bucket } }, width);
      const goDir = tempDir('ts-weed-go-tier-');
      let go: VolumeServer | undefined;
      let ours: VolumeServer | undefined;
      try {
        go = await startGoVolumeServer({ master: master.address, dir: goDir, width });
        ours = await startVolumeServer({ master: master.address, extraArgs: ['--max', '10'], env: { WEED_OFFSET_BYTES: String(width) } });
        await waitRegistered(master, go.port);
        await waitRegistered(master, ours.port);
        const sizes = [100, 4000, 300_000, 70_000, 1];
        const objects = async () => ((await mini.s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => String(o.Key));

        /** Moves a volume's files (those present) from one server's directory to the other's. */
        const handOver = async (vid: number, from: VolumeServer, to: VolumeServer) => {
          const c = volumeClient(from.grpcAddress);
          try {
            await c.call('VolumeUnmount', { volume_id: vid });
          } finally {
            c.close();
          }
          for (const ext of ['.idx', '.vif', '.dat']) {
            const p = join(from.dir, `${vid}${ext}`);
            if (existsSync(p)) renameSync(p, join(to.dir, `${vid}${ext}`));
          }
          const t = volumeClient(to.grpcAddress);
          try {
            await t.call('VolumeMount', { volume_id: vid });
          } finally {
            t.close();
          }
        };

        /** Tiers `vid` up on `s`, waiting for the master's backend announcement to reach it. */
        const tierUp = async (s: VolumeServer, vid: number) => {
          let r!: Awaited<ReturnType<typeof streamAll>>;
          await waitFor(
            async () => {
              r = await streamAll(s.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: vid, destination_backend_name: 's3.default' });
              return !/not found, supported/.test(r.error?.details ?? '');
            },
            20_000,
            'the backend announcement',
          );
          assert.equal(r.error, undefined, r.error?.details);
          assert.equal(existsSync(join(s.dir, `${vid}.dat`)), false, 'the local .dat is removed');
          const files = readVif(join(s.dir, `${vid}.vif`)).files ?? [];
          assert.equal(files.length, 1);
          return String(files[0].key);
        };

        // Go tiers, ours serves and tiers down
        const fromGo = 61;
        const goNeedles = await fillVolume(go, fromGo, '', sizes);
        const goDat = readFileSync(join(go.dir, `${fromGo}.dat`));
        const goKey = await tierUp(go, fromGo);
        await readAll(go.url, fromGo, goNeedles);
        await handOver(fromGo, go, ours);
        assert.equal((await volumeStatus(ours.url, fromGo))?.RemoteStorageName, 's3.default');
        await readAll(ours.url, fromGo, goNeedles);
        const down = await streamAll(ours.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: fromGo });
        assert.equal(down.error, undefined, down.error?.details);
        assert.ok(readFileSync(join(ours.dir, `${fromGo}.dat`)).equals(goDat), 'the Go-written .dat comes back byte for byte');
        assert.ok(!(await objects()).includes(goKey), 'the remote object is deleted');
        await readAll(ours.url, fromGo, goNeedles);

        // ours tiers, Go serves and tiers down
        const fromOurs = 62;
        const ourNeedles = await fillVolume(ours, fromOurs, '', sizes);
        const ourDat = readFileSync(join(ours.dir, `${fromOurs}.dat`));
        const ourKey = await tierUp(ours, fromOurs);
        await readAll(ours.url, fromOurs, ourNeedles);
        await handOver(fromOurs, ours, go);
        assert.equal((await volumeStatus(go.url, fromOurs))?.RemoteStorageName, 's3.default');
        await readAll(go.url, fromOurs, ourNeedles);
        const goDown = await streamAll(go.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: fromOurs });
        assert.equal(goDown.error, undefined, goDown.error?.details);
        assert.ok(readFileSync(join(go.dir, `${fromOurs}.dat`)).equals(ourDat), 'our .dat comes back byte for byte through Go');
        assert.ok(!(await objects()).includes(ourKey), 'the remote object is deleted');
        await readAll(go.url, fromOurs, ourNeedles);
      } finally {
        await ours?.stop('SIGKILL');
        await go?.stop('SIGKILL');
        await master.stop('SIGKILL');
        if (ours) cleanup(ours.dir);
        cleanup(goDir, master.dir);
      }
    });
  }
});
