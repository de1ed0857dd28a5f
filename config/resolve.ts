// Derived values: everything Go's `weed volume` computes from its flags after parsing (ports, ip and id
// defaults, per-dir lists, tags, timeouts, masters), with the same validation rules.

import { availableParallelism } from 'node:os';
import { ConfigError } from './errors.js';
import { valueAt } from './schema.js';
import type { MinFreeSpace, PluginFamily, ReadMode, ServerConfig } from './types.js';
import { PLUGIN_FAMILIES } from './types.js';
import {
  detectHostAddress,
  expandHome,
  joinHostPort,
  parseGoDuration,
  parseMinFreeSpace,
  parseTagGroups,
  splitList,
} from './values.js';
import { checkedWhiteList } from './whitelist.js';

const INDEX_KINDS = new Set(['memory', 'leveldb', 'leveldbMedium', 'leveldbLarge']);
const LOG_LEVELS = ['info', 'info', 'debug', 'debug', 'trace'];

export interface ResolveOptions {
  /** Address used when -ip is empty (default: detectHostAddress()). */
  detectIp?: () => string;
  home?: string;
}

/** -readMode: Go serves `local` and `proxy` as such and everything else as a redirect. */
export function toReadMode(mode: string): ReadMode {
  return mode === 'local' || mode === 'proxy' ? mode : 'redirect';
}

/** -v level → pino level. */
export function toLogLevel(verbosity: number): string {
  return LOG_LEVELS[Math.min(Math.max(verbosity, 0), LOG_LEVELS.length - 1)];
}

/** Disk type as Go's ToDiskType: lower-cased, 'hdd' (and '') → ''. */
export function toDiskType(text: string): string {
  const t = text.trim().toLowerCase();
  return t === 'hdd' ? '' : t;
}

function invalidFlag(name: string, value: string, reason: string): ConfigError {
  return new ConfigError(`invalid value ${JSON.stringify(value)} for flag -${name}: ${reason}`);
}

/** A per-dir list with one value replicated to every dir; any count other than 1 or dirCount is fatal. */
function perDir<T>(flag: string, text: string, items: T[], dirCount: number): T[] {
  if (items.length === 1) return Array.from({ length: dirCount }, () => items[0]);
  if (items.length !== dirCount) {
    const want = dirCount === 1 ? '1' : `1 or ${dirCount}`;
    throw invalidFlag(flag, text, `${items.length} values but -dir has ${dirCount} entries (must be ${want})`);
  }
  return items;
}

/** -workers: 0 = one per core; more than 64 threads only costs memory, so it is refused. */
function workerCount(n: number): number {
  if (n < 0 || n > 64) throw invalidFlag('workers', String(n), 'want 0 (one per core) to 64');
  return n === 0 ? Math.max(1, availableParallelism()) : n;
}

function toLogFormat(v: string): '' | 'text' | 'json' {
  if (v === '' || v === 'text' || v === 'json') return v;
  throw invalidFlag('logFormat', v, 'want text or json');
}

