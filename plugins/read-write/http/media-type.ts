// Media types and their parameters as Go's mime package handles them: ParseMediaType (the upload
// path's Content-Type and Content-Disposition, weed/storage/needle/needle_parse_upload.go
// parseUpload) and FormatMediaType (the read path's Content-Disposition, weed/server/common.go
// adjustHeaderContentDisposition). Values are byte strings (one char per byte), as Go strings are.

// ------------------------------------------------------------------ token characters

// token chars per RFC 2045 (Go's isTokenChar): US-ASCII except SPACE, CTLs and tspecials.
const TSPECIALS = '()<>@,;:\\"/[]?=';
const TOKEN_CHAR = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) if (!TSPECIALS.includes(String.fromCharCode(c))) TOKEN_CHAR[c] = 1;

/** True if `c` (a char code) is a token character of RFC 2045 (Go's mime isTokenChar). */
export function isMimeTokenChar(c: number): boolean {
  return c < 128 && TOKEN_CHAR[c] === 1;
}

function isToken(s: string): boolean {
  if (s === '') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_CHAR[c] === 0) return false;
  }
  return true;
}

function isTSpecial(c: number): boolean {
  return c < 128 && TSPECIALS.includes(String.fromCharCode(c));
}

// ------------------------------------------------------------------ parsing

/**
 * Go's mime.ParseMediaType, reduced to what the upload path needs: the lower-cased type and the
 * parameters (lower-cased keys; quoted strings unescaped; RFC 2231 `key*=charset''value` decoded).
 * Returns undefined when malformed.
 */
export function parseMediaType(v: string): { type: string; params: Record<string, string> } | undefined {
  const semi = v.indexOf(';');
  const type = (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
  if (!type) return undefined;
  for (let k = 0; k < type.length; k++) {
    const c = type.charCodeAt(k);
    if (!isMimeTokenChar(c) && c !== 47) return undefined;
  }
  const params: Record<string, string> = {};
  const extended: Record<string, string> = {};
  if (semi < 0) return { type, params };
  const n = v.length;
  const skipWs = (p: number) => {
    while (p < n && (v.charCodeAt(p) === 32 || v.charCodeAt(p) === 9)) p++;
    return p;
  };
  let i = semi;
  for (;;) {
    i = skipWs(i);
    if (i >= n) break;
    if (v.charCodeAt(i) !== 59) return undefined; // ';'
    i = skipWs(i + 1);
    if (i >= n) break;
    const keyStart = i;
    while (i < n && isMimeTokenChar(v.charCodeAt(i))) i++;
    if (i === keyStart) return undefined;
    const key = v.slice(keyStart, i).toLowerCase();
    i = skipWs(i);
    if (v.charCodeAt(i) !== 61) return undefined; // '='
    i = skipWs(i + 1);
    let value: string;
    if (v.charCodeAt(i) === 34) {
      let j = i + 1;
      let out = '';
      for (; j < n && v.charCodeAt(j) !== 34; j++) {
        if (v.charCodeAt(j) === 92 && j + 1 < n) j++;
        out += v[j];
      }
      if (j >= n) return undefined;
      value = out;
      i = j + 1;
    } else {
      const start = i;
      while (i < n && isMimeTokenChar(v.charCodeAt(i))) i++;
      if (i === start) return undefined;
      value = v.slice(start, i);
    }
    const target = key.endsWith('*') ? extended : params;
    if (key in target) return undefined;
    target[key] = value;
  }
  for (const [k, raw] of Object.entries(extended)) {
    const base = k.slice(0, -1);
    const m = /^([^']*)'[^']*'(.*)$/.exec(raw);
    if (!m) continue;
    const charset = m[1].toLowerCase();
    try {
      const bytes = Buffer.from(m[2].replace(/%([0-9a-fA-F]{2})/g, (_s, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      params[base] = charset === 'utf-8' ? bytes.toString('utf8') : bytes.toString('latin1');
    } catch {
      /* ignore */
    }
  }
  return { type, params };
}

// ------------------------------------------------------------------ formatting

const UPPER_HEX = '0123456789ABCDEF';

/**
 * Go's mime.FormatMediaType over byte strings: parameters sorted, bare tokens, quoted strings, or
 * RFC 2231 `name*=utf-8''…` percent-encoding when a value has non-printable or non-ASCII bytes.
 * '' when the type or a parameter name is not a token.
 */
export function formatMediaType(t: string, params: Record<string, string>): string {
  let out: string;
  const slash = t.indexOf('/');
  if (slash < 0) {
    if (!isToken(t)) return '';
    out = t.toLowerCase();
  } else {
    const major = t.slice(0, slash);
    const sub = t.slice(slash + 1);
    if (!isToken(major) || !isToken(sub)) return '';
    out = major.toLowerCase() + '/' + sub.toLowerCase();
  }
  for (const attribute of Object.keys(params).sort()) {
    const value = params[attribute];
    if (!isToken(attribute)) return '';
    out += '; ' + attribute.toLowerCase();
    let needEnc = false;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c < 0x20 || c > 0x7e) && c !== 9) {
        needEnc = true;
        break;
      }
    }
    if (needEnc) {
      out += "*=utf-8''";
      for (let i = 0; i < value.length; i++) {
        const ch = value.charCodeAt(i) & 0xff;
        if (ch <= 0x20 || ch >= 0x7f || ch === 0x2a || ch === 0x27 || ch === 0x25 || isTSpecial(ch)) {
          out += '%' + UPPER_HEX[ch >> 4] + UPPER_HEX[ch & 15];
        } else out += value[i];
      }
      continue;
    }
    if (isToken(value)) {
      out += '=' + value;
      continue;
    }
    out += '="';
    for (let i = 0; i < value.length; i++) {
      const ch = value[i];
      if (ch === '"' || ch === '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out;
}

/**
 * `formatMediaType(type, { filename })` for the one-parameter case of Content-Disposition, with the
 * common bare-token name answered without building a parameter map.
 */
export function contentDisposition(type: 'inline' | 'attachment', filename: string): string {
  if (isToken(filename)) return type + '; filename=' + filename;
  return formatMediaType(type, { filename });
}
