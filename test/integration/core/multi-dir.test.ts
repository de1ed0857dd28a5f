// Several data directories (`-dir a,b,c -max 2,4,1 -disk hdd,hdd,ssd`), ours beside the Go volume
// server with the same flags under one real Go master: new volumes land where Go puts them (the
// disk of the type with the fewest volumes and a free slot: weed/storage/store.go addVolume), max
// counts are honoured, /status and VolumeServerStatus list every disk as Go does, and one disk
// below its -minFreeSpace (a per-dir value no real disk can meet) turns its volumes read-only at
// the master while the other disk keeps taking writes.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { volumeClient } from '../../helpers/grpc.js';
import { fileId, masterDataNode, masterVolumes } from '../../helpers/master-view.js';
import {
  cleanup,
  startGoVolumeServer,
  startMaster,
  startVolumeServer,
  tempDir,
  waitFor,
  type Master,
  type VolumeServer,
} from '../../helpers/processes.js';

const LAYOUT = ['-max=2,4,1', '-disk=hdd,hdd,ssd'];
/** Dir a below any reachable free space; b and c at Go's default 1%. */
const LOW_ON_A = ['-minFreeSpace=1000TiB,1,1'];

interface Side {
  name: 'ours' | 'go';
  dirs: string[];
  base: number; // volume ids of this side: base+1 …
  server?: VolumeServer;
}

