// The volume server's Prometheus metrics under the Go server's names, labels and buckets
// (weed/stats/metrics.go, namespace "SeaweedFS", subsystem "volumeServer"), in a registry of our
// own so nothing else in the process leaks into the scrape. Grafana dashboards written for the Go
// server query these names unchanged.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ServerConfig } from '../../config/types.js';
import type { Store } from '../storage/store.js';
import { IMPLEMENTATION_TAG, SEAWEED_COMPAT_VERSION, sizeLimitLabel } from '../version.js';
import { RequestMetrics } from './request-metrics.js';
import { collectStoreGauges, ecShardTotals, type EcShardSource } from './store-gauges.js';

const PREFIX = 'SeaweedFS_volumeServer_';
const MB = 1024 * 1024;

/** Go's prometheus.ExponentialBuckets: start, then each bound `factor` times the previous. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, b = start; i < count; i++, b *= factor) out.push(b);
  return out;
}

/** The buckets Go uses for request, vacuum and replication durations (seconds). */
export const DURATION_BUCKETS = exponentialBuckets(0.0001, 2, 24);

/** Go's GOARCH spelling of node's process.arch, for the build_info labels. */
function goArch(arch: string): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[arch] ?? arch;
}

export interface MetricsDeps {
  config: ServerConfig;
  store: Store;
}

export class VolumeServerMetrics {
  readonly registry = new Registry();
  readonly requests: RequestMetrics;

  // Set by the parts of the server that own the event (Go updates them from the same places).
  readonly handlerTotal: Counter<'type'>;
  readonly vacuumingCompactCount: Counter<'success'>;
  readonly vacuumingCommitCount: Counter<'success'>;
  readonly vacuumingSeconds: Histogram<'type'>;
  readonly storageIoErrorTotal: Counter;
  readonly inFlightDownloadSize: Gauge;
  readonly inFlightUploadSize: Gauge;
  /** Where the in-flight byte gauges read from at scrape time; the family owning the limiters sets them. */
  readonly inFlightBytes: { upload: () => number; download: () => number } = { upload: () => 0, download: () => 0 };
  readonly masterDisconnections: Counter<'address'>;
  readonly fileReadFailures: Counter;
  readonly fileReadInvalidNeedles: Counter;
  readonly fileWriteFailures: Counter;
  readonly scrubLastTimeSeconds: Gauge<'mode'>;
  readonly scrubVolumeFailures: Counter<'mode'>;
  readonly scrubShardFailures: Counter<'mode'>;
  readonly replicationOperationsTotal: Counter<'operation' | 'result'>;
  readonly replicationSeconds: Histogram<'operation'>;
  readonly replicationTargets: Histogram;
  readonly replicationFailuresTotal: Counter<'operation' | 'reason'>;
  readonly ecRebuildSeconds: Histogram<'result'>;
  readonly ecRebuildTotal: Counter<'result'>;
  readonly ecReconstructedIntervalTotal: Counter<'result'>;

  /** EC shards as the families report them to the store; none mounted = no ec series, as in Go. */
  ecShards: EcShardSource;

  private defaultMetricsOn = false;

  constructor({ config, store }: MetricsDeps) {
    this.ecShards = () => ecShardTotals(store.contributions.ecShards());
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name: PREFIX + name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (this: Gauge<L>) => void) =>
      new Gauge<L>({ name: PREFIX + name, help, labelNames, registers, ...(collect ? { collect } : {}) });
    const histogram = <L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
      new Histogram<L>({ name: PREFIX + name, help, buckets, labelNames, registers });

    const buildInfo = new Gauge({
      name: 'SeaweedFS_build_info',
      help: "A metric with a constant '1' value labeled by version, commit, sizelimit, goos, and goarch from which SeaweedFS was built.",
      labelNames: ['version', 'commit', 'sizelimit', 'goos', 'goarch'],
      registers,
    });
    buildInfo.labels(SEAWEED_COMPAT_VERSION, IMPLEMENTATION_TAG, sizeLimitLabel(config.offsetBytes), process.platform, goArch(process.arch)).set(1);

    // weed/server/volume_server.go NewVolumeServer sets these once at start.
    gauge('start_time_seconds', 'Start time of the volume server, as seconds since UNIX epoch.').set(Math.floor(Date.now() / 1000));
    gauge('concurrent_download_limit', 'Limit total concurrent download size.').set(config.concurrentDownloadLimitMB * MB);
    gauge('concurrent_upload_limit', 'Limit total concurrent upload size.').set(config.concurrentUploadLimitMB * MB);

