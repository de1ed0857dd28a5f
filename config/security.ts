// security.toml: where it is found, how it is read, and the WEED_* environment overrides of its keys
// (as Go's viper does: key upper-cased, '.' → '_', prefix WEED_, e.g. WEED_JWT_SIGNING_KEY).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { parse as parseToml, TomlError } from 'smol-toml';

import { ConfigError } from './errors.js';
import type { SecurityConfig } from './types.js';
import { expandHome, parseGoBool, parseGoInt } from './values.js';
import { checkedWhiteList } from './whitelist.js';

/** Go's defaults for the token lifetimes (seconds). */
export const DEFAULT_JWT_EXPIRES_SECONDS = 10;
export const DEFAULT_JWT_READ_EXPIRES_SECONDS = 60;

export const SECURITY_FILE_NAME = 'security.toml';
/** System-wide directories of the Go search path, after -config_dir, `.` and `$HOME/.seaweedfs`. */
export const SYSTEM_CONFIG_DIRS: readonly string[] = ['/usr/local/etc/seaweedfs', '/etc/seaweedfs'];

export interface SecurityOptions {
  /** Explicit file (--securityFile); must exist when given. */
  securityFile?: string;
  /** -config_dir, searched first. */
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Directory standing for `.` in the search path (default process.cwd()). */
  cwd?: string;
  /** Directories searched after $HOME/.seaweedfs (default SYSTEM_CONFIG_DIRS). */
  systemDirs?: readonly string[];
}

function homeOf(env: NodeJS.ProcessEnv): string {
  return env.HOME && env.HOME !== '' ? env.HOME : os.homedir();
}

/** Directories searched for security.toml when no explicit file is given, in order. */
export function securitySearchPath(opts: SecurityOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const home = homeOf(env);
  const dirs: string[] = [];
  if (opts.configDir) dirs.push(expandHome(opts.configDir, home));
  dirs.push(opts.cwd ?? process.cwd());
  dirs.push(path.join(home, '.seaweedfs'));
  dirs.push(...(opts.systemDirs ?? SYSTEM_CONFIG_DIRS));
  return dirs;
}

/** The security.toml to read, or '' when none is found. */
export function findSecurityFile(opts: SecurityOptions = {}): string {
  const env = opts.env ?? process.env;
  if (opts.securityFile) {
    const file = path.resolve(expandHome(opts.securityFile, homeOf(env)));
    if (!fs.existsSync(file)) throw new ConfigError(`security file not found: ${opts.securityFile}`);
    return file;
  }
  for (const dir of securitySearchPath(opts)) {
    const file = path.resolve(dir, SECURITY_FILE_NAME);
    try {
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not there: next directory
    }
  }
  return '';
}

type Table = Record<string, unknown>;

/** Keys lower-cased at every level, as viper does. */
function lowerKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return value;
  const out: Table = {};
  for (const [k, v] of Object.entries(value as Table)) out[k.toLowerCase()] = lowerKeys(v);
  return out;
}