describe('several data directories, ours beside Go', () => {
  let master: Master;
  const root = tempDir('ts-weed-multidir-');
  const ours: Side = { name: 'ours', dirs: ['a', 'b', 'c'].map((d) => join(root, d)), base: 0 };
  const go: Side = { name: 'go', dirs: ['ga', 'gb', 'gc'].map((d) => join(root, d)), base: 100 };

  async function start(side: Side, extra: string[]): Promise<void> {
    const port = side.server?.port;
    if (side.name === 'ours') {
      side.server = await startVolumeServer({ master: master.address, dir: side.dirs.join(','), port, extraArgs: [...LAYOUT, ...extra] });
    } else {
      side.server = await startGoVolumeServer({ master: master.address, dir: side.dirs.join(','), width: 5, port, extraArgs: [...LAYOUT, ...extra] });
    }
  }

  const nodeUrl = (side: Side) => `127.0.0.1:${side.server!.port}`;

  /** Allocates volume base+n of a disk type; the error text when refused. */
  async function allocate(side: Side, n: number, diskType: string): Promise<string | undefined> {
    const c = volumeClient(side.server!.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: side.base + n, collection: '', replication: '000', ttl: '', preallocate: 0, disk_type: diskType, version: 3 });
      return undefined;
    } catch (e) {
      return (e as { details?: string }).details ?? (e as Error).message;
    } finally {
      c.close();
    }
  }

  /** Index of the dir that holds volume base+n's .dat (-1: none). */
  function dirOf(side: Side, n: number): number {
    return side.dirs.findIndex((d) => existsSync(join(d, `${side.base + n}.dat`)));
  }

  async function write(side: Side, n: number, key: number, body: string): Promise<{ status: number; text: string }> {
    const r = await fetch(`${side.server!.url}/${fileId(side.base + n, key, 0x5eed)}`, { method: 'POST', body });
    return { status: r.status, text: await r.text() };
  }

  before(async () => {
    master = await startMaster(100);
    for (const d of [...ours.dirs, ...go.dirs]) mkdirSync(d); // Go's -dir must exist
    await Promise.all([start(ours, []), start(go, [])]);
  });

  after(async () => {
    await Promise.all([ours.server?.stop(), go.server?.stop()]);
    await master?.stop('SIGKILL');
    cleanup(root);
    if (master) cleanup(master.dir);
  });

  test('new volumes go to the disk of their type with the fewest volumes; max counts are honoured', async () => {
    for (const side of [ours, go]) {
      const placed: number[] = [];
      for (let n = 1; n <= 6; n++) {
        assert.equal(await allocate(side, n, 'hdd'), undefined, `${side.name}: allocate hdd volume ${n}`);
        placed.push(dirOf(side, n));
      }
      // a0 b0 → a; a1 b0 → b; a1 b1 → a; a full → b, b, b.
      assert.deepEqual(placed, [0, 1, 0, 1, 1, 1], `${side.name}: placement`);
      assert.equal(await allocate(side, 9, 'ssd'), undefined, `${side.name}: allocate ssd`);
      assert.equal(dirOf(side, 9), 2, `${side.name}: the ssd volume is on the ssd dir`);
    }
    // Every slot is taken: both servers refuse, with the same words.
    const oursFullHdd = await allocate(ours, 7, 'hdd');
    const goFullHdd = await allocate(go, 7, 'hdd');
    assert.ok(goFullHdd, 'Go refuses a 7th hdd volume');
    assert.equal(oursFullHdd, goFullHdd);
    const oursFullSsd = await allocate(ours, 10, 'ssd');
    assert.ok(oursFullSsd, 'ours refuses a 2nd ssd volume');
    assert.equal(oursFullSsd, await allocate(go, 10, 'ssd'));
    assert.equal(dirOf(ours, 7), -1);
    assert.equal(dirOf(ours, 10), -1);

    // The master counts 7 volumes out of 7 slots on each node.
    for (const side of [ours, go]) {
      await waitFor(async () => (await masterDataNode(master, nodeUrl(side)))?.Volumes === 7, 20_000, `${side.name}: 7 volumes at the master`);
      assert.equal((await masterDataNode(master, nodeUrl(side)))?.Max, 7, `${side.name}: 7 slots at the master`);
    }
  });

  test('/status and VolumeServerStatus list every disk as Go does', async () => {
    type Disk = { dir: string; all: number; disk_type?: string };
    const oursStatus = (await (await fetch(`${ours.server!.url}/status`)).json()) as { DiskStatuses: Disk[] };
    const goStatus = (await (await fetch(`${go.server!.url}/status`)).json()) as { DiskStatuses: Disk[] };
    assert.deepEqual(oursStatus.DiskStatuses.map((d) => d.dir), ours.dirs);
    assert.equal(goStatus.DiskStatuses.length, 3);
    // Go writes disk_type only for a non-default type (DiskType.String() of hdd is "").
    assert.deepEqual(
      oursStatus.DiskStatuses.map((d) => ('disk_type' in d ? d.disk_type : '<absent>')),
      goStatus.DiskStatuses.map((d) => ('disk_type' in d ? d.disk_type : '<absent>')),
    );
    assert.deepEqual(oursStatus.DiskStatuses.map((d) => d.disk_type ?? ''), ['', '', 'ssd']);
    for (const d of oursStatus.DiskStatuses) assert.ok(d.all > 0, `${d.dir} has a size`);

    type GrpcDisk = { dir: string; all: string; disk_type: string };
    const grpcDisks = async (side: Side) => {
      const c = volumeClient(side.server!.grpcAddress);
      try {
        return (await c.call<{ disk_statuses: GrpcDisk[] }>('VolumeServerStatus')).disk_statuses;
      } finally {
        c.close();
      }
    };
    const oursDisks = await grpcDisks(ours);
    const goDisks = await grpcDisks(go);
    assert.deepEqual(oursDisks.map((d) => d.dir), ours.dirs);
    assert.deepEqual(goDisks.map((d) => d.dir), go.dirs);
    // Go's VolumeServerStatus fills no disk type (weed/server/volume_grpc_admin.go): neither do we.
    assert.deepEqual(oursDisks.map((d) => d.disk_type), goDisks.map((d) => d.disk_type));
    for (const d of oursDisks) assert.ok(BigInt(d.all) > 0n, `${d.dir} has a size`);
  });

  test('a disk below its minimum free space turns read-only while the other keeps taking writes', async () => {
    // Volume 1 is on dir a, volume 2 on dir b (previous test). Both take writes now.
    for (const side of [ours, go]) {
      for (const n of [1, 2]) assert.equal((await write(side, n, 1, `before ${n}`)).status, 201, `${side.name}: write to ${n}`);
    }
    // Free a slot on b so the low disk's effect on placement shows.
    for (const side of [ours, go]) {
      const c = volumeClient(side.server!.grpcAddress);
      try {
        await c.call('VolumeDelete', { volume_id: side.base + 6, only_empty: true });
      } finally {
        c.close();
      }
    }

    await Promise.all([ours.server!.stop(), go.server!.stop()]);
    await Promise.all([start(ours, LOW_ON_A), start(go, LOW_ON_A)]);

    for (const side of [ours, go]) {
      // The master sees a's volumes (1, 3) read-only and b's (2, 4, 5) writable.
      await waitFor(
        async () => {
          const vols = await masterVolumes(master, nodeUrl(side));
          return vols.size === 6 && vols.get(side.base + 1)?.ReadOnly === true && vols.get(side.base + 3)?.ReadOnly === true;
        },
        20_000,
        `${side.name}: the low disk's volumes read-only at the master`,
      );
      const vols = await masterVolumes(master, nodeUrl(side));
      for (const n of [2, 4, 5, 9]) assert.equal(vols.get(side.base + n)?.ReadOnly, false, `${side.name}: volume ${n} stays writable`);
    }

    const oursLow = await write(ours, 1, 2, 'on the low disk');
    const goLow = await write(go, 1, 2, 'on the low disk');
    assert.notEqual(goLow.status, 201, 'Go refuses a write to the low disk');
    assert.equal(oursLow.status, goLow.status, `ours ${oursLow.text} / Go ${goLow.text}`);
    for (const side of [ours, go]) {
      assert.equal((await write(side, 2, 2, 'on the good disk')).status, 201, `${side.name}: write to the good disk`);
      const old = await fetch(`${side.server!.url}/${fileId(side.base + 1, 1, 0x5eed)}`);
      assert.equal(old.status, 200, `${side.name}: the low disk still serves reads`);
      assert.equal(await old.text(), 'before 1');
      // A new volume skips the low disk: b has the free slot.
      assert.equal(await allocate(side, 8, 'hdd'), undefined, `${side.name}: allocate on b`);
      assert.equal(dirOf(side, 8), 1, `${side.name}: the new volume is on b`);
    }
    // The low disk offers no new slot: the master's Max for it is what it holds (Go's CollectHeartbeat).
    for (const side of [ours, go]) {
      await waitFor(async () => (await masterDataNode(master, nodeUrl(side)))?.Volumes === 7, 20_000, `${side.name}: 7 volumes at the master`);
    }
    assert.equal((await masterDataNode(master, nodeUrl(ours)))?.Max, (await masterDataNode(master, nodeUrl(go)))?.Max);
  });
});
