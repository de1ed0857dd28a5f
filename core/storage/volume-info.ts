// The .vif file: volume_server_pb.VolumeInfo as protobuf JSON (Go: weed/storage/volume_info/volume_info.go), written the
// way Go's protojson does with EmitUnpopulated and a two-space indent (64-bit integers as strings,
// absent messages as null), read leniently (camelCase or snake_case names, 64-bit values as
// strings or numbers, the OldVersionVolumeInfo names). Fields this code does not know are kept
// and written back after the known ones, so a rewrite never drops information.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { VolumeInfoError } from './storage-errors.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface RemoteFile {
  backendType: string;
  backendId: string;
  key: string;
  offset: number;
  fileSize: number;
  /** Unix seconds. */
  modifiedTime: number;
  extension: string;
  /** Unknown fields, kept verbatim. */
  unknown?: Record<string, Json>;
}

export interface EcShardConfig {
  dataShards: number;
  parityShards: number;
  /** Unix nanoseconds (int64; beyond 2^53, hence bigint). */
  encodeTsNs: bigint;
  unknown?: Record<string, Json>;
}

export interface VolumeInfo {
  files: RemoteFile[];
  version: number;
  replication: string;
  bytesOffset: number;
  datFileSize: number;
  expireAtSec: number;
  readOnly: boolean;
  ecShardConfig: EcShardConfig | null;
  readOnlyCanDelete: boolean;
  /** Unknown top-level fields, kept verbatim (in file order). */
  unknown?: Record<string, Json>;
}

export function emptyVolumeInfo(): VolumeInfo {
  return {
    files: [],
    version: 0,
    replication: '',
    bytesOffset: 0,
    datFileSize: 0,
    expireAtSec: 0,
    readOnly: false,
    ecShardConfig: null,
    readOnlyCanDelete: false,
  };
}

// ------------------------------------------------------------------ parsing

type FieldKind = 'u32' | 'i64' | 'u64' | 'string' | 'bool';

function parseScalar(v: Json, kind: FieldKind, field: string): number | string | boolean | bigint {
  if (v === null) return kind === 'string' ? '' : kind === 'bool' ? false : kind === 'i64' || kind === 'u64' ? 0 : 0;
  switch (kind) {
    case 'string':
      if (typeof v !== 'string') throw new VolumeInfoError(`invalid value for string field ${field}: ${JSON.stringify(v)}`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw new VolumeInfoError(`invalid value for bool field ${field}: ${JSON.stringify(v)}`);
      return v;
    default: {
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string' && /^-?[0-9]+(\.0*)?([eE][+-]?[0-9]+)?$/.test(v.trim())) n = Number(v);
      else throw new VolumeInfoError(`invalid value for ${kind} field ${field}: ${JSON.stringify(v)}`);
      if (!Number.isFinite(n) || !Number.isInteger(n) || ((kind === 'u32' || kind === 'u64') && n < 0)) {
        throw new VolumeInfoError(`invalid value for ${kind} field ${field}: ${JSON.stringify(v)}`);
      }
      return n;
    }
  }
}

function parseBigInt(v: Json, field: string): bigint {
  if (v === null) return 0n;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?[0-9]+$/.test(v.trim())) return BigInt(v.trim());
  throw new VolumeInfoError(`invalid value for int64 field ${field}: ${JSON.stringify(v)}`);
}

function isObject(v: Json): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** name aliases → canonical json name */
const VI_ALIASES: Record<string, string> = {
  files: 'files',
  version: 'version',
  replication: 'replication',
  bytesOffset: 'bytesOffset',
  bytes_offset: 'bytesOffset',
  BytesOffset: 'bytesOffset',
  datFileSize: 'datFileSize',
  dat_file_size: 'datFileSize',
  expireAtSec: 'expireAtSec',
  expire_at_sec: 'expireAtSec',
  DestroyTime: 'expireAtSec',
  readOnly: 'readOnly',
  read_only: 'readOnly',
  ecShardConfig: 'ecShardConfig',
  ec_shard_config: 'ecShardConfig',
  readOnlyCanDelete: 'readOnlyCanDelete',
  read_only_can_delete: 'readOnlyCanDelete',
};

