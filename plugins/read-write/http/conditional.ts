// Conditional-request logic of the Go read handler: Last-Modified formatting, If-Modified-Since
// (Go's strict http.TimeFormat parse), If-None-Match (entity-tag lists, weak comparison, `*`),
// their precedence (If-None-Match wins when present), and If-Range for ranged reads.

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

let lastFormattedSec = -1;
let lastFormatted = '';

/** http.TimeFormat of unix seconds, e.g. `Tue, 14 Nov 2023 22:13:20 GMT` (last value cached). */
export function formatHttpDate(unixSeconds: number): string {
  if (unixSeconds === lastFormattedSec) return lastFormatted;
  const d = new Date(unixSeconds * 1000);
  const y = d.getUTCFullYear();
  const text =
    `${DAY_NAMES[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTH_NAMES[d.getUTCMonth()]} ` +
    `${y < 1000 ? String(y).padStart(4, '0') : y} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} GMT`;
  lastFormattedSec = unixSeconds;
  lastFormatted = text;
  return text;
}

/** Case-insensitive (ASCII) match of one of `names` at s[pos..]; returns [index, length] or undefined. */
function lookupName(s: string, pos: number, names: string[]): [number, number] | undefined {
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (s.length - pos >= n.length && s.slice(pos, pos + n.length).toLowerCase() === n.toLowerCase()) return [i, n.length];
  }
  return undefined;
}

function digits(s: string, pos: number, min: number, max: number): [number, number] | undefined {
  let end = pos;
  while (end < s.length && end - pos < max && s.charCodeAt(end) >= 48 && s.charCodeAt(end) <= 57) end++;
  if (end - pos < min) return undefined;
  return [Number(s.slice(pos, end)), end];
}

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/** Optional fractional seconds after the seconds field (Go accepts them even if the layout has none). */
function skipFraction(s: string, pos: number): number {
  if (pos < s.length && (s[pos] === '.' || s[pos] === ',') && pos + 1 < s.length && s.charCodeAt(pos + 1) >= 48 && s.charCodeAt(pos + 1) <= 57) {
    pos++;
    while (pos < s.length && s.charCodeAt(pos) >= 48 && s.charCodeAt(pos) <= 57) pos++;
  }
  return pos;
}

function toUnix(year: number, month: number, day: number, hh: number, mm: number, ss: number): number | undefined {
  if (month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hh > 23 || mm > 59 || ss > 59) return undefined;
  return Date.UTC(year, month - 1, day, hh, mm, ss) / 1000;
}

/** The `15:04:05` part shared by Go's date layouts (1–2 digit hour), with an optional fraction. */
function parseClock(s: string, start: number): { hh: number; mm: number; ss: number; end: number } | undefined {
  let p = start;
  const hh = digits(s, p, 1, 2);
  if (!hh) return undefined;
  p = hh[1];
  if (s[p++] !== ':') return undefined;
  const mm = digits(s, p, 2, 2);
  if (!mm) return undefined;
  p = mm[1];
  if (s[p++] !== ':') return undefined;
  const ss = digits(s, p, 2, 2);
  if (!ss) return undefined;
  return { hh: hh[0], mm: mm[0], ss: ss[0], end: skipFraction(s, ss[1]) };
}

/**
 * Go's time.Parse(http.TimeFormat, s): `Mon, 02 Jan 2006 15:04:05 GMT` with a 3-letter weekday
 * (any, not checked against the date), 2-digit day, 3-letter month (case-insensitive), 4-digit
 * year, 1–2 digit hour, 2-digit minutes and seconds, literal ` GMT`. Unix seconds or undefined.
 */
export function parseHttpDate(s: string): number | undefined {
  let p = 0;
  const wd = lookupName(s, p, DAY_NAMES);
  if (!wd) return undefined;
  p += wd[1];
  if (s.slice(p, p + 2) !== ', ') return undefined;
  p += 2;
  const day = digits(s, p, 2, 2);
  if (!day) return undefined;
  p = day[1];
  if (s[p++] !== ' ') return undefined;
  const mon = lookupName(s, p, MONTH_NAMES);
  if (!mon) return undefined;
  p += mon[1];
  if (s[p++] !== ' ') return undefined;
  const year = digits(s, p, 4, 4);
  if (!year) return undefined;
  p = year[1];
  if (s[p++] !== ' ') return undefined;
  const clock = parseClock(s, p);
  if (!clock) return undefined;
  p = clock.end;
  if (s.slice(p) !== ' GMT') return undefined;
  return toUnix(year[0], mon[0] + 1, day[0], clock.hh, clock.mm, clock.ss);
}

