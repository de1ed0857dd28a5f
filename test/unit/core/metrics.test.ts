// The metrics module on its own: Go's names, labels and buckets; store gauges from a real store on
// a temp dir; the request recorder; the /metrics listener; the push-gateway pusher against a real
// HTTP server on 127.0.0.1 playing the gateway.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { Histogram, Registry } from 'prom-client';
import { BucketHistogram } from '../../../core/metrics/bucket-histogram.js';
import { loadConfig } from '../../../config/index.js';
import { MetricsListener } from '../../../core/metrics/metrics-listener.js';
import { MetricsPusher, pushUrl } from '../../../core/metrics/pusher.js';
import { availableSpace } from '../../../core/metrics/store-gauges.js';
import { DURATION_BUCKETS, exponentialBuckets, VolumeServerMetrics } from '../../../core/metrics/volume-server-metrics.js';
import { Store } from '../../../core/storage/store.js';

/** A logger whose JSON lines land in `lines`, so tests can count what was logged. */
function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

/** Sample value of `name{labels}` in exposition text (labels as written, in order), or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

interface GatewayRequest {
  method: string;
  url: string;
  contentType: string;
  body: string;
}

/** A real HTTP server on 127.0.0.1 standing in for a Prometheus push gateway. */
class FakeGateway {
  readonly requests: GatewayRequest[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  answer: (res: ServerResponse) => void = (res) => res.writeHead(200).end();
  private server: Server = createServer((req: IncomingMessage, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', contentType: String(req.headers['content-type']), body: Buffer.concat(parts).toString('utf8') });
      this.waiters = this.waiters.filter((w) => (this.requests.length >= w.count ? (w.resolve(), false) : true));
      this.answer(res);
    });
  });
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Resolves once `count` requests have arrived in total. */
  received(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('metrics module', () => {
  let dir: string;
  let store: Store;
  let metrics: VolumeServerMetrics;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ts-weed-metrics-'));
    const config = loadConfig([`-dir=${dir}`, '-max=5', '-ip=127.0.0.1', '-concurrentUploadLimitMB=64', '-minFreeSpace=1'], { HOME: dir });
    store = new Store(config);
    await store.loadExistingVolumes();
    metrics = new VolumeServerMetrics({ config, store });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("duration buckets are Go's ExponentialBuckets(0.0001, 2, 24), printed as Go prints them", async () => {
    assert.equal(DURATION_BUCKETS.length, 24);
    metrics.requests.done('GET', 200, 0.00005);
    const text = await metrics.text();
    const les = [...text.matchAll(/^SeaweedFS_volumeServer_request_seconds_bucket\{type="GET",le="([^"]+)"\}/gm)].map((m) => m[1]);
    assert.deepEqual(les, [
      '0.0001', '0.0002', '0.0004', '0.0008', '0.0016', '0.0032', '0.0064', '0.0128', '0.0256', '0.0512', '0.1024', '0.2048',
      '0.4096', '0.8192', '1.6384', '3.2768', '6.5536', '13.1072', '26.2144', '52.4288', '104.8576', '209.7152', '419.4304',
      '838.8608', '+Inf',
    ]);
    assert.deepEqual(exponentialBuckets(0.01, 2, 3), [0.01, 0.02, 0.04]);
  });

  test('in-flight upload and download bytes are read from their sources at scrape time', async () => {
    assert.match(await metrics.text(), /^SeaweedFS_volumeServer_in_flight_upload_size 0$/m);
    metrics.inFlightBytes.upload = () => 1234;
    metrics.inFlightBytes.download = () => 56;
    try {
      const text = await metrics.text();
      assert.match(text, /^SeaweedFS_volumeServer_in_flight_upload_size 1234$/m);
      assert.match(text, /^SeaweedFS_volumeServer_in_flight_download_size 56$/m);
    } finally {
      metrics.inFlightBytes.upload = () => 0;
      metrics.inFlightBytes.download = () => 0;
    }
  });

  test("the typed-array histogram exports what prom-client's own Histogram exports for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const h = new BucketHistogram('h', 'help', DURATION_BUCKETS, 'type', ['a', 'b', 'c'], ours);
    const ref = new Histogram({ name: 'h', help: 'help', buckets: DURATION_BUCKETS, labelNames: ['type'], registers: [theirs] });
    const values = [0, 0.00005, 0.0001, 0.00010001, 0.0004, 0.05, 1, 838.8608, 838.9, 1e6];
    for (const [i, v] of values.entries()) {
      const t = i % 2 === 0 ? 'a' : 'c';
      h.observe(t === 'a' ? 0 : 2, v);
      ref.labels(t).observe(v);
    }
    // Same series and values; only the order of labels inside the braces differs.
    const norm = (text: string) =>
      text
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.replace(/\{le="([^"]+)",type="([^"]+)"\}/, '{type="$2",le="$1"}'))
        .sort();
    assert.deepEqual(norm(await ours.metrics()), norm(await theirs.metrics()));
    assert.ok(!(await ours.metrics()).includes('type="b"'), 'a label value never observed has no series');
  });

  test('request metrics count by method type and status code; unknown methods are INVALID', async () => {
    const before = await metrics.text();
    const base = (s: string) => sample(before, s) ?? 0;
    metrics.requests.done('GET', 200, 0.001);
    metrics.requests.done('GET', 200, 0.002);
    metrics.requests.done('GET', 404, 0.001);
    metrics.requests.done('PATCH', 400, 0.001);
    metrics.requests.done('POST', 201, 0.5);
    const text = await metrics.text();
    assert.equal(sample(text, 'SeaweedFS_volumeServer_request_total{type="GET",code="200"}'), base('SeaweedFS_volumeServer_request_total{type="GET",code="200"}') + 2);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_request_total{type="GET",code="404"}'), 1);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_request_total{type="INVALID",code="400"}'), 1);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_request_total{type="POST",code="201"}'), 1);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_request_seconds_count{type="POST"}'), 1);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_request_seconds_bucket{type="POST",le="0.4096"}'), 0);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_request_seconds_bucket{type="POST",le="0.8192"}'), 1);
    metrics.requests.started('DELETE');
    assert.equal(sample(await metrics.text(), 'SeaweedFS_volumeServer_in_flight_requests{type="DELETE"}'), 1);
    metrics.requests.finished('DELETE');
    assert.equal(sample(await metrics.text(), 'SeaweedFS_volumeServer_in_flight_requests{type="DELETE"}'), 0);
  });

  test('store gauges follow the store: volumes, read-only reasons, sizes, max, resources', async () => {
    let text = await metrics.text();
    assert.equal(sample(text, 'SeaweedFS_volumeServer_max_volumes'), 5);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_concurrent_upload_limit'), 64 * 1024 * 1024);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_concurrent_download_limit'), 0);
    assert.ok(!text.includes('SeaweedFS_volumeServer_volumes{'), 'no volumes, no series');
    assert.ok((sample(text, `SeaweedFS_volumeServer_resource{name="${dir}",type="all"}`) ?? 0) > 0);
    assert.equal(sample(text, `SeaweedFS_volumeServer_disk_error_status{name="${dir}",type="error"}`), 0);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_io_quarantine{kind="volume"}'), 0);
    assert.match(text, /^SeaweedFS_build_info\{version="\d+\.\d+",commit="[^"]+",sizelimit="(30|8000)GB",goos="[a-z]+",goarch="[a-z0-9]+"\} 1$/m);

    for (const id of [1, 2]) await store.allocateVolume({ id, collection: 'pics', replication: '000', ttl: '', preallocate: 0, diskType: '', version: 3 });
    await store.allocateVolume({ id: 3, collection: '', replication: '000', ttl: '', preallocate: 0, diskType: '', version: 3 });
    await store.markVolumeReadonly(2, false, false);
    text = await metrics.text();
    assert.equal(sample(text, 'SeaweedFS_volumeServer_volumes{collection="pics",type="volume"}'), 2);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_volumes{collection="",type="volume"}'), 1);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_read_only_volumes{collection="pics",type="IsReadOnly"}'), 1);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_read_only_volumes{collection="pics",type="noWriteOrDelete"}'), 1);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_read_only_volumes{collection="pics",type="noWriteCanDelete"}'), 0);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_read_only_volumes{collection="pics",type="isDiskSpaceLow"}'), 0);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_read_only_volumes{collection="",type="IsReadOnly"}'), 0);
    // A fresh version-3 volume holds its 8-byte super block.
    assert.equal(sample(text, 'SeaweedFS_volumeServer_total_disk_size{collection="pics",type="normal"}'), 16);
    assert.equal(sample(text, 'SeaweedFS_volumeServer_total_disk_size{collection="pics",type="deleted_bytes"}'), 0);

    await store.deleteCollection('pics');
    text = await metrics.text();
    assert.ok(!text.includes('collection="pics"'), 'a collection that left has no series');
    assert.equal(sample(text, 'SeaweedFS_volumeServer_volumes{collection="",type="volume"}'), 1);
  });

  test('EC shards show once a family reports them to the store', async () => {
    assert.ok(!(await metrics.text()).includes('type="ec_shards"'), 'no EC series without shards');
    const shard = { id: 7, collection: 'ec', disk_type: '', expire_at_sec: 0, disk_id: 0, file_count: 0, delete_count: 0, encode_ts_ns: 0 };
    const contributor = {
      family: 'ec-test',
      ecShards: () => [
        { ...shard, ec_index_bits: 0b1011, shard_sizes: [1000, 1000, '1048'] },
        { ...shard, disk_id: 1, ec_index_bits: 0b10000, shard_sizes: [1048] },
      ],
    };
    await store.contributions.register(contributor);
    try {
      const text = await metrics.text();
      assert.equal(sample(text, 'SeaweedFS_volumeServer_volumes{collection="ec",type="ec_shards"}'), 4);
      assert.equal(sample(text, 'SeaweedFS_volumeServer_total_disk_size{collection="ec",type="ec"}'), 4096);
    } finally {
      store.contributions.unregister('ec-test');
    }
  });

  test("available space is Go's MinFreeSpace.AvailableSpace", () => {
    assert.equal(availableSpace({ kind: 'percent', value: 10 }, 500, 1000), 400);
    assert.equal(availableSpace({ kind: 'percent', value: 60 }, 500, 1000), 0);
    assert.equal(availableSpace({ kind: 'bytes', value: 100 }, 500, 1000), 400);
    assert.equal(availableSpace({ kind: 'percent', value: 1 }, 500, 1001), 490);
  });

  test('the listener serves /metrics (with process metrics) and 404 elsewhere', async () => {
    const listener = new MetricsListener(metrics, pino({ level: 'silent' }));
    const port = await listener.listen('127.0.0.1', 0);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/metrics?x=1`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await r.text();
      assert.match(text, /^# TYPE SeaweedFS_volumeServer_request_total counter$/m);
      assert.match(text, /^process_cpu_seconds_total \d/m);
      assert.match(text, /^process_resident_memory_bytes \d/m);
      const other = await fetch(`http://127.0.0.1:${port}/status`);
      assert.equal(other.status, 404);
      assert.equal(await other.text(), '404 page not found\n');
    } finally {
      await listener.close();
    }
  });

  test('push URLs are built as Go push.New(addr, job).Grouping("instance", ip:port) builds them', () => {
    assert.equal(pushUrl('gw:9091', 'volumeServer', '127.0.0.1:8080').href, 'http://gw:9091/metrics/job/volumeServer/instance/127.0.0.1%3A8080');
    assert.equal(pushUrl('https://gw:9091/', 'volumeServer', 'h:1').href, 'https://gw:9091/metrics/job/volumeServer/instance/h%3A1');
    assert.equal(pushUrl('http://gw/base', 'volumeServer', 'a b').href, 'http://gw/base/metrics/job/volumeServer/instance/a+b');
    assert.equal(pushUrl('gw', 'volumeServer', 'a/b').href, `http://gw/metrics/job/volumeServer/instance@base64/${Buffer.from('a/b').toString('base64url')}`);
    assert.equal(pushUrl('gw', 'volumeServer', '').href, 'http://gw/metrics/job/volumeServer/instance@base64/=');
    assert.throws(() => pushUrl('ftp://gw', 'volumeServer', 'x'), /unsupported push gateway scheme/);
  });

  test('the pusher PUTs the metrics to the gateway again and again until stopped', async () => {
    const gw = new FakeGateway();
    await gw.start();
    const { logger, lines } = capturingLogger();
    const pusher = new MetricsPusher(metrics, logger, '127.0.0.1:8080');
    try {
      pusher.configure(`127.0.0.1:${gw.port}`, 1);
      await gw.received(2);
      pusher.stop();
      const first = gw.requests[0];
      assert.equal(first.method, 'PUT');
      assert.equal(first.url, '/metrics/job/volumeServer/instance/127.0.0.1%3A8080');
      assert.match(first.contentType, /^text\/plain; version=0\.0\.4/);
      assert.match(first.body, /^SeaweedFS_volumeServer_max_volumes 5$/m);
      assert.match(first.body, /^# TYPE SeaweedFS_volumeServer_request_seconds histogram$/m);
      assert.ok(lines.some((l) => l.msg === 'pushing metrics to the gateway' && l.address === `127.0.0.1:${gw.port}` && l.intervalSeconds === 1));
      assert.ok(!lines.some((l) => (l.level as number) >= 40), 'no warnings on success');
    } finally {
      pusher.stop();
      await gw.stop();
    }
  });

  test('a failing gateway is reported once per distinct error, and recovery is noted', async () => {
    const gw = new FakeGateway();
    await gw.start();
    gw.answer = (res) => res.writeHead(500).end('x'.repeat(100_000));
    const { logger, lines } = capturingLogger();
    const pusher = new MetricsPusher(metrics, logger, '127.0.0.1:8080');
    try {
      pusher.configure(`127.0.0.1:${gw.port}`, 1);
      await gw.received(3);
      gw.answer = (res) => res.writeHead(202).end();
      const recovered = gw.requests.length + 2; // the answer of the next push is the 202 one
      await gw.received(recovered);
      pusher.stop();
      const warns = lines.filter((l) => l.level === 40);
      assert.equal(warns.length, 1, JSON.stringify(warns));
      assert.equal(warns[0].err, 'unexpected status code 500');
      assert.ok(lines.some((l) => l.msg === 'metrics push recovered'));
    } finally {
      pusher.stop();
      await gw.stop();
    }
  });

  test('a gateway that never answers costs a bounded wait per push, then the next push goes out', async () => {
    const gw = new FakeGateway();
    await gw.start();
    gw.answer = () => {
      /* never answers */
    };
    const { logger, lines } = capturingLogger();
    const pusher = new MetricsPusher(metrics, logger, '127.0.0.1:8080');
    try {
      pusher.configure(`127.0.0.1:${gw.port}`, 1);
      await gw.received(2);
      pusher.stop();
      const warns = lines.filter((l) => l.level === 40);
      assert.equal(warns.length, 1);
      assert.match(String(warns[0].err), /timed out/);
    } finally {
      pusher.stop();
      await gw.stop();
    }
  });

  test('an empty address or a zero interval turns pushing off', async () => {
    const gw = new FakeGateway();
    await gw.start();
    const { logger } = capturingLogger();
    const pusher = new MetricsPusher(metrics, logger, '127.0.0.1:8080');
    try {
      pusher.configure(`127.0.0.1:${gw.port}/off`, 0);
      pusher.configure('', 5);
      // A later valid announcement starts it; by its second push, a push of the switched-off
      // settings (sent at once if it were sent at all) would have arrived.
      pusher.configure(`127.0.0.1:${gw.port}/on`, 1);
      await gw.received(2);
      pusher.stop();
      assert.deepEqual(
        gw.requests.map((r) => r.url.split('/')[1]),
        ['on', 'on'],
      );
    } finally {
      pusher.stop();
      await gw.stop();
    }
  });
});
