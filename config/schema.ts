// The flag table of `weed volume` (plus Go's global flags and this server's own additions) and the
// convict schema built from it. Defaults are those of the Go volume server.
//
// A flag name is what is typed on the command line (`port.grpc`); its `key` is the convict path
// (`portGrpc`), which is also the key to use in a JSON config file (`--config file.json`). Flag names
// with dots cannot be convict paths because `port` and `port.grpc` would collide.

import os from 'node:os';

import convict from 'convict';

import { PLUGIN_FAMILIES } from './types.js';
import { parseGoDuration } from './values.js';

export type FlagKind =
  | 'int' // Go int: any integer literal
  | 'uint' // Go uint64: non-negative integer
  | 'port' // integer 0..65535
  | 'string'
  | 'bool'
  | 'duration' // Go duration literal, kept as text and converted when resolving
  | 'offset' // 4 or 5
  | 'verbosity'; // glog -v: non-negative integer

export interface FlagDef {
  /** Name on the command line, without dashes. */
  name: string;
  /** Convict path (and JSON config file key). */
  key: string;
  kind: FlagKind;
  default: number | string | boolean;
  /** Environment variables consulted in order when the flag is not on the command line. */
  env: string[];
  doc: string;
  /** Go global flag (given before the `volume` word in Go); accepted anywhere here. */
  global?: boolean;
  /** Accepted for compatibility and otherwise ignored. */
  ignored?: boolean;
  /** Text shown instead of the default in usage (for computed defaults). */
  defaultText?: string;
}

/** Go's env name for a sub-command flag: upper case, `.` and `-` → `_`, no prefix. */
export function envNameOf(flagName: string): string {
  return flagName.toUpperCase().replace(/[.-]/g, '_');
}

type Spec = Omit<FlagDef, 'key' | 'env'> & { key?: string; env?: string[] };

function volumeFlag(spec: Spec): FlagDef {
  return { ...spec, key: spec.key ?? spec.name, env: spec.env ?? [envNameOf(spec.name)] };
}

function globalFlag(spec: Spec): FlagDef {
  return { ...spec, global: true, key: spec.key ?? spec.name, env: spec.env ?? [`WEED_${envNameOf(spec.name)}`] };
}

