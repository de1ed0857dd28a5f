// -metricsPort and the push gateway, end to end: our real server next to a real Go master that
// announces a push gateway (a real HTTP server on 127.0.0.1 here). Writes and reads move the
// request counters; every volumeServer metric the upstream Grafana dashboards query is exported
// with the labels they group by; the gateway receives our PUTs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../config/index.js';
import { PROJECT_ROOT } from '../../core/paths.js';
import { VolumeServerMetrics } from '../../core/metrics/volume-server-metrics.js';
import { Store } from '../../core/storage/store.js';
import { volumeClient } from '../helpers/grpc.js';
import { cleanup, freePort, startMaster, startVolumeServer, tempDir, waitFor, waitRegistered, type Master, type VolumeServer } from '../helpers/processes.js';

const PICS_VID = 5;
const PLAIN_VID = 6;

function fid(vid: number, key: number, cookie = 0x1234abcd): string {
  return `${vid},${key.toString(16)}${cookie.toString(16).padStart(8, '0')}`;
}

/** Samples of the exposition text: series (name + labels as written) → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Labels Prometheus adds from the scrape target, not from the exporter. */
const TARGET_LABELS = new Set(['cluster', 'namespace', 'service', 'instance', 'exported_instance', 'job', 'pod', 'le']);

/** volumeServer metric names the upstream dashboards query, with the labels they select or group by. */
function dashboardQueries(): Map<string, Set<string>> {
  const src = execFileSync('bash', [join(PROJECT_ROOT, 'test', 'conformance', 'build-weed.sh'), '--src'], { encoding: 'utf8' }).trim().split('\n').pop()!;
  const dir = join(src, 'other', 'metrics');
  const out = new Map<string, Set<string>>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const json = JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown;
    const exprs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) {
        if (k === 'expr' && typeof x === 'string') exprs.push(x);
        else walk(x);
      }
    };
    walk(json);
    for (const e of exprs) {
      for (const m of e.matchAll(/(?:by \(([^)]*)\) \()?[a-z_(]*\(?(SeaweedFS_volumeServer_[A-Za-z_]+)(\{[^}]*\})?/g)) {
        const labels = out.get(m[2]) ?? new Set<string>();
        for (const l of (m[1] ?? '').split(',')) if (l.trim()) labels.add(l.trim());
        for (const s of (m[3] ?? '').matchAll(/([a-zA-Z_]+)\s*[=!]~?/g)) labels.add(s[1]);
        out.set(m[2], labels);
      }
      // `sum(...) by (labels)` after the selector.
      for (const m of e.matchAll(/(SeaweedFS_volumeServer_[A-Za-z_]+)[^)]*\)+ by \(([^)]*)\)/g)) {
        for (const l of m[2].split(',')) if (l.trim()) out.get(m[1])!.add(l.trim());
      }
    }
  }
  return out;
}

