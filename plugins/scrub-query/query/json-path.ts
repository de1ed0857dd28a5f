// The part of gjson the Go Query RPC relies on (weed/query/json uses github.com/tidwall/gjson):
// walking the JSON values of a text one after the other (ForEachLine), and reading a value by
// path (Get / GetMany) with its raw text and type. Like gjson it does not validate: it finds value
// boundaries and skips what it does not understand.
//
// Texts are "byte strings" (latin1: one char per byte), so raw values go back out byte for byte
// and strings compare byte-wise, as Go's do. Paths: keys separated by `.`, `\` escapes the next
// character, `*` and `?` are wildcards in a key, a number indexes an array and `#` is its length.

export type JsonType = 'null' | 'false' | 'number' | 'string' | 'true' | 'json';

export interface JsonResult {
  type: JsonType;
  /** The value's text as it appears in the input ('' when the path matched nothing). */
  raw: string;
  /** For strings: the unescaped value (a byte string). */
  str: string;
  /** For numbers: the value (Go's ParseFloat of the raw text, 0 when it does not parse). */
  num: number;
}

const NONE: JsonResult = { type: 'null', raw: '', str: '', num: 0 };

/** gjson's Exists: a matched value, JSON null included. */
export function exists(r: JsonResult): boolean {
  return r.type !== 'null' || r.raw.length > 0;
}

/** Go's strconv.ParseFloat(s, 64) with the error ignored (0), as gjson and the filter use it. */
export function goParseFloat(s: string): number {
  const t = s.replace(/_/g, '');
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(t)) return NaN;
  return 0;
}

/** A byte string's JSON string body unescaped (gjson's unescape), as a byte string. */
function unescape(rawWithQuotes: string): string {
  try {
    const s = JSON.parse(Buffer.from(rawWithQuotes, 'latin1').toString('utf8')) as string;
    return Buffer.from(s, 'utf8').toString('latin1');
  } catch {
    return rawWithQuotes.slice(1, -1);
  }
}

/**
 * End of the string starting after the opening quote at `i`; [end (after the closing quote), had
 * escapes]. An unterminated string ends at the end of the text, with end = -1 - length.
 */
function scanString(s: string, i: number): [number, boolean] {
  let esc = false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      esc = true;
      i++;
    } else if (c === 0x22) {
      return [i + 1, esc];
    }
  }
  return [-1 - s.length, esc];
}

/** End of the object or array opening at `i` (strings respected, nesting counted); -1 - length when it never closes. */
function scanSquash(s: string, i: number): number {
  let depth = 0;
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === '"') {
      const end = scanString(s, i + 1)[0];
      if (end < 0) return end;
      i = end - 1;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1 - s.length;
}

function scanNumber(s: string, i: number): number {
  for (; i < s.length; i++) {
    const c = s[i];
    if (c <= ' ' || c === ',' || c === ']' || c === '}') return i;
  }
  return s.length;
}

function scanLiteral(s: string, i: number): number {
  for (; i < s.length; i++) {
    const c = s[i];
    if (c < 'a' || c > 'z') return i;
  }
  return s.length;
}

/** A value that runs to the end of a text that may continue (streamed input): where it starts. */
export interface Incomplete {
  incompleteFrom: number;
}

/**
 * gjson's parseAny: the next value at or after `i`; [end, result], or undefined when none is left.
 * With `more` (the text continues past its end) a value touching the end is Incomplete instead.
 */
export function nextValue(s: string, i: number, more = false): [number, JsonResult] | Incomplete | undefined {
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === '{' || c === '[') {
      let end = scanSquash(s, i);
      if (end < 0) {
        if (more) return { incompleteFrom: i };
        end = -1 - end;
      }
      return [end, { type: 'json', raw: s.slice(i, end), str: '', num: 0 }];
    }
    if (c <= ' ') continue;
    if (c === '"') {
      const scanned = scanString(s, i + 1);
      const esc = scanned[1];
      let end = scanned[0];
      if (end < 0) {
        if (more) return { incompleteFrom: i };
        end = -1 - end;
      }
      const raw = s.slice(i, end);
      return [end, { type: 'string', raw, str: esc ? unescape(raw) : raw.slice(1, -1), num: 0 }];
    }
    if (more && c === 'n' && i + 1 >= s.length) return { incompleteFrom: i };
    if ((c === 't' || c === 'f' || c === 'n') && !(c === 'n' && s[i + 1] !== 'u')) {
      const end = scanLiteral(s, i);
      if (more && end >= s.length) return { incompleteFrom: i };
      const raw = s.slice(i, end);
      return [end, { type: c === 't' ? 'true' : c === 'f' ? 'false' : 'null', raw, str: '', num: 0 }];
    }
    if ('+-.0123456789iIN'.includes(c) || c === 'n') {
      const end = scanNumber(s, i);
      if (more && end >= s.length) return { incompleteFrom: i };
      const raw = s.slice(i, end);
      return [end, { type: 'number', raw, str: '', num: goParseFloat(raw) }];
    }
  }
  return undefined;
}