const VOLUME_FLAGS: FlagDef[] = [
  volumeFlag({ name: 'port', kind: 'port', default: 8080, doc: 'http listen port' }),
  volumeFlag({
    name: 'port.grpc',
    key: 'portGrpc',
    kind: 'port',
    default: 0,
    doc: 'grpc listen port (0 = port+10000)',
  }),
  volumeFlag({
    name: 'port.public',
    key: 'portPublic',
    kind: 'port',
    default: 0,
    doc: 'port opened to public (0 = same as -port)',
  }),
  volumeFlag({
    name: 'ip',
    kind: 'string',
    default: '',
    defaultText: 'detected address',
    doc: 'ip or server name, also used as identifier',
  }),
  volumeFlag({ name: 'ip.bind', key: 'ipBind', kind: 'string', default: '', doc: 'ip address to bind to (empty = -ip)' }),
  volumeFlag({
    name: 'logFormat',
    kind: 'string',
    default: '',
    defaultText: 'text on a terminal, json otherwise',
    doc: '[text|json] log lines: one readable line per event, or JSON lines',
  }),
  volumeFlag({ name: 'id', kind: 'string', default: '', doc: 'volume server id (empty = ip:port)' }),
  volumeFlag({ name: 'publicUrl', kind: 'string', default: '', doc: 'publicly accessible address (empty = ip:port.public)' }),
  volumeFlag({ name: 'master', kind: 'string', default: 'localhost:9333', doc: 'comma-separated master servers' }),
  volumeFlag({ name: 'mserver', kind: 'string', default: '', doc: 'deprecated alias of -master (overrides it when set)' }),
  volumeFlag({
    name: 'preStopSeconds',
    kind: 'int',
    default: 10,
    doc: 'seconds between stopping heartbeats and stopping the server',
  }),
  volumeFlag({ name: 'idleTimeout', kind: 'int', default: 30, doc: 'connection idle seconds' }),
  volumeFlag({ name: 'dataCenter', kind: 'string', default: '', doc: "current volume server's data center name" }),
  volumeFlag({ name: 'rack', kind: 'string', default: '', doc: "current volume server's rack name" }),
  volumeFlag({
    name: 'index',
    kind: 'string',
    default: 'memory',
    doc: '[memory|leveldb|leveldbMedium|leveldbLarge] needle map kind',
  }),
  volumeFlag({ name: 'disk', kind: 'string', default: '', doc: '[hdd|ssd|<tag>] disk type per dir, comma list or one for all' }),
  volumeFlag({
    name: 'tags',
    kind: 'string',
    default: '',
    doc: "comma-separated tag groups per data dir; tags in a group separated by ':' (e.g. fast:ssd,archive)",
  }),
  volumeFlag({
    name: 'images.fix.orientation',
    key: 'imagesFixOrientation',
    kind: 'bool',
    default: false,
    doc: 'adjust jpg orientation when uploading',
  }),
  volumeFlag({
    name: 'readMode',
    kind: 'string',
    default: 'proxy',
    doc: '[local|proxy|redirect] how to deal with non-local volumes (other values mean redirect)',
  }),
  volumeFlag({ name: 'cpuprofile', kind: 'string', default: '', doc: 'cpu profile output file' }),
  volumeFlag({ name: 'memprofile', kind: 'string', default: '', doc: 'memory profile output file' }),
  volumeFlag({ name: 'compactionMBps', kind: 'int', default: 0, doc: 'limit compaction/copy speed in MB/s (0 = unlimited)' }),
  volumeFlag({
    name: 'maintenanceMBps',
    kind: 'int',
    default: 0,
    doc: 'limit maintenance (replication / balance) IO rate in MB/s (0 = unlimited)',
  }),
  volumeFlag({ name: 'fileSizeLimitMB', kind: 'int', default: 256, doc: 'limit file size to avoid out of memory' }),
  volumeFlag({
    name: 'index.leveldbTimeout',
    key: 'indexLeveldbTimeout',
    kind: 'int',
    default: 0,
    doc: 'hours of idleness after which a leveldb index is unloaded (0 = never)',
  }),
  volumeFlag({
    name: 'concurrentUploadLimitMB',
    kind: 'int',
    default: 0,
    doc: 'limit total concurrent upload size (0 = unlimited)',
  }),
  volumeFlag({
    name: 'concurrentDownloadLimitMB',
    kind: 'int',
    default: 0,
    doc: 'limit total concurrent download size (0 = unlimited)',
  }),
  volumeFlag({ name: 'pprof', kind: 'bool', default: false, doc: 'enable pprof http handlers' }),
  volumeFlag({ name: 'metricsPort', kind: 'port', default: 0, doc: 'Prometheus metrics listen port (0 = off)' }),
  volumeFlag({ name: 'metricsIp', kind: 'string', default: '', doc: 'metrics listen ip (empty = -ip.bind, else -ip)' }),
  volumeFlag({
    name: 'dir',
    kind: 'string',
    default: os.tmpdir(),
    doc: 'directories to store data files, dir[,dir]...',
  }),
  volumeFlag({ name: 'dir.idx', key: 'dirIdx', kind: 'string', default: '', doc: 'directory to store .idx files' }),
  volumeFlag({
    name: 'max',
    kind: 'string',
    default: '8',
    doc: 'maximum numbers of volumes, count[,count]... (0 = auto from free space)',
  }),
  volumeFlag({
    name: 'whiteList',
    kind: 'string',
    default: '',
    doc: 'comma separated ip addresses having write permission (empty = no limit)',
  }),
  volumeFlag({
    name: 'minFreeSpacePercent',
    kind: 'string',
    default: '1',
    doc: 'minimum free disk space percent (deprecated, use -minFreeSpace)',
  }),
  volumeFlag({
    name: 'minFreeSpace',
    kind: 'string',
    default: '',
    doc: 'min free disk space per dir: a number <= 100 is a percentage, else a size like 10GiB',
  }),
  volumeFlag({
    name: 'inflightUploadDataTimeout',
    kind: 'duration',
    default: '1m0s',
    doc: 'inflight upload data wait timeout',
  }),
  volumeFlag({
    name: 'inflightDownloadDataTimeout',
    kind: 'duration',
    default: '1m0s',
    doc: 'inflight download data wait timeout',
  }),
  volumeFlag({ name: 'hasSlowRead', kind: 'bool', default: true, doc: 'prevent slow reads from blocking other requests' }),
  volumeFlag({ name: 'readBufferSizeMB', kind: 'int', default: 4, doc: 'chunk size of streamed reads in MB' }),
  volumeFlag({
    name: 'volume.allowUntrustedRemoteEndpoints',
    key: 'allowUntrustedRemoteEndpoints',
    kind: 'bool',
    default: false,
    doc: 'let FetchAndWriteNeedle reach loopback / link-local endpoints',
  }),
  volumeFlag({ name: 'debug', kind: 'bool', default: false, doc: 'serve profiling data on -debug.port' }),
  volumeFlag({ name: 'debug.port', key: 'debugPort', kind: 'port', default: 6060, doc: 'http port for debugging' }),
  volumeFlag({ name: 'options', kind: 'string', default: '', doc: 'a file of command line options, one name=value a line' }),
  // Go flags with no counterpart here: accepted so Go command lines keep working.
  volumeFlag({
    name: 'compactionMaxParallelCommits',
    kind: 'int',
    default: 0,
    ignored: true,
    doc: 'limit concurrent vacuum commits (accepted, ignored)',
  }),
  volumeFlag({
    name: 'fsyncMinBatchBytes',
    kind: 'int',
    default: 1048576,
    ignored: true,
    doc: 'fsync batch minimum bytes (accepted, ignored)',
  }),
  volumeFlag({
    name: 'fsyncMinBatchRequests',
    kind: 'int',
    default: 128,
    ignored: true,
    doc: 'fsync batch minimum requests (accepted, ignored)',
  }),
  volumeFlag({
    name: 'fsyncBatchWait',
    kind: 'duration',
    default: '500µs',
    ignored: true,
    doc: 'fsync batch wait (accepted, ignored)',
  }),
  // Additions of this server.
  volumeFlag({
    name: 'securityFile',
    kind: 'string',
    default: '',
    doc: 'explicit security.toml (empty = search -config_dir, ., ~/.seaweedfs, /usr/local/etc/seaweedfs, /etc/seaweedfs)',
  }),
  volumeFlag({
    name: 'offsetBytes',
    kind: 'offset',
    default: 4,
    env: ['OFFSETBYTES', 'WEED_OFFSET_BYTES'],
    doc: 'needle offset width in .idx/.ecx entries: 4, or 5 as the Go 5BytesOffset build',
  }),
  volumeFlag({
    name: 'fastPath',
    kind: 'bool',
    default: true,
    doc: 'answer small plain reads and uploads without the routed handlers (false: every request is routed; answers are the same)',
  }),
  volumeFlag({
    name: 'workers',
    kind: 'int',
    default: 1,
    env: ['WORKERS'],
    doc: 'HTTP threads: 1 = the main thread serves HTTP; N ≥ 2 = N worker threads share the ports and ask the main thread for volume work (0 = one per core)',
  }),
  volumeFlag({
    name: 'config',
    kind: 'string',
    default: '',
    env: ['WEED_VOLUME_CONFIG'],
    doc: 'JSON config file; its keys are the flag names, or the config key shown where one differs',
  }),
  ...PLUGIN_FAMILIES.map((family) =>
    volumeFlag({
      name: `plugins.${family}.enabled`,
      kind: 'bool',
      default: true,
      env: [`WEED_${envNameOf(`plugins.${family}.enabled`)}`, envNameOf(`plugins.${family}.enabled`)],
      doc: `enable the ${family} plugin family`,
    }),
  ),
];

