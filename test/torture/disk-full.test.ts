// Disk full, on a 16 MiB tmpfs this test mounts: writes fail with a clear error, the location's low
// free space turns the volume read-only at the next disk check (Go's disk_location.go
// CheckDiskSpace against -minFreeSpace, run each heartbeat pulse here), no torn record is left (the
// volume reloads and every acknowledged needle reads back), and once space is freed above the
// threshold the volume is writable again.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { volumeClient } from '../helpers/grpc.js';
import { rawRequest } from '../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, waitFor, type Master, type VolumeServer } from '../helpers/processes.js';

const VID = 1;
const NEEDLE = 256 * 1024;
let mountDir: string;
let master: Master;
let vs: VolumeServer | undefined;

before(async () => {
  mountDir = mkdtempSync(join(tmpdir(), 'disk-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountDir]);
  master = await startMaster();
});

after(async () => {
  await vs?.stop('SIGKILL');
  await master?.stop();
  if (master) cleanup(master.dir);
  execFileSync('umount', [mountDir]);
  rmSync(mountDir, { recursive: true, force: true });
});

async function readOnly(v: VolumeServer): Promise<boolean> {
  const c = volumeClient(v.grpcAddress);
  try {
    return (await c.call<{ is_read_only: boolean }>('VolumeStatus', { volume_id: VID })).is_read_only;
  } finally {
    c.close();
  }
}

const start = () => startVolumeServer({ master: master.address, dir: mountDir, extraArgs: ['--max', '3', '--minFreeSpace', '2MiB'] });

async function readsBack(v: VolumeServer, acked: Map<string, Buffer>): Promise<void> {
  for (const [fid, data] of acked) {
    const r = await rawRequest('GET', `${v.url}/${fid}`);
    assert.equal(r.status, 200, `${fid} lost`);
    assert.ok(r.body.equals(data), `${fid} corrupted`);
  }
}

test('disk full: clear error, read-only at the next check, no torn record, writable again once space is freed', async () => {
  // 5 MiB the test frees later, so that free space can rise above -minFreeSpace again
  const filler = join(mountDir, 'filler.bin');
  writeFileSync(filler, Buffer.alloc(5 * 1024 * 1024, 1));
  vs = await start();
  const c = volumeClient(vs.grpcAddress);
  await c.call('AllocateVolume', { volume_id: VID, replication: '000', version: 3 });
  c.close();

  const acked = new Map<string, Buffer>();
  let failure: { status: number; body: string } | undefined;
  for (let i = 1; i <= 200 && !failure; i++) {
    const fid = `${VID},${i.toString(16)}0000abcd`;
    const data = randomBytes(NEEDLE);
    const r = await rawRequest('POST', `${vs.url}/${fid}`, { 'Content-Type': 'application/octet-stream' }, data);
    if (r.status === 201) acked.set(fid, data);
    else failure = { status: r.status, body: r.body.toString() };
  }
  assert.ok(failure, 'a 16 MiB disk never filled up');
  assert.ok(acked.size > 5, `only ${acked.size} writes fitted`);
  // ENOSPC from the write itself (500, as Go's PostHandler), or 409 read-only if a disk check came
  // first (Go answers ErrorReadOnly with 409): both name the cause.
  if (failure.status === 409) assert.match(failure.body, /read only/);
  else {
    assert.equal(failure.status, 500, failure.body);
    assert.match(failure.body, /no space left on device/i);
  }

  await waitFor(() => readOnly(vs!), 15_000, 'the volume to turn read-only at the next disk check');
  const refused = await rawRequest('POST', `${vs.url}/${VID},ffff0000abcd`, { 'Content-Type': 'application/octet-stream' }, Buffer.from('x'));
  assert.equal(refused.status, 409, refused.body.toString());
  assert.match(refused.body.toString(), /read only/);
  await readsBack(vs, acked);

  // Free space above the threshold: writable again at the next check.
  rmSync(filler);
  await waitFor(async () => !(await readOnly(vs!)), 15_000, 'the volume to turn writable once space is freed');
  const fid = `${VID},10000000abcd`;
  const data = randomBytes(1000);
  const again = await rawRequest('POST', `${vs.url}/${fid}`, { 'Content-Type': 'application/octet-stream' }, data);
  assert.equal(again.status, 201, again.body.toString());
  acked.set(fid, data);

  // No torn record: after a crash the volume reloads and every acknowledged needle is intact.
  await vs.stop('SIGKILL');
  vs = await start();
  await readsBack(vs, acked);
  assert.equal(await readOnly(vs), false);
});