const RF_ALIASES: Record<string, string> = {
  backendType: 'backendType',
  backend_type: 'backendType',
  backendId: 'backendId',
  backend_id: 'backendId',
  key: 'key',
  offset: 'offset',
  fileSize: 'fileSize',
  file_size: 'fileSize',
  modifiedTime: 'modifiedTime',
  modified_time: 'modifiedTime',
  extension: 'extension',
};

const EC_ALIASES: Record<string, string> = {
  dataShards: 'dataShards',
  data_shards: 'dataShards',
  parityShards: 'parityShards',
  parity_shards: 'parityShards',
  encodeTsNs: 'encodeTsNs',
  encode_ts_ns: 'encodeTsNs',
};

function parseRemoteFile(o: Json): RemoteFile {
  if (!isObject(o)) throw new VolumeInfoError('invalid RemoteFile entry in files');
  const rf: RemoteFile = { backendType: '', backendId: '', key: '', offset: 0, fileSize: 0, modifiedTime: 0, extension: '' };
  for (const [k, v] of Object.entries(o)) {
    const name = RF_ALIASES[k];
    switch (name) {
      case 'backendType':
      case 'backendId':
      case 'key':
      case 'extension':
        rf[name] = parseScalar(v, 'string', k) as string;
        break;
      case 'offset':
      case 'fileSize':
      case 'modifiedTime':
        rf[name] = parseScalar(v, 'u64', k) as number;
        break;
      default:
        (rf.unknown ??= {})[k] = v;
    }
  }
  return rf;
}

function parseEcShardConfig(o: Json): EcShardConfig | null {
  if (o === null) return null;
  if (!isObject(o)) throw new VolumeInfoError('invalid ecShardConfig');
  const ec: EcShardConfig = { dataShards: 0, parityShards: 0, encodeTsNs: 0n };
  for (const [k, v] of Object.entries(o)) {
    const name = EC_ALIASES[k];
    if (name === 'dataShards' || name === 'parityShards') ec[name] = parseScalar(v, 'u32', k) as number;
    else if (name === 'encodeTsNs') ec.encodeTsNs = parseBigInt(v, k);
    else (ec.unknown ??= {})[k] = v;
  }
  return ec;
}

/** Parses .vif text. Throws VolumeInfoError for text that is not a VolumeInfo. */
export function parseVolumeInfo(text: string): VolumeInfo {
  let root: Json;
  try {
    root = JSON.parse(text) as Json;
  } catch (e) {
    throw new VolumeInfoError(`unmarshal error: ${(e as Error).message}`, { cause: e });
  }
  if (!isObject(root)) throw new VolumeInfoError('unmarshal error: not a JSON object');
  const vi = emptyVolumeInfo();
  for (const [k, v] of Object.entries(root)) {
    const name = VI_ALIASES[k];
    switch (name) {
      case 'files':
        if (v === null) vi.files = [];
        else if (Array.isArray(v)) vi.files = v.map(parseRemoteFile);
        else throw new VolumeInfoError('invalid value for repeated field files');
        break;
      case 'version':
      case 'bytesOffset':
        vi[name] = parseScalar(v, 'u32', k) as number;
        break;
      case 'datFileSize':
        vi.datFileSize = parseScalar(v, 'i64', k) as number;
        break;
      case 'expireAtSec':
        vi.expireAtSec = parseScalar(v, 'u64', k) as number;
        break;
      case 'replication':
        vi.replication = parseScalar(v, 'string', k) as string;
        break;
      case 'readOnly':
      case 'readOnlyCanDelete':
        vi[name] = parseScalar(v, 'bool', k) as boolean;
        break;
      case 'ecShardConfig':
        vi.ecShardConfig = parseEcShardConfig(v);
        break;
      default:
        (vi.unknown ??= {})[k] = v;
    }
  }
  return vi;
}

// ------------------------------------------------------------------ formatting