/** Builds the ServerConfig (without `security`) from the layered flag values (convict properties). */
export function resolveServerConfig(
  props: Record<string, unknown>,
  opts: ResolveOptions = {},
): Omit<ServerConfig, 'security'> {
  const str = (key: string) => valueAt(props, key) as string;
  const num = (key: string) => valueAt(props, key) as number;
  const bool = (key: string) => valueAt(props, key) as boolean;

  const port = num('port');
  const ip = str('ip') !== '' ? str('ip') : (opts.detectIp ?? detectHostAddress)();
  const bindIp = str('ipBind') !== '' ? str('ipBind') : ip;
  const publicPort = num('portPublic') !== 0 ? num('portPublic') : port;
  const grpcPort = num('portGrpc') !== 0 ? num('portGrpc') : port + 10000;
  if (grpcPort > 65535) {
    throw invalidFlag('port', String(port), `derived gRPC port ${grpcPort} exceeds 65535; set -port.grpc`);
  }
  const id = str('id').trim() !== '' ? str('id').trim() : joinHostPort(ip, port);
  const publicUrl = str('publicUrl') !== '' ? str('publicUrl') : joinHostPort(ip, publicPort);

  const masterText = str('mserver') !== '' ? str('mserver') : str('master');
  const masters = splitList(masterText);

  const dirText = str('dir');
  const dirs = dirText.split(',').map((d) => expandHome(d.trim(), opts.home));
  if (dirs.some((d) => d === '')) throw invalidFlag('dir', dirText, 'empty directory in the list');

  const maxText = str('max');
  const maxCounts = perDir(
    'max',
    maxText,
    maxText.split(',').map((m) => {
      if (!/^[+-]?[0-9]+$/.test(m.trim())) {
        throw invalidFlag('max', maxText, `${JSON.stringify(m)} is not a valid number`);
      }
      return Number(m.trim());
    }),
    dirs.length,
  );

  const minFreeFlag = str('minFreeSpace') !== '' ? 'minFreeSpace' : 'minFreeSpacePercent';
  const minFreeText = str(minFreeFlag);
  const minFreeSpace = perDir<MinFreeSpace>(
    minFreeFlag,
    minFreeText,
    minFreeText.split(',').map((entry) => {
      try {
        return parseMinFreeSpace(entry);
      } catch (err) {
        const which = entry === minFreeText ? '' : ` in entry ${JSON.stringify(entry)}`;
        throw invalidFlag(
          minFreeFlag,
          minFreeText,
          `${(err as Error).message}${which}: want a percentage 0..100 or a size above 100 bytes such as 10GiB`,
        );
      }
    }),
    dirs.length,
  );

  const diskText = str('disk');
  const diskTypes = perDir('disk', diskText, diskText.split(',').map(toDiskType), dirs.length);

  const tags = parseTagGroups(str('tags'), dirs.length);

  const timeoutMs = (key: string, flag: string) => {
    try {
      return parseGoDuration(str(key));
    } catch (err) {
      throw invalidFlag(flag, str(key), (err as Error).message);
    }
  };

  const plugins = {} as Record<PluginFamily, { enabled: boolean }>;
  for (const family of PLUGIN_FAMILIES) plugins[family] = { enabled: bool(`plugins.${family}.enabled`) };

  return {
    port,
    grpcPort,
    publicPort,
    ip,
    bindIp,
    listenOnLocalhost: str('ipBind') === '',
    id,
    publicUrl,
    masters,
    dataCenter: str('dataCenter'),
    rack: str('rack'),
    dirs,
    maxCounts,
    diskTypes,
    minFreeSpace,
    idxDir: expandHome(str('dirIdx'), opts.home),
    tags,
    index: INDEX_KINDS.has(str('index')) ? str('index') : 'memory',
    readMode: toReadMode(str('readMode')),
    fileSizeLimitMB: num('fileSizeLimitMB'),
    concurrentUploadLimitMB: num('concurrentUploadLimitMB'),
    concurrentDownloadLimitMB: num('concurrentDownloadLimitMB'),
    inflightUploadDataTimeoutMs: timeoutMs('inflightUploadDataTimeout', 'inflightUploadDataTimeout'),
    inflightDownloadDataTimeoutMs: timeoutMs('inflightDownloadDataTimeout', 'inflightDownloadDataTimeout'),
    preStopSeconds: num('preStopSeconds'),
    idleTimeoutSeconds: num('idleTimeout'),
    compactionMBps: num('compactionMBps'),
    maintenanceMBps: num('maintenanceMBps'),
    whiteList: checkedWhiteList(splitList(str('whiteList')), '-whiteList'),
    metricsPort: num('metricsPort'),
    metricsIp: str('metricsIp') !== '' ? str('metricsIp') : bindIp,
    hasSlowRead: bool('hasSlowRead'),
    readBufferSizeMB: num('readBufferSizeMB'),
    allowUntrustedRemoteEndpoints: bool('allowUntrustedRemoteEndpoints'),
    imagesFixOrientation: bool('imagesFixOrientation'),
    offsetBytes: num('offsetBytes') as 4 | 5,
    fastPath: bool('fastPath'),
    workers: workerCount(num('workers')),
    configDir: expandHome(str('configDir'), opts.home),
    securityFile: str('securityFile'),
    logFormat: toLogFormat(str('logFormat')),
    logLevel: toLogLevel(num('v')),
    plugins,
  };
}