const GLOBAL_FLAGS: FlagDef[] = [
  globalFlag({ name: 'config_dir', key: 'configDir', kind: 'string', default: '', doc: 'directory with toml configuration files' }),
  globalFlag({ name: 'v', kind: 'verbosity', default: 0, doc: 'log levels [0|1|2|3|4]' }),
  globalFlag({ name: 'logtostderr', kind: 'bool', default: false, ignored: true, doc: 'log to standard error instead of files' }),
  globalFlag({ name: 'alsologtostderr', kind: 'bool', default: true, ignored: true, doc: 'log to standard error as well as files' }),
  globalFlag({ name: 'logdir', kind: 'string', default: '', ignored: true, doc: 'log file directory' }),
  globalFlag({ name: 'stderrthreshold', kind: 'string', default: '', ignored: true, doc: 'logs at or above this threshold go to stderr' }),
  globalFlag({ name: 'vmodule', kind: 'string', default: '', ignored: true, doc: 'comma-separated list of pattern=N settings' }),
  globalFlag({
    name: 'log_backtrace_at',
    key: 'logBacktraceAt',
    kind: 'string',
    default: '',
    ignored: true,
    doc: 'emit a stack trace when logging hits line file:N',
  }),
  globalFlag({ name: 'log_max_size_mb', key: 'logMaxSizeMb', kind: 'uint', default: 1800, ignored: true, doc: 'log file rotation size in MB' }),
  globalFlag({ name: 'log_max_files', key: 'logMaxFiles', kind: 'int', default: 5, ignored: true, doc: 'log files kept per severity' }),
  globalFlag({ name: 'log_rotate_hours', key: 'logRotateHours', kind: 'int', default: 168, ignored: true, doc: 'log rotation hours' }),
  globalFlag({ name: 'log_json', key: 'logJson', kind: 'bool', default: false, ignored: true, doc: 'JSON log output' }),
  globalFlag({ name: 'log_compress', key: 'logCompress', kind: 'bool', default: false, ignored: true, doc: 'gzip rotated log files' }),
];