function indentJson(v: Json, depth: number): string {
  const pad = '  '.repeat(depth + 1);
  const close = '  '.repeat(depth);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => pad + indentJson(x, depth + 1)).join(',\n')}\n${close}]`;
  }
  if (isObject(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0) return '{}';
    return `{\n${keys.map((k) => `${pad}${JSON.stringify(k)}: ${indentJson(v[k], depth + 1)}`).join(',\n')}\n${close}}`;
  }
  return JSON.stringify(v);
}

function remoteFileJson(rf: RemoteFile): Json {
  return {
    backendType: rf.backendType,
    backendId: rf.backendId,
    key: rf.key,
    offset: String(rf.offset),
    fileSize: String(rf.fileSize),
    modifiedTime: String(rf.modifiedTime),
    extension: rf.extension,
    ...(rf.unknown ?? {}),
  };
}

function ecJson(ec: EcShardConfig | null): Json {
  if (!ec) return null;
  return {
    dataShards: ec.dataShards,
    parityShards: ec.parityShards,
    encodeTsNs: ec.encodeTsNs.toString(),
    ...(ec.unknown ?? {}),
  };
}

/** Formats like Go's protojson (EmitUnpopulated, Indent "  "), known fields first, in proto order. */
export function formatVolumeInfo(vi: VolumeInfo): string {
  const obj: { [k: string]: Json } = {
    files: vi.files.map(remoteFileJson),
    version: vi.version,
    replication: vi.replication,
    bytesOffset: vi.bytesOffset,
    datFileSize: String(vi.datFileSize),
    expireAtSec: String(vi.expireAtSec),
    readOnly: vi.readOnly,
    ecShardConfig: ecJson(vi.ecShardConfig),
    readOnlyCanDelete: vi.readOnlyCanDelete,
  };
  for (const [k, v] of Object.entries(vi.unknown ?? {})) if (!(k in obj)) obj[k] = v;
  return indentJson(obj, 0);
}

// ------------------------------------------------------------------ files

export interface LoadedVolumeInfo {
  info: VolumeInfo;
  /** A .vif existed and was non-empty (Go's hasVolumeInfoFile). */
  exists: boolean;
  /** Set when the file existed but could not be parsed; `info` is then the defaults. */
  error?: VolumeInfoError;
}

/** Go's MaybeLoadVolumeInfo: missing or empty file → defaults with exists=false. */
export async function loadVolumeInfo(path: string): Promise<LoadedVolumeInfo> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { info: emptyVolumeInfo(), exists: false };
    return {
      info: emptyVolumeInfo(),
      exists: true,
      error: new VolumeInfoError(`fail to read ${path} : ${(e as Error).message}`, { cause: e }),
    };
  }
  if (text.length === 0) return { info: emptyVolumeInfo(), exists: false };
  try {
    return { info: parseVolumeInfo(text), exists: true };
  } catch (e) {
    return { info: emptyVolumeInfo(), exists: true, error: e as VolumeInfoError };
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself already happened.
  } finally {
    await fh?.close();
  }
}

/** Go's SaveVolumeInfo: write a temp file, chmod 0644, fsync, rename over, fsync the directory. */
export async function saveVolumeInfo(path: string, vi: VolumeInfo): Promise<void> {
  try {
    await access(path, fsConstants.F_OK);
    try {
      await access(path, fsConstants.W_OK);
    } catch {
      throw new VolumeInfoError(`failed to check ${path} not writable`);
    }
  } catch (e) {
    if (e instanceof VolumeInfoError) throw e;
  }
  const dir = dirname(path);
  const tmp = join(dir, `${basename(path)}.tmp.${randomBytes(5).toString('hex')}`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(formatVolumeInfo(vi), 'utf8');
    await chmod(tmp, 0o644);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new VolumeInfoError(`failed to write ${path}: ${(e as Error).message}`, { cause: e });
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new VolumeInfoError(`failed to rename ${path}: ${(e as Error).message}`, { cause: e });
  }
  await fsyncDir(dir);
}
