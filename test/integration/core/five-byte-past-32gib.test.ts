// A 5-byte-offset volume whose records lie past 32 GiB (issue 16), on a sparse .dat: load, read,
// write, delete, heartbeat size, vacuum and reload, the way a Go 5BytesOffset server keeps volumes
// up to 8 TiB (weed/storage/types/offset_5bytes.go). The first record past 32 GiB is placed by the
// test (a whole 32 GiB of real writes would take too long); everything after it is the server's.
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { idxEntryBytes, readIndexEntries } from '../../../core/storage/idx.js';
import { encodeNeedle, newNeedle } from '../../../core/storage/needle.js';
import { drainStream, volumeClient } from '../../helpers/grpc.js';
import { cleanup, startMaster, startVolumeServer, waitFor, waitRegistered, type Master, type VolumeServer } from '../../helpers/processes.js';

const VID = 9;
const GIB32 = 32 * 1024 * 1024 * 1024;
const FAR = GIB32 + 4096;
const COOKIE = 0x0badcafe;

/** The master's /vol/status: data center → rack → server → volumes. */
interface MasterVolStatus {
  Volumes: { DataCenters: Record<string, Record<string, Record<string, { Id: number; Size: number }[]>>> };
}

function fid(key: number): string {
  return `${VID},${key.toString(16)}${COOKIE.toString(16).padStart(8, '0')}`;
}

describe('5-byte offsets past 32 GiB', { timeout: 180_000 }, () => {
  let master: Master;
  let vs: VolumeServer;
  const start = (dir?: string) => startVolumeServer({ master: master.address, dir, extraArgs: ['--offsetBytes', '5'] });
  const datPath = () => join(vs.dir, `${VID}.dat`);
  const get = async (key: number) => {
    const r = await fetch(`${vs.url}/${fid(key)}`);
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
  };

  before(async () => {
    master = await startMaster(100, 5);
    vs = await start();
    await waitRegistered(master, vs.port);
    const c = volumeClient(vs.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: VID, replication: '000', version: 3 });
    } finally {
      c.close();
    }
    const put = await fetch(`${vs.url}/${fid(1)}`, { method: 'PUT', body: 'near the start' });
    assert.equal(put.status, 201, await put.text());
    const dir = vs.dir;
    await vs.stop();
    // Record 2 at 32 GiB + 4 KiB, indexed; the gap stays a hole of the sparse file.
    const n = newNeedle({ cookie: COOKIE, id: 2n, data: Buffer.from('past 32 GiB'), appendAtNs: BigInt(Date.now()) * 1_000_000n });
    const rec = encodeNeedle(n, 3);
    const dat = await open(join(dir, `${VID}.dat`), 'r+');
    try {
      await dat.write(rec, 0, rec.length, FAR);
    } finally {
      await dat.close();
    }
    const idx = await open(join(dir, `${VID}.idx`), 'a');
    try {
      await idx.write(idxEntryBytes(2n, FAR, n.size, 5));
    } finally {
      await idx.close();
    }
    vs = await start(dir);
    await waitRegistered(master, vs.port);
  });

  after(async () => {
    await vs?.stop();
    await master?.stop();
    cleanup(...[vs?.dir, master?.dir].filter((d): d is string => !!d));
  });

  test('the volume loads writable and serves the record past 32 GiB and the one before', async () => {
    assert.deepEqual(await get(2), { status: 200, body: Buffer.from('past 32 GiB') });
    assert.deepEqual(await get(1), { status: 200, body: Buffer.from('near the start') });
    const st = (await (await fetch(`${vs.url}/status`)).json()) as { Volumes: { Id: number; ReadOnly: boolean }[] };
    const v = st.Volumes.find((x) => x.Id === VID);
    assert.equal(v?.ReadOnly, false);
  });

  test('a new write lands past 32 GiB with a 5-byte offset in the .idx, and reads back', async () => {
    const put = await fetch(`${vs.url}/${fid(3)}`, { method: 'PUT', body: 'appended far away' });
    assert.equal(put.status, 201, await put.text());
    assert.deepEqual(await get(3), { status: 200, body: Buffer.from('appended far away') });
    const rows = await readIndexEntries(join(vs.dir, `${VID}.idx`), 5);
    const last = rows[rows.length - 1];
    assert.equal(last.id, 3n);
    assert.ok(last.offset > GIB32, `offset ${last.offset} is past 32 GiB`);
  });

  test('the master hears a volume size past 32 GiB', async () => {
    await waitFor(
      async () => {
        const st = (await (await fetch(`${master.url}/vol/status`)).json()) as MasterVolStatus;
        const sizes = Object.values(st.Volumes.DataCenters)
          .flatMap((dc) => Object.values(dc))
          .flatMap((rack) => Object.values(rack))
          .flat()
          .filter((v) => v.Id === VID)
          .map((v) => v.Size);
        return sizes.some((s) => s > GIB32);
      },
      30_000,
      'the master to report volume 9 past 32 GiB',
    );
  });

  test('a delete of the far record sticks; vacuum compacts the hole away; a reload keeps it all', async () => {
    const del = await fetch(`${vs.url}/${fid(2)}`, { method: 'DELETE' });
    assert.equal(del.status, 202, await del.text());
    assert.equal((await get(2)).status, 404);
    const compact = await drainStream(vs.grpcAddress, 'VacuumVolumeCompact', { volume_id: VID }, 120_000);
    assert.equal(compact.error, undefined, compact.error?.message);
    const c = volumeClient(vs.grpcAddress);
    try {
      await c.call('VacuumVolumeCommit', { volume_id: VID }, 60_000);
    } finally {
      c.close();
    }
    assert.ok(statSync(datPath()).size < 1024 * 1024, `compacted .dat is ${statSync(datPath()).size} bytes`);
    assert.deepEqual(await get(1), { status: 200, body: Buffer.from('near the start') });
    assert.deepEqual(await get(3), { status: 200, body: Buffer.from('appended far away') });
    assert.equal((await get(2)).status, 404);
    const dir = vs.dir;
    await vs.stop();
    vs = await start(dir);
    assert.deepEqual(await get(1), { status: 200, body: Buffer.from('near the start') });
    assert.deepEqual(await get(3), { status: 200, body: Buffer.from('appended far away') });
    assert.equal((await get(2)).status, 404);
  });
});