/** Go's time.ANSIC: `Mon Jan _2 15:04:05 2006`. */
function parseAnsic(s: string): number | undefined {
  let p = 0;
  const wd = lookupName(s, p, DAY_NAMES);
  if (!wd) return undefined;
  p += wd[1];
  if (s[p++] !== ' ') return undefined;
  const mon = lookupName(s, p, MONTH_NAMES);
  if (!mon) return undefined;
  p += mon[1];
  if (s[p++] !== ' ') return undefined;
  if (s[p] === ' ') p++;
  const day = digits(s, p, 1, 2);
  if (!day) return undefined;
  p = day[1];
  if (s[p++] !== ' ') return undefined;
  const clock = parseClock(s, p);
  if (!clock) return undefined;
  p = clock.end;
  if (s[p++] !== ' ') return undefined;
  const year = digits(s, p, 4, 4);
  if (!year || year[1] !== s.length) return undefined;
  return toUnix(year[0], mon[0] + 1, day[0], clock.hh, clock.mm, clock.ss);
}

/** Go's time.RFC850 with zone GMT/UTC: `Monday, 02-Jan-06 15:04:05 GMT`. */
function parseRfc850(s: string): number | undefined {
  let p = 0;
  const wd = lookupName(s, p, LONG_DAY_NAMES);
  if (!wd) return undefined;
  p += wd[1];
  if (s.slice(p, p + 2) !== ', ') return undefined;
  p += 2;
  const day = digits(s, p, 2, 2);
  if (!day) return undefined;
  p = day[1];
  if (s[p++] !== '-') return undefined;
  const mon = lookupName(s, p, MONTH_NAMES);
  if (!mon) return undefined;
  p += mon[1];
  if (s[p++] !== '-') return undefined;
  const yy = digits(s, p, 2, 2);
  if (!yy) return undefined;
  p = yy[1];
  if (s[p++] !== ' ') return undefined;
  const clock = parseClock(s, p);
  if (!clock) return undefined;
  p = clock.end;
  const zone = s.slice(p);
  if (zone !== ' GMT' && zone !== ' UTC') return undefined;
  const year = yy[0] >= 69 ? 1900 + yy[0] : 2000 + yy[0];
  return toUnix(year, mon[0] + 1, day[0], clock.hh, clock.mm, clock.ss);
}

/** Go's http.ParseTime: TimeFormat, RFC 850 or ANSIC. */
export function parseHttpTime(s: string): number | undefined {
  return parseHttpDate(s) ?? parseRfc850(s) ?? parseAnsic(s);
}

/** Splits an entity-tag list on commas outside quotes (Go's splitETagList). */
function splitETagList(header: string): string[] {
  const tags: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 44 && !quoted) {
      tags.push(header.slice(start, i));
      start = i + 1;
    }
  }
  tags.push(header.slice(start));
  return tags;
}

function trimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s.charCodeAt(a))) a++;
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Go's util.CanonicalizeETag: one leading and one trailing quote removed. */
function canonicalEtag(tag: string): string {
  let a = 0;
  let b = tag.length;
  if (b > 0 && tag.charCodeAt(0) === 34) a = 1;
  if (b > a && tag.charCodeAt(b - 1) === 34) b--;
  return tag.slice(a, b);
}

/**
 * Go's etagListMatches: `*`, or any tag of the list equal to `etag` once quotes are removed; weak
 * tags (`W/"…"`) count only with the weak comparison (If-None-Match).
 */
export function etagListMatches(header: string, etag: string, weak: boolean): boolean {
  if (trimSpace(header) === '*') return true;
  const want = canonicalEtag(etag);
  for (let tag of splitETagList(header)) {
    tag = trimSpace(tag);
    if (tag.startsWith('W/')) {
      if (!weak) continue;
      tag = tag.slice(2);
    }
    if (tag === '') continue;
    if (canonicalEtag(tag) === want) return true;
  }
  return false;
}

/**
 * Go's notModified: If-None-Match, when present, decides alone; otherwise If-Modified-Since (when it
 * parses and the needle has a LastModified) is satisfied when its time ≥ LastModified.
 */
export function notModified(ifNoneMatch: string | string[] | undefined, ifModifiedSince: string | undefined, etag: string, lastModified: number): boolean {
  if (ifNoneMatch !== undefined) {
    return etagListMatches(Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch, etag, true);
  }
  if (!ifModifiedSince || lastModified === 0) return false;
  const t = parseHttpDate(ifModifiedSince);
  return t !== undefined && t >= lastModified;
}

/**
 * Go's ifRangeMatches: an empty If-Range matches; an entity tag must equal the (strong) ETag
 * exactly; otherwise a date must equal Last-Modified.
 */
export function ifRangeMatches(ifRange: string | undefined, etagHeader: string | undefined, lastModifiedHeader: string | undefined): boolean {
  const v = trimSpace(ifRange ?? '');
  if (v === '') return true;
  if (v.startsWith('"') || v.startsWith('W/')) {
    return !!etagHeader && !etagHeader.startsWith('W/') && v === etagHeader;
  }
  const date = parseHttpTime(v);
  if (date === undefined || !lastModifiedHeader) return false;
  const lm = parseHttpTime(lastModifiedHeader);
  return lm !== undefined && lm === date;
}
