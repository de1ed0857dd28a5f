// Content types the way the Go volume server derives them, ONE table and ONE sniffer for both
// directions: uploads (weed/storage/needle/needle_parse_upload.go parseUpload: mime.TypeByExtension
// of the lower-cased extension; ParseUpload: http.DetectContentType for the compress decision) and
// reads (weed/server/volume_server_handlers_read.go writeResponseContent: mime.TypeByExtension of
// filepath.Ext, then net/http's sniffing when no type is set). Also the small Go helpers both
// directions share: filepath.Ext/Base, strconv.ParseBool and the canonical header-key form.
// Strings holding file names are "byte strings": one char per byte (latin1), as Go strings hold
// raw bytes.
//
// Which table: Go's mime.TypeByExtension is its builtin table (mime/type.go builtinTypesLower of
// the Go 1.26 toolchain the pinned module's go.mod names) augmented on Linux as mime/type_unix.go
// initMimeUnix does: the first freedesktop globs2 file found, else every mime.types file; and the
// `weed` binary then adds its own entries over those (weed/admin/dash/file_mime.go init, linked
// into every weed command: e.g. `.webm` is video/webm, `.xml` application/xml). We mirror exactly
// that, the host part read at first use, so an answer depends on the host's database as Go's does
// while the builtin and weed entries (`.csv`, `.mp4`, `.zip`, ...) are the same on every host.
import { readFileSync } from 'node:fs';
import { formatMediaType } from './media-type.js';

// ------------------------------------------------------------------ extension → type

/** Go 1.26's built-in table (mime/type.go builtinTypesLower). */
const BUILTIN_TYPES: Record<string, string> = {
  '.ai': 'application/postscript',
  '.apk': 'application/vnd.android.package-archive',
  '.apng': 'image/apng',
  '.avif': 'image/avif',
  '.bin': 'application/octet-stream',
  '.bmp': 'image/bmp',
  '.com': 'application/octet-stream',
  '.css': 'text/css; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.doc': 'application/msword',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.ehtml': 'text/html; charset=utf-8',
  '.eml': 'message/rfc822',
  '.eps': 'application/postscript',
  '.exe': 'application/octet-stream',
  '.flac': 'audio/flac',
  '.gif': 'image/gif',
  '.gz': 'application/gzip',
  '.htm': 'text/html; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.ico': 'image/vnd.microsoft.icon',
  '.ics': 'text/calendar; charset=utf-8',
  '.jfif': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.jpg': 'image/jpeg',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.m4a': 'audio/mp4',
  '.mjs': 'text/javascript; charset=utf-8',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.oga': 'audio/ogg',
  '.ogg': 'audio/ogg',
  '.ogv': 'video/ogg',
  '.opus': 'audio/ogg',
  '.pdf': 'application/pdf',
  '.pjp': 'image/jpeg',
  '.pjpeg': 'image/jpeg',
  '.png': 'image/png',
  '.ppt': 'application/vnd.ms-powerpoint',
  '.pptx': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  '.ps': 'application/postscript',
  '.rdf': 'application/rdf+xml',
  '.rtf': 'application/rtf',
  '.shtml': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.text': 'text/plain; charset=utf-8',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.txt': 'text/plain; charset=utf-8',
  '.vtt': 'text/vtt; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wav': 'audio/wav',
  '.webm': 'audio/webm',
  '.webp': 'image/webp',
  '.xbl': 'text/xml; charset=utf-8',
  '.xbm': 'image/x-xbitmap',
  '.xht': 'application/xhtml+xml',
  '.xhtml': 'application/xhtml+xml',
  '.xls': 'application/vnd.ms-excel',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.xml': 'text/xml; charset=utf-8',
  '.xsl': 'text/xml; charset=utf-8',
  '.zip': 'application/zip',
};

const GLOBS2_FILES = ['/usr/local/share/mime/globs2', '/usr/share/mime/globs2'];
const MIME_TYPES_FILES = ['/etc/mime.types', '/etc/apache2/mime.types', '/etc/apache/mime.types', '/etc/httpd/conf/mime.types'];

