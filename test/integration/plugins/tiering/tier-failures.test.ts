// Tier moves when the remote side fails, against a real S3 (`weed mini`) and a loopback proxy in
// front of it that slows or fails what it forwards: an endpoint that is down, wrong credentials,
// a missing bucket and a 500 in the middle of a multipart upload leave the local .dat serving and
// the .vif untouched, with an error naming the cause; progress messages carry the bytes done and
// the percentage; an object deleted behind the server's back fails its reads with a clear error
// and nothing else; a kill -9 during an upload or a download leaves the volume as it was before.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, freePort, startVolumeServer, waitFor, waitRegistered, type Master, type VolumeServer } from '../../../helpers/processes.js';
import { startWeedMini, type WeedMini } from '../../../helpers/weed-mini.js';
import { fillVolume, readAll, readVif, startMasterWithBackends, startS3Proxy, streamAll, volumeStatus, type Needle, type Row, type S3Proxy } from './tier-env.js';

const MiB = 1024 * 1024;

describe('tier moves when S3 fails', { timeout: 175_000 }, () => {
  let mini: WeedMini;
  let proxy: S3Proxy;
  let master: Master;
  let server: VolumeServer;
  const big = 51;
  const small = 52;
  let bigNeedles: Map<bigint, Needle>;
  let smallNeedles: Map<bigint, Needle>;

  async function start(dir?: string): Promise<VolumeServer> {
    const s = await startVolumeServer({ master: master.address, dir, port: server?.port, extraArgs: ['--max', '10'] });
    await waitRegistered(master, s.port);
    return s;
  }

  /** The files a volume's state lives in: .dat bytes (or absent) and .vif text (or absent). */
  function snapshot(vid: number): { dat: Buffer | null; vif: string | null } {
    const dat = join(server.dir, `${vid}.dat`);
    const vif = join(server.dir, `${vid}.vif`);
    return { dat: existsSync(dat) ? readFileSync(dat) : null, vif: existsSync(vif) ? readFileSync(vif, 'utf8') : null };
  }

  function assertSameFiles(vid: number, before: { dat: Buffer | null; vif: string | null }, why: string): void {
    const now = snapshot(vid);
    assert.ok(now.dat !== null && before.dat !== null && now.dat.equals(before.dat), `${why}: the local .dat stays as it was`);
    assert.equal(now.vif, before.vif, `${why}: the .vif is unchanged`);
  }

  async function bucketKeys(): Promise<string[]> {
    const listed = await mini.s3.send(new ListObjectsV2Command({ Bucket: 'tier-fail' }));
    return (listed.Contents ?? []).map((o) => String(o.Key));
  }

  before(async () => {
    mini = await startWeedMini({ autoCreateBucket: false });
    await mini.createBucket('tier-fail');
    proxy = await startS3Proxy(mini.endpoint);
    const closedPort = await freePort();
    master = await startMasterWithBackends({
      default: { endpoint: mini.endpoint, bucket: 'tier-fail' },
      proxied: { endpoint: proxy.endpoint, bucket: 'tier-fail' },
      down: { endpoint: `http://127.0.0.1:${closedPort}`, bucket: 'tier-fail' },
      badcreds: { endpoint: mini.endpoint, bucket: 'tier-fail', accessKey: 'nobody', secretKey: 'wrong-secret' },
      nobucket: { endpoint: mini.endpoint, bucket: 'no-such-bucket' },
    });
    server = await start();
    // 20 × 1 MiB: three 8 MiB parts of a multipart upload
    bigNeedles = await fillVolume(server, big, '', Array.from({ length: 20 }, () => MiB));
    smallNeedles = await fillVolume(server, small, '', [1000, 20_000, 300_000]);
    // the master announces the backends shortly after registration
    await waitFor(
      async () => {
        const r = await streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: small, destination_backend_name: 's3.nobucket' });
        return !/not found, supported/.test(r.error?.details ?? '');
      },
      20_000,
      'the master to announce the backends',
    );
  });

  after(async () => {
    await server?.stop('SIGKILL');
    await master?.stop('SIGKILL');
    await proxy?.close();
    await mini?.stop();
    if (server) cleanup(server.dir);
    if (master) cleanup(master.dir);
  });

  test('an endpoint that is down, wrong credentials, a missing bucket: clear errors, nothing changes', async () => {
    const cases: [string, RegExp][] = [
      ['s3.down', /ECONNREFUSED/],
      ['s3.badcreds', /InvalidAccessKeyId|AccessDenied|SignatureDoesNotMatch/],
      ['s3.nobucket', /NoSuchBucket/],
    ];
    for (const [dest, cause] of cases) {
      const before = snapshot(small);
      const r = await streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: small, destination_backend_name: dest });
      assert.ok(r.error, `${dest}: the move fails`);
      assert.match(r.error.details, new RegExp(`^backend ${dest.replace('.', '\\.')} copy file .*${small}\\.dat: failed to upload file`), r.error.details);
      assert.match(r.error.details, cause, r.error.details);
      assertSameFiles(small, before, dest);
      assert.equal((await volumeStatus(server.url, small))?.RemoteStorageName ?? '', '', dest);
      await readAll(server.url, small, smallNeedles);
    }
    assert.deepEqual(await bucketKeys(), [], 'nothing was left in the bucket');
  });

  test('a 500 in the middle of a multipart upload: the error names it, the local volume keeps serving', async () => {
    const before = snapshot(big);
    // CreateMultipartUpload and the first part go through, everything after answers 500
    proxy.failAfter = proxy.seen.length + 2;
    let r;
    try {
      r = await streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: big, destination_backend_name: 's3.proxied' });
    } finally {
      proxy.failAfter = Number.POSITIVE_INFINITY;
    }
    assert.ok(r.error, 'the move fails');
    assert.match(r.error.details, /^backend s3\.proxied copy file .*51\.dat: failed to upload file/, r.error.details);
    assert.match(r.error.details, /InternalError|injected failure|500/, r.error.details);
    assert.ok(proxy.seen.some((s) => /^PUT .*partNumber=/.test(s)), 'the upload was multipart');
    assertSameFiles(big, before, '500 mid-upload');
    assert.deepEqual(await bucketKeys(), []);
    await readAll(server.url, big, bigNeedles);
  });

  test('progress messages: bytes done and percentage, up and down, on a volume of several parts', async () => {
    const size = snapshot(big).dat!.length;
    const check = (messages: Row[], what: string) => {
      assert.ok(messages.length >= 1, `${what}: at least one progress message (the transfer takes more than a second)`);
      let last = 0;
      for (const m of messages) {
        const processed = Number(m.processed);
        const pct = Number(m.processedPercentage);
        assert.ok(Number.isInteger(processed) && processed > last && processed <= size, `${what}: processed ${processed} grows within the size ${size}`);
        assert.ok(Math.abs(pct - (processed * 100) / size) < 0.01, `${what}: percentage ${pct} is processed/size`);
        last = processed;
      }
    };
    // The volume is swapped to its new data file in place: reads running through the whole move,
    // the switch included, all answer the needle (never a 404 of a volume gone for a moment).
    const probe = bigNeedles.get(7n)!;
    const whileReading = async <T>(move: Promise<T>): Promise<T> => {
      let done = false;
      const reads = (async () => {
        let n = 0;
        while (!done) {
          const r = await rawRequest('GET', `${server.url}/${formatFileId(big, 7n, probe.cookie)}`);
          assert.equal(r.status, 200, `read during the move: ${r.body.subarray(0, 200).toString()}`);
          assert.ok(r.body.equals(probe.data), 'read during the move: bytes');
          n++;
        }
        return n;
      })();
      try {
        return await move;
      } finally {
        done = true;
        assert.ok((await reads) >= 1);
      }
    };
    // each request waits 600 ms: the first part completes more than a second after the start
    proxy.delayMs = 600;
    let up;
    try {
      up = await whileReading(streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: big, destination_backend_name: 's3.proxied' }));
    } finally {
      proxy.delayMs = 0;
    }
    assert.equal(up.error, undefined, up.error?.details);
    check(up.messages, 'upload');
    await readAll(server.url, big, bigNeedles);

    // the download's body is paced at 150 ms per MiB (about 3 s for the volume)
    proxy.responseDelayMsPerMiB = 150;
    let down;
    try {
      down = await whileReading(streamAll(server.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: big }));
    } finally {
      proxy.responseDelayMsPerMiB = 0;
    }
    assert.equal(down.error, undefined, down.error?.details);
    check(down.messages, 'download');
    assert.equal(snapshot(big).dat!.length, size);
    await readAll(server.url, big, bigNeedles);
    assert.deepEqual(await bucketKeys(), []);
  });

  test('an object deleted after tiering: reads fail with a clear error, the server serves the rest', async () => {
    const vid = 53;
    // The mount read the super block and checked the last needle, so the first and last 256 KiB
    // blocks are cached and needles 1 and 5 may still be served from them; needles 2 and 4 are
    // larger than a block (read straight from S3) and needle 3 sits in a block nothing read yet.
    const needles = await fillVolume(server, vid, '', [5000, 600_000, 5000, 600_000, 5000]);
    const up = await streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: vid, destination_backend_name: 's3.default' });
    assert.equal(up.error, undefined, up.error?.details);
    const key = String(readVif(join(server.dir, `${vid}.vif`)).files![0].key);
    await mini.s3.send(new DeleteObjectCommand({ Bucket: 'tier-fail', Key: key }));
    for (const id of [2n, 3n, 4n]) {
      const r = await rawRequest('GET', `${server.url}/${formatFileId(vid, id, needles.get(id)!.cookie)}`);
      assert.equal(r.status, 500, `needle ${id}: ${r.body.subarray(0, 200).toString()}`);
      assert.match(r.body.toString(), new RegExp(`GetObject ${key}: NoSuchKey`), r.body.toString());
    }
    assert.equal(server.proc.exitCode, null, 'still running');
    await readAll(server.url, small, smallNeedles);
    await readAll(server.url, big, bigNeedles);
    // moving it back fails the same clear way and leaves the volume tiered
    const down = await streamAll(server.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: vid });
    assert.match(down.error?.details ?? '', /NoSuchKey/, down.error?.details);
    assert.equal(existsSync(join(server.dir, `${vid}.dat`)), false);
    assert.equal(existsSync(join(server.dir, `${vid}.dat.download`)), false, 'no partial download is left');
    assert.equal(readVif(join(server.dir, `${vid}.vif`)).files?.length, 1);
  });

  test('kill -9 during an upload, then during a download: the volume restarts as it was', async () => {
    // upload: killed once a part is on its way
    const before = snapshot(big);
    proxy.delayMs = 3000;
    const parts = proxy.seen.length;
    const up = streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: big, destination_backend_name: 's3.proxied' });
    try {
      await waitFor(async () => proxy.seen.slice(parts).some((s) => /^PUT .*partNumber=/.test(s)), 30_000, 'an upload part in flight');
      await server.stop('SIGKILL');
    } finally {
      proxy.delayMs = 0;
    }
    assert.ok((await up).error, 'the stream ends with the server');
    server = await start(server.dir);
    assertSameFiles(big, before, 'kill -9 during upload');
    assert.equal((await volumeStatus(server.url, big))?.RemoteStorageName ?? '', '');
    await readAll(server.url, big, bigNeedles);

    // tier it (through the proxy), then kill during the download back
    const tiered = await streamAll(server.grpcAddress, 'VolumeTierMoveDatToRemote', { volume_id: big, destination_backend_name: 's3.proxied' });
    assert.equal(tiered.error, undefined, tiered.error?.details);
    const tieredVif = snapshot(big).vif;
    assert.equal(readVif(join(server.dir, `${big}.vif`)).files?.length, 1);
    proxy.responseDelayMsPerMiB = 1000;
    const partial = join(server.dir, `${big}.dat.download`);
    const down = streamAll(server.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: big });
    try {
      await waitFor(async () => existsSync(partial) && readFileSync(partial).length > 0, 30_000, 'a download under way');
      await server.stop('SIGKILL');
    } finally {
      proxy.responseDelayMsPerMiB = 0;
    }
    assert.ok((await down).error, 'the stream ends with the server');
    server = await start(server.dir);
    assert.equal(snapshot(big).vif, tieredVif, 'still tiered after the restart');
    assert.equal(existsSync(join(server.dir, `${big}.dat`)), false, 'no local .dat appeared');
    assert.equal(existsSync(partial), false, 'the partial download is removed at startup');
    await waitFor(
      async () => (await rawRequest('GET', `${server.url}/${formatFileId(big, 1n, bigNeedles.get(1n)!.cookie)}`)).status === 200,
      20_000,
      'tiered reads after the restart',
    );
    await readAll(server.url, big, bigNeedles);
    // and the download now completes: byte for byte the original, no leftovers
    const again = await streamAll(server.grpcAddress, 'VolumeTierMoveDatFromRemote', { volume_id: big });
    assert.equal(again.error, undefined, again.error?.details);
    assert.ok(snapshot(big).dat!.equals(before.dat!), 'the .dat comes back byte for byte');
    assert.deepEqual(readdirSync(server.dir).filter((f) => f.startsWith(`${big}.`)).sort(), [`${big}.dat`, `${big}.idx`, `${big}.vif`]);
    await readAll(server.url, big, bigNeedles);
  });
});