/**
 * gjson.ForEachLine over a text that arrives in pieces: `push` each piece, then `finish`. Only the
 * value still open at the end of a piece is kept between pieces, so memory follows the largest
 * single value, not the whole text.
 */
export class ValueStream {
  private carry = '';
  private done = false;

  constructor(private readonly fn: (v: JsonResult) => void) {}

  /** Length of the value kept open from the last piece. */
  get pending(): number {
    return this.carry.length;
  }

  push(piece: string): void {
    this.run(this.carry + piece, true);
  }

  finish(): void {
    this.run(this.carry, false);
    this.carry = '';
  }

  private run(s: string, more: boolean): void {
    if (this.done) return;
    let i = 0;
    for (;;) {
      const next = nextValue(s, i, more);
      if (next === undefined) {
        this.carry = '';
        return;
      }
      if ('incompleteFrom' in next) {
        this.carry = s.slice(next.incompleteFrom);
        return;
      }
      if (!exists(next[1])) {
        this.done = true;
        return;
      }
      this.fn(next[1]);
      i = next[0];
    }
  }
}

/** gjson.ForEachLine: every value of the text in turn. */
export function forEachValue(s: string, fn: (v: JsonResult) => void): void {
  const vs = new ValueStream(fn);
  vs.push(s);
  vs.finish();
}

interface PathPart {
  key: string;
  wild: boolean;
}

/** Splits a path at unescaped dots; `\x` stands for x (and is never a wildcard). */
function splitPath(path: string): PathPart[] {
  const parts: PathPart[] = [];
  let key = '';
  let wild = false;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === '\\' && i + 1 < path.length) {
      key += path[++i];
    } else if (c === '.') {
      parts.push({ key, wild });
      key = '';
      wild = false;
    } else {
      if (c === '*' || c === '?') wild = true;
      key += c;
    }
  }
  parts.push({ key, wild });
  return parts;
}

/** tidwall/match: `*` any run, `?` any one character. */
export function wildcardMatch(str: string, pattern: string): boolean {
  let s = 0;
  let p = 0;
  let star = -1;
  let mark = 0;
  while (s < str.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === str[s])) {
      s++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = s;
    } else if (star >= 0) {
      p = star + 1;
      s = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The members of the object or elements of the array whose raw text is `raw`. */
function members(raw: string): { key?: string; value: JsonResult }[] {
  const out: { key?: string; value: JsonResult }[] = [];
  const isObject = raw[0] === '{';
  let i = 1;
  const end = raw.length - 1;
  while (i < end) {
    let key: string | undefined;
    if (isObject) {
      const q = raw.indexOf('"', i);
      if (q < 0 || q >= end) break;
      const [kEnd, esc] = scanString(raw, q + 1);
      const kRaw = raw.slice(q, kEnd);
      key = esc ? unescape(kRaw) : kRaw.slice(1, -1);
      const colon = raw.indexOf(':', kEnd);
      if (colon < 0) break;
      i = colon + 1;
    }
    const next = nextValue(raw, i);
    if (!next || 'incompleteFrom' in next || next[0] > raw.length) break;
    // a closing bracket read as a value means the container ended
    if (next[1].type === 'number' && next[1].raw === '') break;
    out.push({ key, value: next[1] });
    i = next[0];
    while (i < end && (raw[i] <= ' ' || raw[i] === ',')) i++;
  }
  return out;
}

function getParts(value: JsonResult, parts: PathPart[]): JsonResult {
  let cur = value;
  for (const part of parts) {
    if (cur.type !== 'json') return NONE;
    const list = members(cur.raw);
    if (cur.raw[0] === '[') {
      if (part.key === '#' && !part.wild) {
        cur = { type: 'number', raw: String(list.length), str: '', num: list.length };
        continue;
      }
      if (!/^\d+$/.test(part.key)) return NONE;
      const m = list[Number(part.key)];
      if (!m) return NONE;
      cur = m.value;
    } else {
      const m = list.find((x) => (part.wild ? wildcardMatch(x.key!, part.key) : x.key === part.key));
      if (!m) return NONE;
      cur = m.value;
    }
  }
  return cur;
}

/** gjson.Get on the raw text of one value (a byte string); the path is a byte string too. */
export function getPath(raw: string, path: string): JsonResult {
  const start = nextValue(raw, 0);
  if (!start || 'incompleteFrom' in start || start[1].type !== 'json') return NONE;
  return getParts(start[1], splitPath(path));
}