export interface MimeTable {
  /** Case-sensitive keys as found. */
  exact: Map<string, string>;
  /** Lower-cased keys. */
  lower: Map<string, string>;
}

function lowerAscii(s: string): string {
  let out = '';
  let changed = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      changed = true;
      out += String.fromCharCode(c + 32);
    } else out += s[i];
  }
  return changed ? out : s;
}

/** Go's setExtensionType: text/* types get `; charset=utf-8` unless they name a charset. */
function setExtensionType(t: MimeTable, ext: string, mimeType: string): void {
  const semi = mimeType.indexOf(';');
  const base = (semi >= 0 ? mimeType.slice(0, semi) : mimeType).trim();
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(base)) return;
  let value = mimeType;
  if (mimeType.startsWith('text/') && !/;\s*charset\s*=/i.test(mimeType)) {
    const params = semi >= 0 ? mimeType.slice(semi) : '';
    value = formatMediaType(base, { ...parseParams(params), charset: 'utf-8' });
    if (value === '') return;
  }
  t.exact.set(ext, value);
  t.lower.set(ext.toLowerCase(), value);
}

function parseParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return out;
}

/** Builds the table Go's mime package would have on a host with these files (exposed for tests). */
export function buildMimeTable(readText: (path: string) => string | undefined): MimeTable {
  const t: MimeTable = { exact: new Map(), lower: new Map() };
  for (const [k, v] of Object.entries(BUILTIN_TYPES)) {
    t.exact.set(k, v);
    t.lower.set(k, v);
  }
  for (const file of GLOBS2_FILES) {
    const text = readText(file);
    if (text === undefined) continue;
    for (const line of text.split('\n')) {
      const fields = line.split(':');
      if (fields.length < 3 || fields[0].length < 1 || fields[2].length < 3) continue;
      if (fields[0][0] === '#' || fields[2][0] !== '*' || fields[2][1] !== '.') continue;
      const ext = fields[2].slice(1);
      if (/[?*[]/.test(ext)) continue;
      if (t.exact.has(ext)) continue; // weight order: the first entry wins, built-ins win too
      setExtensionType(t, ext, fields[1]);
    }
    return t; // the first globs2 database found is the only one consulted
  }
  for (const file of MIME_TYPES_FILES) {
    const text = readText(file);
    if (text === undefined) continue;
    for (const line of text.split('\n')) {
      const fields = line.split(/[ \t\r\v\f]+/).filter((f) => f !== '');
      if (fields.length <= 1 || fields[0][0] === '#') continue;
      for (const ext of fields.slice(1)) {
        if (ext[0] === '#') break;
        setExtensionType(t, '.' + ext, fields[0]);
      }
    }
  }
  return t;
}

/**
 * The `weed` binary's own entries: weed/admin/dash/file_mime.go init() calls mime.AddExtensionType
 * for each at start-up. Every `weed` command links that package, so the volume server's
 * TypeByExtension answers these over the builtin table and the host database (text/* ones get
 * `; charset=utf-8` like any other). In call order; a later entry for an extension wins.
 */
const WEED_TYPES: [string, string][] = [
  ['.txt', 'text/plain'],
  ['.log', 'text/plain'],
  ['.cfg', 'text/plain'],
  ['.conf', 'text/plain'],
  ['.ini', 'text/plain'],
  ['.properties', 'text/plain'],
  ['.gitignore', 'text/plain'],
  ['.gitattributes', 'text/plain'],
  ['.env', 'text/plain'],
  ['.md', 'text/markdown'],
  ['.markdown', 'text/markdown'],
  ['.html', 'text/html'],
  ['.htm', 'text/html'],
  ['.css', 'text/css'],
  ['.xml', 'application/xml'],
  ['.js', 'application/javascript'],
  ['.mjs', 'application/javascript'],
  ['.ts', 'text/typescript'],
  ['.py', 'text/x-python'],
  ['.go', 'text/x-go'],
  ['.java', 'text/x-java'],
  ['.c', 'text/x-c'],
  ['.cpp', 'text/x-c++'],
  ['.cc', 'text/x-c++'],
  ['.cxx', 'text/x-c++'],
  ['.c++', 'text/x-c++'],
  ['.h', 'text/x-c-header'],
  ['.hpp', 'text/x-c-header'],
  ['.php', 'text/x-php'],
  ['.rb', 'text/x-ruby'],
  ['.pl', 'text/x-perl'],
  ['.rs', 'text/x-rust'],
  ['.swift', 'text/x-swift'],
  ['.kt', 'text/x-kotlin'],
  ['.scala', 'text/x-scala'],
  ['.sh', 'text/x-shellscript'],
  ['.bash', 'text/x-shellscript'],
  ['.zsh', 'text/x-shellscript'],
  ['.fish', 'text/x-shellscript'],
  ['.dockerfile', 'text/x-dockerfile'],
  ['.json', 'application/json'],
  ['.yaml', 'text/yaml'],
  ['.yml', 'text/yaml'],
  ['.csv', 'text/csv'],
  ['.sql', 'text/sql'],
  ['.jpg', 'image/jpeg'],
  ['.jpeg', 'image/jpeg'],
  ['.png', 'image/png'],
  ['.gif', 'image/gif'],
  ['.bmp', 'image/bmp'],
  ['.webp', 'image/webp'],
  ['.svg', 'image/svg+xml'],
  ['.ico', 'image/x-icon'],
  ['.pdf', 'application/pdf'],
  ['.doc', 'application/msword'],
  ['.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  ['.xls', 'application/vnd.ms-excel'],
  ['.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  ['.ppt', 'application/vnd.ms-powerpoint'],
  ['.pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
  ['.zip', 'application/zip'],
  ['.tar', 'application/x-tar'],
  ['.gz', 'application/gzip'],
  ['.bz2', 'application/x-bzip2'],
  ['.7z', 'application/x-7z-compressed'],
  ['.rar', 'application/x-rar-compressed'],
  ['.mp4', 'video/mp4'],
  ['.avi', 'video/x-msvideo'],
  ['.mov', 'video/quicktime'],
  ['.wmv', 'video/x-ms-wmv'],
  ['.flv', 'video/x-flv'],
  ['.webm', 'video/webm'],
  ['.mp3', 'audio/mpeg'],
  ['.wav', 'audio/wav'],
  ['.flac', 'audio/flac'],
  ['.aac', 'audio/aac'],
  ['.ogg', 'audio/ogg'],
];

/**
 * The table the `weed` volume server has on a host with these files: Go's (buildMimeTable), then
 * the binary's own entries (WEED_TYPES) on top.
 */
export function buildWeedMimeTable(readText: (path: string) => string | undefined): MimeTable {
  const t = buildMimeTable(readText);
  for (const [ext, type] of WEED_TYPES) setExtensionType(t, ext, type);
  return t;
}

let table: MimeTable | undefined;

function hostTable(): MimeTable {
  if (!table) {
    table = buildWeedMimeTable((p) => {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    });
  }
  return table;
}

/** Loads the host MIME database now (so the first request does not pay for it). */
export function preloadMimeTable(): void {
  hostTable();
}

/** Go's mime.TypeByExtension: case-sensitive lookup first, then lower-cased. '' when unknown. */
export function typeByExtension(ext: string, t: MimeTable = hostTable()): string {
  const v = t.exact.get(ext);
  if (v !== undefined) return v;
  return t.lower.get(lowerAscii(ext)) ?? '';
}

/** The byte string (one char per byte) of stored needle bytes such as its name or mime. */
export function bytesToString(u: Uint8Array): string {
  return u.length === 0 ? '' : Buffer.from(u.buffer, u.byteOffset, u.length).toString('latin1');
}

/** A needle's stored mime as the read path uses it: '' when absent or application/octet-stream. */
export function storedMimeType(mime: Uint8Array): string {
  const mt = bytesToString(mime);
  return mt.startsWith('application/octet-stream') ? '' : mt;
}

/** Go's writeResponseContent type choice: the given type, else the file name's extension's. */
export function typeForName(mimeType: string, filename: string): string {
  if (mimeType !== '' || filename === '') return mimeType;
  const ext = goExt(filename);
  return ext !== '' ? typeByExtension(ext) : '';
}

/** Go's path.Base (filepath.Base on unix): the last element, trailing slashes dropped. */
export function goBase(path: string): string {
  if (path === '') return '.';
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
  if (end === 0) return '/';
  const s = end === path.length ? path : path.slice(0, end);
  const i = s.lastIndexOf('/');
  return i >= 0 ? s.slice(i + 1) : s;
}

/** Go's filepath.Ext: from the last '.' of the last path element, '' when none. */
export function goExt(path: string): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const c = path.charCodeAt(i);
    if (c === 47) return '';
    if (c === 46) return path.slice(i);
  }
  return '';
}

// ------------------------------------------------------------------ sniffing

type Sig = (d: Uint8Array, firstNonWS: number) => string;

function isWS(b: number): boolean {
  return b === 9 || b === 10 || b === 12 || b === 13 || b === 32;
}

function bytesOf(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function htmlSig(pattern: string): Sig {
  const h = bytesOf(pattern);
  return (d, first) => {
    if (d.length - first < h.length + 1) return '';
    for (let i = 0; i < h.length; i++) {
      const b = h[i];
      let db = d[first + i];
      if (b >= 65 && b <= 90) db &= 0xdf;
      if (b !== db) return '';
    }
    const tt = d[first + h.length];
    return tt === 32 || tt === 62 ? 'text/html; charset=utf-8' : '';
  };
}

function exactSig(pattern: string, ct: string): Sig {
  const p = bytesOf(pattern);
  return (d) => {
    if (d.length < p.length) return '';
    for (let i = 0; i < p.length; i++) if (d[i] !== p[i]) return '';
    return ct;
  };
}

function maskedSig(mask: string, pattern: string, ct: string, skipWS = false): Sig {
  const m = bytesOf(mask);
  const p = bytesOf(pattern);
  return (d, first) => {
    const start = skipWS ? first : 0;
    if (d.length - start < p.length) return '';
    for (let i = 0; i < p.length; i++) if ((d[start + i] & m[i]) !== p[i]) return '';
    return ct;
  };
}

const mp4Sig: Sig = (d) => {
  if (d.length < 12) return '';
  const boxSize = ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
  if (d.length < boxSize || boxSize % 4 !== 0) return '';
  if (d[4] !== 0x66 || d[5] !== 0x74 || d[6] !== 0x79 || d[7] !== 0x70) return '';
  for (let st = 8; st < boxSize; st += 4) {
    if (st === 12) continue;
    if (d[st] === 0x6d && d[st + 1] === 0x70 && d[st + 2] === 0x34) return 'video/mp4';
  }
  return '';
};

const textSig: Sig = (d, first) => {
  for (let i = first; i < d.length; i++) {
    const b = d[i];
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return '';
  }
  return 'text/plain; charset=utf-8';
};

const SIGNATURES: Sig[] = [
  ...['<!DOCTYPE HTML', '<HTML', '<HEAD', '<SCRIPT', '<IFRAME', '<H1', '<DIV', '<FONT', '<TABLE', '<A', '<STYLE', '<TITLE', '<B', '<BODY', '<BR', '<P', '<!--'].map(htmlSig),
  maskedSig('\xFF\xFF\xFF\xFF\xFF', '<?xml', 'text/xml; charset=utf-8', true),
  exactSig('%PDF-', 'application/pdf'),
  exactSig('%!PS-Adobe-', 'application/postscript'),
  maskedSig('\xFF\xFF\x00\x00', '\xFE\xFF\x00\x00', 'text/plain; charset=utf-16be'),
  maskedSig('\xFF\xFF\x00\x00', '\xFF\xFE\x00\x00', 'text/plain; charset=utf-16le'),
  maskedSig('\xFF\xFF\xFF\x00', '\xEF\xBB\xBF\x00', 'text/plain; charset=utf-8'),
  exactSig('\x00\x00\x01\x00', 'image/x-icon'),
  exactSig('\x00\x00\x02\x00', 'image/x-icon'),
  exactSig('BM', 'image/bmp'),
  exactSig('GIF87a', 'image/gif'),
  exactSig('GIF89a', 'image/gif'),
  maskedSig('\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF', 'RIFF\x00\x00\x00\x00WEBPVP', 'image/webp'),
  exactSig('\x89PNG\x0D\x0A\x1A\x0A', 'image/png'),
  exactSig('\xFF\xD8\xFF', 'image/jpeg'),
  maskedSig('\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF', 'FORM\x00\x00\x00\x00AIFF', 'audio/aiff'),
  maskedSig('\xFF\xFF\xFF', 'ID3', 'audio/mpeg'),
  maskedSig('\xFF\xFF\xFF\xFF\xFF', 'OggS\x00', 'application/ogg'),
  maskedSig('\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF', 'MThd\x00\x00\x00\x06', 'audio/midi'),
  maskedSig('\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF', 'RIFF\x00\x00\x00\x00AVI ', 'video/avi'),
  maskedSig('\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF', 'RIFF\x00\x00\x00\x00WAVE', 'audio/wave'),
  mp4Sig,
  exactSig('\x1A\x45\xDF\xA3', 'video/webm'),
  maskedSig('\x00'.repeat(34) + '\xFF\xFF', '\x00'.repeat(34) + 'LP', 'application/vnd.ms-fontobject'),
  exactSig('\x00\x01\x00\x00', 'font/ttf'),
  exactSig('OTTO', 'font/otf'),
  exactSig('ttcf', 'font/collection'),
  exactSig('wOFF', 'font/woff'),
  exactSig('wOF2', 'font/woff2'),
  exactSig('\x1F\x8B\x08', 'application/x-gzip'),
  exactSig('PK\x03\x04', 'application/zip'),
  exactSig('Rar!\x1A\x07\x00', 'application/x-rar-compressed'),
  exactSig('Rar!\x1A\x07\x01\x00', 'application/x-rar-compressed'),
  exactSig('\x00\x61\x73\x6D', 'application/wasm'),
  textSig,
];

/** Go's http.DetectContentType over the first 512 bytes of `data`. */
export function detectContentType(data: Uint8Array): string {
  const d = data.length > 512 ? data.subarray(0, 512) : data;
  let first = 0;
  while (first < d.length && isWS(d[first])) first++;
  for (const sig of SIGNATURES) {
    const ct = sig(d, first);
    if (ct !== '') return ct;
  }
  return 'application/octet-stream';
}

// ------------------------------------------------------------------ small Go helpers

/** Go's strconv.ParseBool: true / false / undefined (a parse error). */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
    default:
      return undefined;
  }
}

// RFC 7230 tchar (Go's validHeaderFieldByte).
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/** True if `c` (a char code) is an RFC 7230 token character. */
export function isTchar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/**
 * Go's textproto.CanonicalMIMEHeaderKey: first letter and letters after '-' upper-cased, the rest
 * lower-cased; a key with a space or a non-token byte is returned unchanged.
 */
export function canonicalHeaderKey(key: string): string {
  let canonical = true;
  let upper = true;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return key;
    if ((upper && c >= 97 && c <= 122) || (!upper && c >= 65 && c <= 90)) canonical = false;
    upper = c === 45;
  }
  if (canonical) return key;
  let out = '';
  upper = true;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (upper && c >= 97 && c <= 122) c -= 32;
    else if (!upper && c >= 65 && c <= 90) c += 32;
    out += String.fromCharCode(c);
    upper = c === 45;
  }
  return out;
}

/** Converts a JS (UTF-16) string to a byte string (UTF-8 bytes, one char each), as Go holds it. */
export function toByteString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return Buffer.from(s, 'utf8').toString('latin1');
  }
  return s;
}

/** Makes a byte string safe as a Node header value (Go turns CR/LF into spaces; Node refuses CTLs). */
export function headerSafe(v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f || c > 0xff) {
      let out = '';
      for (let j = 0; j < v.length; j++) {
        const d = v.charCodeAt(j);
        out += (d < 0x20 && d !== 9) || d === 0x7f || d > 0xff ? ' ' : v[j];
      }
      return out;
    }
  }
  return v;
}