/** Parses security.toml text; a syntax error becomes a one-line ConfigError naming file, line and column. */
export function parseSecurityToml(text: string, file: string): Table {
  try {
    return lowerKeys(parseToml(text)) as Table;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
      throw new ConfigError(`invalid TOML in ${file}: line ${err.line}, column ${err.column}: ${reason}`);
    }
    throw new ConfigError(`invalid TOML in ${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
}

class Lookup {
  constructor(
    private readonly table: Table,
    private readonly env: NodeJS.ProcessEnv,
    private readonly file: string,
  ) {}

  /** Raw value of a dotted key: a non-empty WEED_* variable first, then the file. */
  raw(key: string): unknown {
    const variable = `WEED_${key.toUpperCase().replace(/\./g, '_')}`;
    const fromEnv = this.env[variable];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    let node: unknown = this.table;
    for (const part of key.split('.')) {
      if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
      node = (node as Table)[part];
    }
    return node;
  }

  private bad(key: string, value: unknown, want: string): ConfigError {
    const where = this.file === '' ? 'environment' : this.file;
    return new ConfigError(`invalid value ${JSON.stringify(value)} for ${key} in ${where}: want ${want}`);
  }

  string(key: string): string {
    const v = this.raw(key);
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    throw this.bad(key, v, 'a string');
  }

  int(key: string, fallback: number): number {
    const v = this.raw(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'string') {
      try {
        return parseGoInt(v.trim());
      } catch {
        // fall through
      }
    }
    throw this.bad(key, v, 'an integer');
  }

  bool(key: string): boolean {
    const v = this.raw(key);
    if (v === undefined || v === null) return false;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return v !== 0;
    if (typeof v === 'string') {
      try {
        return parseGoBool(v.trim());
      } catch {
        // fall through
      }
    }
    throw this.bad(key, v, 'a boolean');
  }

  /** Comma-separated string or array of strings → trimmed, non-empty entries. */
  list(key: string): string[] {
    const v = this.raw(key);
    if (v === undefined || v === null) return [];
    const items = Array.isArray(v) ? v.map((x) => String(x)) : typeof v === 'string' ? v.split(',') : null;
    if (!items) throw this.bad(key, v, 'a comma-separated string or an array');
    return items.map((s) => s.trim()).filter((s) => s !== '');
  }
}

/** The first key with a non-empty value (weed/security/tls.go firstConfigString), else the last. */
function firstSet(get: Lookup, ...keys: string[]): string {
  for (const k of keys) if (get.string(k) !== '') return k;
  return keys[keys.length - 1];
}

/** SecurityConfig from a parsed table (possibly empty) and the environment. */
export function securityFromTable(table: Table, env: NodeJS.ProcessEnv, source: string): SecurityConfig {
  const get = new Lookup(table, env, source);
  return {
    source,
    jwtSigning: {
      key: get.string('jwt.signing.key'),
      expiresAfterSeconds: get.int('jwt.signing.expires_after_seconds', DEFAULT_JWT_EXPIRES_SECONDS),
    },
    jwtSigningRead: {
      key: get.string('jwt.signing.read.key'),
      expiresAfterSeconds: get.int('jwt.signing.read.expires_after_seconds', DEFAULT_JWT_READ_EXPIRES_SECONDS),
    },
    accessUi: get.bool('access.ui'),
    guardWhiteList: checkedWhiteList(get.list('guard.white_list'), `[guard] white_list of ${source || 'the environment'}`),
    httpsVolume: {
      cert: get.string('https.volume.cert'),
      key: get.string('https.volume.key'),
      ca: get.string('https.volume.ca'),
    },
    grpcVolume: {
      cert: get.string('grpc.volume.cert'),
      key: get.string('grpc.volume.key'),
      ca: get.string('grpc.volume.ca'),
      clientCert: get.string('grpc.volume.client_cert'),
      clientKey: get.string('grpc.volume.client_key'),
    },
    grpcCa: get.string('grpc.ca'),
    grpcAuth: {
      // viper keys are case-insensitive: allowed_commonNames is read lower-cased.
      allowedCommonNames: get.list('grpc.volume.allowed_commonnames'),
      allowedWildcardDomain: get.string('grpc.allowed_wildcard_domain'),
      allowedServerCommonNames: get.list(firstSet(get, 'grpc.volume.allowed_server_commonnames', 'grpc.allowed_server_commonnames')),
      allowedServerWildcardDomain: get.string(
        firstSet(get, 'grpc.volume.allowed_server_wildcard_domain', 'grpc.allowed_server_wildcard_domain'),
      ),
    },
    httpsClient: {
      enabled: get.bool('https.client.enabled'),
      cert: get.string('https.client.cert'),
      key: get.string('https.client.key'),
      ca: get.string('https.client.ca'),
      insecureSkipVerify: get.bool('https.client.insecure_skip_verify'),
    },
    tls: {
      minVersion: get.string('tls.min_version'),
      maxVersion: get.string('tls.max_version'),
      cipherSuites: get.string('tls.cipher_suites'),
    },
  };
}

/** Finds, reads and parses security.toml (none found = defaults), then applies WEED_* overrides. */
export function loadSecurityConfig(opts: SecurityOptions = {}): SecurityConfig {
  const env = opts.env ?? process.env;
  const file = findSecurityFile(opts);
  if (file === '') return securityFromTable({}, env, '');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return securityFromTable(parseSecurityToml(text, file), env, file);
}