export const FLAGS: readonly FlagDef[] = [...GLOBAL_FLAGS, ...VOLUME_FLAGS];

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

export function flagByName(name: string): FlagDef | undefined {
  return BY_NAME.get(name);
}

let formatsRegistered = false;

function registerFormats(): void {
  if (formatsRegistered) return;
  formatsRegistered = true;
  convict.addFormat({
    name: 'weed-go-duration',
    validate(value: unknown) {
      if (typeof value !== 'string') throw new Error('must be a Go duration string such as "1m30s"');
      parseGoDuration(value);
    },
  });
  convict.addFormat({
    name: 'weed-uint',
    validate(value: unknown) {
      if (!Number.isSafeInteger(value) || (value as number) < 0) throw new Error('must be a non-negative integer');
    },
  });
}

function formatOf(kind: FlagKind): convict.SchemaObj['format'] {
  switch (kind) {
    case 'int':
      return 'int';
    case 'uint':
    case 'verbosity':
      return 'weed-uint';
    case 'port':
      return 'port';
    case 'string':
      return String;
    case 'bool':
      return Boolean;
    case 'duration':
      return 'weed-go-duration';
    case 'offset':
      return [4, 5];
  }
}

/** The convict schema: one nested entry per flag key. */
export function buildSchema(): Record<string, unknown> {
  registerFormats();
  const schema: Record<string, unknown> = {};
  for (const flag of FLAGS) {
    const parts = flag.key.split('.');
    let node = schema;
    for (const part of parts.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = {
      doc: flag.doc,
      format: formatOf(flag.kind),
      default: flag.default,
    };
  }
  return schema;
}

/** Value of a flag key in the nested object convict produces. */
export function valueAt(props: Record<string, unknown>, key: string): unknown {
  let node: unknown = props;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
