// Go's url.ParseQuery / Request.Form semantics for the write and delete paths: keys and values
// percent-decoded ('+' is a space), first value wins in FormValue, a bad escape or a ';' separator
// is an error (which ParseForm reports, making the write answer 400).

export class GoForm {
  private readonly values = new Map<string, string[]>();

  add(key: string, value: string): void {
    const list = this.values.get(key);
    if (list) list.push(value);
    else this.values.set(key, [value]);
  }

  has(key: string): boolean {
    return (this.values.get(key)?.length ?? 0) > 0;
  }

  /** Go's FormValue: the first value or ''. */
  get(key: string): string {
    return this.values.get(key)?.[0] ?? '';
  }

  /** Sets the value only when the key has none (Go's multipart control-field rule). */
  setIfAbsent(key: string, value: string): void {
    if (!this.has(key)) this.values.set(key, [value]);
  }

  /** Appends every value of `other` after ours (Go: post-form values first, then the query). */
  merge(other: GoForm): void {
    for (const [k, vs] of other.values) for (const v of vs) this.add(k, v);
  }
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

function unhex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Go's url.QueryUnescape; throws Go's error text on a bad escape. */
export function queryUnescape(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === 0x25) {
      const a = i + 1 < raw.length ? unhex(raw[i + 1]) : -1;
      const b = i + 2 < raw.length ? unhex(raw[i + 2]) : -1;
      if (a < 0 || b < 0) {
        const bad = raw.subarray(i, Math.min(i + 3, raw.length)).toString('latin1');
        throw new Error(`invalid URL escape ${goQuote(bad)}`);
      }
      bytes.push(a * 16 + b);
      i += 2;
    } else if (c === 0x2b) {
      bytes.push(0x20);
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Go's url.ParseQuery: returns the values and the first error text ('' when none). */
export function parseQuery(query: string, into = new GoForm()): { form: GoForm; error: string } {
  let error = '';
  for (const part of query.split('&')) {
    if (part.includes(';')) {
      if (!error) error = 'invalid semicolon separator in query';
      continue;
    }
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    let key: string;
    let value: string;
    try {
      key = queryUnescape(rawKey);
      value = queryUnescape(rawValue);
    } catch (e) {
      if (!error) error = (e as Error).message;
      continue;
    }
    into.add(key, value);
  }
  return { form: into, error };
}

/** The raw query string of a request URL ('' when none). */
export function rawQueryOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

/** The raw (still percent-encoded) path of a request URL. */
export function rawPathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Go's URL.Path: the percent-decoded path (invalid escapes leave the text as is). */
export function decodedPathOf(url: string): string {
  const raw = rawPathOf(url);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'TRUE':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'FALSE':
    case 'False':
      return false;
    default:
      return undefined;
  }
}
