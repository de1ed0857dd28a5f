// Value parsers with the syntax the Go volume server accepts: integers (base prefixes, underscores),
// booleans, durations, byte sizes, min-free-space expressions, tag groups, host addresses.
// Each parser throws a plain Error whose message explains the problem; callers add the flag name.

import os from 'node:os';
import path from 'node:path';

import type { MinFreeSpace } from './types.js';

const BOOL_TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const BOOL_FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** Boolean literal as Go's strconv.ParseBool reads it. */
export function parseGoBool(text: string): boolean {
  if (BOOL_TRUE.has(text)) return true;
  if (BOOL_FALSE.has(text)) return false;
  throw new Error('parse error');
}

/** True when `digits` has underscores only between digits (or right after a base prefix). */
function underscoresOk(body: string, hasPrefix: boolean): boolean {
  if (!body.includes('_')) return true;
  if (body.endsWith('_') || body.includes('__')) return false;
  return hasPrefix || !body.startsWith('_');
}

/**
 * Integer literal as Go's strconv.ParseInt(s, 0, 64) reads it (the syntax of Go's int flags):
 * optional sign, `0x`/`0o`/`0b` prefixes, a leading `0` meaning octal, `_` between digits.
 */
export function parseGoInt(text: string): number {
  let s = text;
  let sign = 1;
  if (s.startsWith('+') || s.startsWith('-')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  let radix = 10;
  let body = s;
  let hasPrefix = false;
  const lower = s.slice(0, 2).toLowerCase();
  if (lower === '0x' || lower === '0o' || lower === '0b') {
    radix = lower === '0x' ? 16 : lower === '0o' ? 8 : 2;
    body = s.slice(2);
    hasPrefix = true;
  } else if (s.length > 1 && s[0] === '0') {
    radix = 8;
    body = s.slice(1);
    hasPrefix = true;
  }
  const digitsByRadix: Record<number, RegExp> = {
    2: /^[01_]+$/,
    8: /^[0-7_]+$/,
    10: /^[0-9_]+$/,
    16: /^[0-9a-fA-F_]+$/,
  };
  if (body === '' || !digitsByRadix[radix].test(body) || !underscoresOk(body, hasPrefix)) {
    throw new Error('parse error');
  }
  const digits = body.replace(/_/g, '');
  if (digits === '') throw new Error('parse error');
  const value = sign * parseInt(digits, radix);
  if (!Number.isSafeInteger(value)) throw new Error('value out of range');
  return value;
}

const NS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
// 2^63 - 1 as a double (Go's maximum time.Duration, rounded as float64 comparison rounds it).
const MAX_DURATION_NS = 2 ** 63;

/**
 * Go duration literal (time.ParseDuration: `300ms`, `1.5s`, `1m30s`, `2h`, `-1s`, `0`) → milliseconds.
 * The result may be fractional for sub-millisecond durations.
 */
export function parseGoDuration(text: string): number {
  let s = text;
  let negative = false;
  if (s.startsWith('+') || s.startsWith('-')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
  let totalNs = 0;
  while (s !== '') {
    const num = /^([0-9]*)(?:\.([0-9]*))?/.exec(s);
    const intPart = num?.[1] ?? '';
    const fracPart = num?.[2];
    if (!num || (intPart === '' && (fracPart === undefined || fracPart === ''))) {
      throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
    }
    s = s.slice(num[0].length);
    const unitMatch = /^[^0-9.]+/.exec(s);
    if (!unitMatch) throw new Error(`time: missing unit in duration ${JSON.stringify(text)}`);
    const unit = unitMatch[0];
    const scale = NS_PER_UNIT[unit];
    if (scale === undefined) {
      throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`);
    }
    s = s.slice(unit.length);
    let partNs = (intPart === '' ? 0 : Number(intPart)) * scale;
    if (fracPart) partNs += Math.floor(Number(`0.${fracPart}`) * scale);
    totalNs += partNs;
    if (totalNs > MAX_DURATION_NS) throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
  }
  const ms = totalNs / 1e6;
  return negative ? -ms : ms;
}

const BYTES_PER_UNIT: Record<string, number> = {
  b: 1,
  '': 1,
  kib: 1024,
  ki: 1024,
  kb: 1e3,
  k: 1e3,
  mib: 1024 ** 2,
  mi: 1024 ** 2,
  mb: 1e6,
  m: 1e6,
  gib: 1024 ** 3,
  gi: 1024 ** 3,
  gb: 1e9,
  g: 1e9,
  tib: 1024 ** 4,
  ti: 1024 ** 4,
  tb: 1e12,
  t: 1e12,
  pib: 1024 ** 5,
  pi: 1024 ** 5,
  pb: 1e15,
  p: 1e15,
  eib: 1024 ** 6,
  ei: 1024 ** 6,
  eb: 1e18,
  e: 1e18,
};

/** Human-readable size as Go's util.ParseBytes reads it (`10GiB`, `500MB`, `1,000 kb`, `42`). */
export function parseBytes(text: string): number {
  const num = /^[0-9.,]*/.exec(text)?.[0] ?? '';
  const digits = num.replace(/,/g, '');
  if (!/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)$/.test(digits)) throw new Error(`invalid size ${JSON.stringify(text)}`);
  const unit = text.slice(num.length).trim().toLowerCase();
  const scale = BYTES_PER_UNIT[unit];
  if (scale === undefined) throw new Error(`unhandled size name: ${unit}`);
  const value = Number(digits) * scale;
  if (!Number.isFinite(value) || value >= 2 ** 64) throw new Error(`too large: ${text}`);
  return Math.floor(value);
}

const FLOAT_RE = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/**
 * One min-free-space entry: a plain number 0..100 is a percentage, otherwise a size with unit that
 * must exceed 100 bytes.
 */
export function parseMinFreeSpace(text: string): MinFreeSpace {
  const s = text.trim();
  if (FLOAT_RE.test(s)) {
    const percent = Number(s);
    if (percent < 0 || percent > 100) throw new Error('minFreeSpace is invalid');
    return { kind: 'percent', value: percent };
  }
  let bytes: number;
  try {
    bytes = parseBytes(s);
  } catch {
    throw new Error('minFreeSpace is invalid');
  }
  if (bytes <= 100) throw new Error('minFreeSpace is invalid');
  return { kind: 'bytes', value: bytes };
}

/** Tags of one group: trimmed, lower-cased, empties dropped, first occurrence kept. */
export function normalizeTagList(tags: string[]): string[] {
  const out: string[] = [];
  for (const raw of tags) {
    const tag = raw.trim().toLowerCase();
    if (tag !== '' && !out.includes(tag)) out.push(tag);
  }
  return out;
}

/**
 * `-tags` value → one tag list per dir. One group applies to every dir; otherwise group i belongs to
 * dir i and dirs beyond the listed groups get none (extra groups are ignored).
 */
export function parseTagGroups(text: string, dirCount: number): string[][] {
  if (dirCount <= 0) return [];
  const groups = text.trim() === '' ? [] : text.split(',');
  if (groups.length === 1) {
    const shared = normalizeTagList(groups[0].split(':'));
    return Array.from({ length: dirCount }, () => [...shared]);
  }
  return Array.from({ length: dirCount }, (_, i) => (i < groups.length ? normalizeTagList(groups[i].split(':')) : []));
}

/** Comma list with entries trimmed and empty entries dropped. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `~` and `~/x` expanded to the home directory, anything else unchanged. */
export function expandHome(p: string, home: string = os.homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/') || p.startsWith(`~${path.sep}`)) return path.join(home, p.slice(2));
  return p;
}

/** host:port, with IPv6 literals bracketed (an already bracketed host is kept as is). */
export function joinHostPort(host: string, port: number | string): string {
  if (host.startsWith('[') && host.endsWith(']')) return `${host}:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function isLinkLocalV6(address: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(address);
}

/**
 * The address a volume server advertises when `-ip` is empty: the first non-loopback IPv4 address of
 * an up interface, else the first non-loopback, non-link-local IPv6 address, else `localhost`.
 */
export function detectHostAddress(
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): string {
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  const v4 = all.find((a) => a.family === 'IPv4' && !a.internal && !a.address.startsWith('127.'));
  if (v4) return v4.address;
  const v6 = all.find((a) => a.family === 'IPv6' && !a.internal && a.address !== '::1' && !isLinkLocalV6(a.address));
  if (v6) return v6.address;
  return 'localhost';
}
