// Our server against a real Go master: registration, control routes and RPCs, plugin toggling,
// state persistence and signal shutdown.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ReplicaPlacement, Ttl } from '../../../core/storage/types.js';
import { Volume } from '../../../core/storage/volume.js';
import { volumeClient } from '../../helpers/grpc.js';
import { cleanup, startMaster, startVolumeServer, tempDir, waitFor, type Master } from '../../helpers/processes.js';

interface DirStatus {
  Topology: { DataCenters: { Racks: { DataNodes: { Url: string; Max: number }[] | null }[] }[] };
}

/** 'connected' or the error code of a TCP connect to 127.0.0.1:port. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
  });
}

async function dataNodes(master: Master): Promise<{ Url: string; Max: number }[]> {
  const s = (await (await fetch(`${master.url}/dir/status`)).json()) as DirStatus;
  return s.Topology.DataCenters.flatMap((dc) => dc.Racks.flatMap((r) => r.DataNodes ?? []));
}

describe('core server with a Go master', () => {
  let master: Master;
  before(async () => {
    master = await startMaster();
  });
  after(async () => {
    await master.stop();
    cleanup(master.dir);
  });

  test('registers at the master with its max volume count, and leaves on SIGINT with exit 0', async () => {
    const vs = await startVolumeServer({ master: master.address, extraArgs: ['--max', '7'] });
    try {
      await waitFor(
        async () => (await dataNodes(master)).some((n) => n.Url === `127.0.0.1:${vs.port}` && n.Max === 7),
        10_000,
        'registration at the master',
      );
      const status = (await (await fetch(`${vs.url}/status`)).json()) as Record<string, unknown>;
      assert.deepEqual((status.Master as { connected: boolean }).connected, true);
      // stop() escalates to SIGKILL when SIGINT does not end the process, which exits with null, not 0.
      const code = await vs.stop('SIGINT');
      assert.equal(code, 0, vs.log());
      assert.equal(await connectOutcome(vs.port), 'ECONNREFUSED', 'HTTP port still open after shutdown');
      assert.equal(await connectOutcome(Number(vs.grpcAddress.split(':').pop())), 'ECONNREFUSED', 'gRPC port still open after shutdown');
      await waitFor(async () => !(await dataNodes(master)).some((n) => n.Url === `127.0.0.1:${vs.port}`), 10_000, 'master to drop the node');
    } finally {
      await vs.stop('SIGKILL');
      cleanup(vs.dir);
    }
  });

  test('HTTP control routes answer with Go headers and shapes', async () => {
    const vs = await startVolumeServer({ master: master.address });
    try {
      const r = await fetch(`${vs.url}/status?pretty=y&callback=cb`, { headers: { Origin: 'https://x.example' } });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('server') ?? '', /^SeaweedFS Volume (30|8000)GB \d+\.\d+$/);
      assert.match(r.headers.get('x-amz-request-id') ?? '', /^[0-9A-F]{16,}$/);
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      const text = await r.text();
      assert.ok(!text.startsWith('cb('));
      assert.ok(text.split('\n').length > 3, 'pretty output is indented');
      const body = JSON.parse(text) as { Version: string; Volumes: unknown[]; DiskStatuses: Record<string, unknown>[] };
      assert.equal(body.Volumes.length, 0);
      assert.equal(body.DiskStatuses.length, 1);
      for (const k of ['dir', 'all', 'used', 'free', 'percent_free', 'percent_used']) {
        assert.ok(k in body.DiskStatuses[0], `DiskStatuses[0].${k}`);
      }
      // Go leaves disk_type out for the default (hdd) disk: DiskType.String() is "".
      assert.ok(!('disk_type' in body.DiskStatuses[0]), 'no disk_type for an hdd dir');
      assert.ok((body.DiskStatuses[0].all as number) > 0);

      assert.equal((await fetch(`${vs.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${vs.url}/metrics`)).status, 400);
      const ui = await fetch(`${vs.url}/ui/index.html`);
      assert.equal(ui.status, 200);
      assert.match(await ui.text(), /Volume Server/);
      const png = await fetch(`${vs.url}/seaweedfsstatic/seaweed50x50.png`);
      assert.equal(png.status, 200);
      assert.equal(png.headers.get('content-type'), 'image/png');
      assert.equal((await fetch(`${vs.url}/seaweedfsstatic/..%2Fpackage.json`)).status, 404);
      const mem = (await (await fetch(`${vs.url}/stats/memory`)).json()) as { Memory: { goroutines: number } };
      // core/control/memory-status.ts: active libuv resources + 1; a serving process holds at least its
      // HTTP and gRPC listening sockets, so a figure below 3 means the count is not what it claims.
      assert.ok(Number.isInteger(mem.Memory.goroutines) && mem.Memory.goroutines >= 3, `goroutines ${mem.Memory.goroutines}`);
    } finally {
      await vs.stop();
      cleanup(vs.dir);
    }
  });

  test('state persists in state.pb across restarts; stale versions are refused', async () => {
    const dir = tempDir('ts-weed-state-');
    let vs = await startVolumeServer({ master: master.address, dir });
    let client = volumeClient(vs.grpcAddress);
    try {
      const initial = await client.call<{ state: { version: number; maintenance: boolean } }>('GetState');
      assert.deepEqual(initial.state, { maintenance: false, version: 0 });
      await assert.rejects(client.call('SetState', { state: { maintenance: true, version: 5 } }), /version mismatch/);
      const set = await client.call<{ state: { version: number; maintenance: boolean } }>('SetState', {
        state: { maintenance: true, version: 0 },
      });
      assert.deepEqual(set.state, { maintenance: true, version: 1 });
      assert.ok(existsSync(join(dir, 'state.pb')));
      client.close();
      await vs.stop();
      vs = await startVolumeServer({ master: master.address, dir });
      client = volumeClient(vs.grpcAddress);
      const again = await client.call<{ state: { version: number; maintenance: boolean } }>('GetState');
      assert.deepEqual(again.state, { maintenance: true, version: 1 });
    } finally {
      client.close();
      await vs.stop();
      cleanup(dir);
    }
  });

  test('ping admission, leave turns healthz 503, VolumeServerStatus reports disks', async () => {
    const vs = await startVolumeServer({ master: master.address });
    const client = volumeClient(vs.grpcAddress);
    try {
      const self = await client.call<{ start_time_ns: string; stop_time_ns: string; remote_time_ns: string }>('Ping', {});
      assert.ok(BigInt(self.stop_time_ns) >= BigInt(self.start_time_ns));
      assert.equal(self.remote_time_ns, '0');
      const viaMaster = await client.call<{ remote_time_ns: string }>('Ping', { target: master.address, target_type: 'master' });
      assert.ok(BigInt(viaMaster.remote_time_ns) > 0n);
      await assert.rejects(client.call('Ping', { target: '127.0.0.1:1', target_type: 'master' }), (e: { code: number }) => e.code === status.INVALID_ARGUMENT);
      await assert.rejects(client.call('Ping', { target: master.address, target_type: 'filer' }), (e: { code: number }) => e.code === status.INVALID_ARGUMENT);

      const st = await client.call<{ disk_statuses: { dir: string; all: string; free: string }[]; memory_status: { goroutines: number }; version: string }>('VolumeServerStatus');
      assert.equal(st.disk_statuses.length, 1);
      assert.ok(Number(st.disk_statuses[0].all) > 0 && Number(st.disk_statuses[0].free) > 0);
      assert.ok(Number.isInteger(st.memory_status.goroutines) && st.memory_status.goroutines >= 3, `goroutines ${st.memory_status.goroutines}`);
      assert.match(st.version, /^(30|8000)GB \d+\.\d+ /);

      await client.call('VolumeServerLeave');
      await client.call('VolumeServerLeave');
      await waitFor(async () => (await fetch(`${vs.url}/healthz`)).status === 503, 2000, 'healthz 503 after leave');
      // Still serving after leave.
      assert.equal((await fetch(`${vs.url}/status`)).status, 200);
    } finally {
      client.close();
      await vs.stop();
      cleanup(vs.dir);
    }
  });

  test('a disabled family answers UNIMPLEMENTED naming its config key; its routes are absent', async () => {
    const vs = await startVolumeServer({
      master: master.address,
      extraArgs: ['-plugins.ec.enabled=false', '-plugins.read-write.enabled=false'],
    });
    const client = volumeClient(vs.grpcAddress);
    try {
      await assert.rejects(client.call('VolumeEcShardsInfo', { volume_id: 1 }), (e: { code: number; details: string }) => {
        assert.equal(e.code, status.UNIMPLEMENTED);
        assert.match(e.details, /plugins\.ec\.enabled/);
        return true;
      });
      await assert.rejects(client.call('BatchDelete', { file_ids: [] }), /plugins\.read-write\.enabled/);
      // The read-write family owns the fid routes: without it a fid path is not a route at all.
      assert.equal((await fetch(`${vs.url}/3,01637037d6`)).status, 404);
      assert.equal((await fetch(`${vs.url}/metrics`)).status, 404);
      // Core keeps serving.
      assert.equal((await fetch(`${vs.url}/status`)).status, 200);
    } finally {
      client.close();
      await vs.stop();
      cleanup(vs.dir);
    }
  });

  test('SIGHUP mounts volumes that appeared on disk', async () => {
    const vs = await startVolumeServer({ master: master.address });
    const client = volumeClient(vs.grpcAddress);
    const scratch = tempDir('ts-weed-hup-');
    try {
      const v = await Volume.create({
        dir: scratch,
        collection: 'hup',
        id: 42,
        offsetWidth: 4,
        create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.EMPTY },
      });
      await v.close();
      for (const f of readdirSync(scratch)) copyFileSync(join(scratch, f), join(vs.dir, f));
      await assert.rejects(client.call('VolumeStatus', { volume_id: 42 }), /not found volume id 42/);
      vs.proc.kill('SIGHUP');
      await waitFor(async () => (await client.call<{ volume_size: string }>('VolumeStatus', { volume_id: 42 })).volume_size === '8', 5000, 'volume 42 after SIGHUP');
      const status = (await (await fetch(`${vs.url}/status`)).json()) as { Volumes: { Id: number; Collection: string }[] };
      assert.deepEqual(status.Volumes.map((x) => [x.Id, x.Collection]), [[42, 'hup']]);
    } finally {
      client.close();
      await vs.stop();
      cleanup(vs.dir, scratch);
    }
  });

  test('starts and serves without a reachable master, and says so in /status', async () => {
    const vs = await startVolumeServer({ master: '127.0.0.1:1' });
    try {
      const body = (await (await fetch(`${vs.url}/status`)).json()) as { Master: { connected: boolean } };
      assert.equal(body.Master.connected, false);
      assert.equal(await vs.stop('SIGTERM'), 0);
    } finally {
      cleanup(vs.dir);
    }
  });
});