describe('metrics: -metricsPort and the push gateway the master announces', () => {
  let gateway: Server;
  const pushes: { url: string; body: string }[] = [];
  let master: Master;
  let vs: VolumeServer;
  let metricsPort: number;

  before(async () => {
    gateway = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        if (req.method === 'PUT') pushes.push({ url: req.url ?? '', body: Buffer.concat(parts).toString('utf8') });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    const gwPort = (gateway.address() as AddressInfo).port;
    master = await startMaster(100, 5, [`-metrics.address=127.0.0.1:${gwPort}`, '-metrics.intervalSeconds=1']);
    metricsPort = await freePort();
    vs = await startVolumeServer({ master: master.address, extraArgs: ['--metricsPort', String(metricsPort)] });
    await waitRegistered(master, vs.port);
    const c = volumeClient(vs.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: PICS_VID, collection: 'pics', replication: '000', version: 3 });
      await c.call('AllocateVolume', { volume_id: PLAIN_VID, replication: '000', version: 3 });
    } finally {
      c.close();
    }
  });

  after(async () => {
    await vs?.stop();
    await master?.stop();
    gateway?.closeAllConnections();
    await new Promise((r) => gateway?.close(r));
    cleanup(...[vs?.dir, master?.dir].filter((d): d is string => !!d));
  });

  const scrape = async () => {
    const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return r.text();
  };

  test('writes and reads move request_total and request_seconds; control routes do not', async () => {
    const before = samples(await scrape());
    for (let key = 1; key <= 3; key++) {
      const r = await fetch(`${vs.url}/${fid(PICS_VID, key)}`, { method: 'PUT', body: `needle ${key}` });
      assert.equal(r.status, 201, await r.text());
    }
    for (const key of [1, 2]) {
      const r = await fetch(`${vs.url}/${fid(PICS_VID, key)}`);
      assert.equal(await r.text(), `needle ${key}`);
    }
    assert.equal((await fetch(`${vs.url}/${fid(PICS_VID, 3)}`, { method: 'HEAD' })).status, 200);
    const missing = await fetch(`${vs.url}/${fid(PICS_VID, 99)}`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const del = await fetch(`${vs.url}/${fid(PICS_VID, 3)}`, { method: 'DELETE' });
    assert.equal(del.status, 202, await del.text());
    const patch = await fetch(`${vs.url}/${fid(PICS_VID, 1)}`, { method: 'PATCH' });
    assert.equal(patch.status, 400);
    await patch.arrayBuffer();
    for (let i = 0; i < 3; i++) await (await fetch(`${vs.url}/status`)).arrayBuffer();
    await (await fetch(`${vs.url}/healthz`)).arrayBuffer();

    const text = await scrape();
    const after = samples(text);
    const delta = (series: string) => (after.get(series) ?? 0) - (before.get(series) ?? 0);
    assert.equal(delta('SeaweedFS_volumeServer_request_total{type="PUT",code="201"}'), 3);
    assert.equal(delta('SeaweedFS_volumeServer_request_total{type="GET",code="200"}'), 2, 'GETs of /status and /healthz are not store requests');
    assert.equal(delta('SeaweedFS_volumeServer_request_total{type="HEAD",code="200"}'), 1);
    assert.equal(delta('SeaweedFS_volumeServer_request_total{type="GET",code="404"}'), 1);
    assert.equal(delta('SeaweedFS_volumeServer_request_total{type="DELETE",code="202"}'), 1);
    assert.equal(delta('SeaweedFS_volumeServer_request_total{type="INVALID",code="400"}'), 1);
    assert.equal(delta('SeaweedFS_volumeServer_request_seconds_count{type="GET"}'), 3);
    assert.equal(delta('SeaweedFS_volumeServer_request_seconds_count{type="PUT"}'), 3);
    assert.equal(after.get('SeaweedFS_volumeServer_request_seconds_bucket{type="PUT",le="+Inf"}'), after.get('SeaweedFS_volumeServer_request_seconds_count{type="PUT"}'));
    assert.equal(after.get('SeaweedFS_volumeServer_in_flight_requests{type="PUT"}'), 0);

    // Store gauges, computed from the store at scrape time.
    assert.equal(after.get('SeaweedFS_volumeServer_volumes{collection="pics",type="volume"}'), 1);
    assert.equal(after.get('SeaweedFS_volumeServer_volumes{collection="",type="volume"}'), 1);
    assert.ok((after.get('SeaweedFS_volumeServer_total_disk_size{collection="pics",type="normal"}') ?? 0) > 8);
    assert.ok((after.get('SeaweedFS_volumeServer_total_disk_size{collection="pics",type="deleted_bytes"}') ?? 0) > 0, 'the DELETE left deleted bytes');
    assert.equal(after.get('SeaweedFS_volumeServer_read_only_volumes{collection="pics",type="IsReadOnly"}'), 0);
    assert.ok((after.get('SeaweedFS_volumeServer_max_volumes') ?? 0) > 0);
    assert.ok((after.get(`SeaweedFS_volumeServer_resource{name="${vs.dir}",type="all"}`) ?? 0) > 0);
    assert.ok((after.get('SeaweedFS_volumeServer_start_time_seconds') ?? 0) > 1_600_000_000);
    assert.ok((after.get('process_resident_memory_bytes') ?? 0) > 0);
    assert.ok((after.get('process_cpu_seconds_total') ?? -1) >= 0);

    // The admin port itself has no /metrics: it is a file id there, as in Go.
    assert.equal((await fetch(`${vs.url}/metrics`)).status, 400);
  });

  test('every volumeServer metric the upstream Grafana dashboards query is exported, with the labels they use', async () => {
    const text = await scrape();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    const queries = dashboardQueries();
    assert.ok(queries.size >= 30, `found ${queries.size} volumeServer metrics in the dashboards`);

    // Label names as declared on our metrics (a labelled metric has no series before its first use).
    const dir = tempDir('ts-weed-metrics-labels-');
    const config = loadConfig([`-dir=${dir}`, '-ip=127.0.0.1'], { HOME: dir });
    const store = new Store(config);
    const local = new VolumeServerMetrics({ config, store });
    try {
      for (const [queried, labels] of queries) {
        const base = queried.replace(/_(bucket|sum|count)$/, '');
        const name = types.has(queried) ? queried : base;
        assert.ok(types.has(name), `${queried} (queried by a dashboard) is not exported`);
        if (name !== queried) assert.equal(types.get(name), 'histogram', `${queried} is a histogram series`);
        const declared = (local.registry.getSingleMetric(name) as unknown as { labelNames: string[] }).labelNames;
        for (const l of labels) {
          if (TARGET_LABELS.has(l)) continue;
          assert.ok(declared.includes(l), `${name} has no label "${l}" (dashboards use it); it has ${declared.join(',') || 'none'}`);
        }
      }
    } finally {
      await store.close();
      cleanup(dir);
    }
  });

  test('the push gateway announced by the master receives our metrics as PUTs', async () => {
    const ours = `/metrics/job/volumeServer/instance/127.0.0.1%3A${vs.port}`;
    const volumesLine = /^SeaweedFS_volumeServer_volumes\{collection="pics",type="volume"\} 1$/m;
    // Pushes began with the heartbeat; one made after the volumes were allocated shows them.
    await waitFor(async () => pushes.some((p) => p.url === ours && volumesLine.test(p.body)), 30_000, 'a push from our server');
    const p = pushes.find((x) => x.url === ours && volumesLine.test(x.body))!;
    assert.match(p.body, /^SeaweedFS_volumeServer_request_total\{type="PUT",code="201"\} \d+$/m);
    assert.match(p.body, /^process_cpu_seconds_total /m);
    assert.ok(pushes.every((x) => !x.url.startsWith('/metrics/job/volumeServer/') || x.url === ours), 'only our instance pushes as volumeServer');
  });
});