    this.requests = new RequestMetrics(this.registry, PREFIX, DURATION_BUCKETS);
    this.handlerTotal = counter('handler_total', 'Counter of volume server handlers.', ['type']);
    this.vacuumingCompactCount = counter('vacuuming_compact_count', 'Counter of volume vacuuming Compact counter', ['success']);
    this.vacuumingCommitCount = counter('vacuuming_commit_count', 'Counter of volume vacuuming commit counter', ['success']);
    this.vacuumingSeconds = histogram('vacuuming_seconds', 'Bucketed histogram of volume server vacuuming processing time.', DURATION_BUCKETS, ['type']);

    // Gauges Go sets while building each heartbeat (weed/storage/store.go CollectHeartbeat,
    // disk_location.go CheckDiskSpace) are computed from the store at scrape time here, so they
    // are always current and cost nothing between scrapes.
    const storeGauges = collectStoreGauges(store, () => this.ecShards());
    gauge('volumes', 'Number of volumes or shards.', ['collection', 'type'], function () {
      storeGauges.volumes(this);
    });
    gauge('read_only_volumes', 'Number of read only volumes.', ['collection', 'type'], function () {
      storeGauges.readOnlyVolumes(this);
    });
    gauge('max_volumes', 'Maximum number of volumes.', [], function () {
      storeGauges.maxVolumes(this);
    });
    gauge('total_disk_size', 'Actual disk size used by volumes.', ['collection', 'type'], function () {
      storeGauges.diskSizes(this);
    });
    gauge('resource', 'Resource usage', ['name', 'type'], function () {
      storeGauges.resources(this);
    });
    gauge('disk_error_status', 'Disk error status', ['name', 'type'], function () {
      storeGauges.diskErrors(this);
    });
    this.storageIoErrorTotal = counter('storage_io_error_total', 'Counter of storage read/write EIO errors on volumes and EC shards.');
    // No IO quarantine here yet: both kinds report 0, as Go does with nothing quarantined.
    const quarantine = gauge('io_quarantine', 'Number of volumes or EC shards quarantined due to storage IO errors.', ['kind']);
    quarantine.labels('volume').set(0);
    quarantine.labels('ec_shard').set(0);
    const inFlight = this.inFlightBytes;
    this.inFlightDownloadSize = gauge('in_flight_download_size', 'In flight total download size.', [], function () {
      this.set(inFlight.download());
    });
    this.inFlightUploadSize = gauge('in_flight_upload_size', 'In flight total upload size.', [], function () {
      this.set(inFlight.upload());
    });
    this.masterDisconnections = counter('master_disconnections', 'Number of master server disconnections.', ['address']);
    this.fileReadFailures = counter('file_read_failures', 'Counter of overall failed file read requests from clients.');
    this.fileReadInvalidNeedles = counter('file_read_invalid_needles', 'Counter of failed file read requests due to invalid needle IDs from clients.');
    this.fileWriteFailures = counter('file_write_failures', 'Counter of overall failed file write requests from clients.');
    this.scrubLastTimeSeconds = gauge('scrub_last_time_seconds', 'Last scrub execution time, as seconds since UNIX epoch.', ['mode']);
    this.scrubVolumeFailures = counter('scrub_volume_failures', 'Counter of overall volumes with issues detected during scrubbing.', ['mode']);
    this.scrubShardFailures = counter('scrub_shard_failures', 'Counter of overall EC shards with issues detected during scrubbing.', ['mode']);
    this.replicationOperationsTotal = counter(
      'replication_operations_total',
      'Counter of replication operations by type (write, delete) and result (success, failure).',
      ['operation', 'result'],
    );
    this.replicationSeconds = histogram(
      'replication_seconds',
      'Bucketed histogram of replication operation duration in seconds.',
      DURATION_BUCKETS,
      ['operation'],
    );
    this.replicationTargets = histogram('replication_targets', 'Histogram of replica targets count per replication operation.', [1, 2, 3, 4, 5]);
    this.replicationFailuresTotal = counter(
      'replication_failures_total',
      'Counter of replication failures by operation and reason (timeout, connection_refused, context_cancelled, server_error).',
      ['operation', 'reason'],
    );
    this.ecRebuildSeconds = histogram(
      'ec_rebuild_seconds',
      'Bucketed histogram of EC shard rebuild/reconstruct duration by result.',
      exponentialBuckets(0.01, 2, 20),
      ['result'],
    );
    this.ecRebuildTotal = counter('ec_rebuild_total', 'Counter of EC shard rebuild operations by result.', ['result']);
    this.ecReconstructedIntervalTotal = counter(
      'ec_reconstructed_interval_total',
      'Reads of an EC interval served by reconstructing from other shards; success means reconstruction produced data, not that the needle passed validation.',
      ['result'],
    );
  }

  /**
   * process_* and nodejs_* metrics (Go exports process_* and go_*). Started only once something
   * reads metrics (listener or push), because the event-loop monitor behind them keeps a timer.
   */
  enableDefaultMetrics(): void {
    if (this.defaultMetricsOn) return;
    this.defaultMetricsOn = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text of everything registered. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
