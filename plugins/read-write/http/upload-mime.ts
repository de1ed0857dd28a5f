// Go's mime.TypeByExtension as the upload path uses it (http-api.md §3.4, §4.2): a built-in table,
// then the host database (freedesktop globs2 if present, else the mime.types files). Text types
// loaded from files get `; charset=utf-8`.
import { readFileSync } from 'node:fs';

const BUILTIN: Record<string, string> = {
  '.avif': 'image/avif',
  '.css': 'text/css; charset=utf-8',
  '.gif': 'image/gif',
  '.htm': 'text/html; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.jpeg': 'image/jpeg',
  '.jpg': 'image/jpeg',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.mjs': 'text/javascript; charset=utf-8',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
  '.webp': 'image/webp',
  '.xml': 'text/xml; charset=utf-8',
};

const GLOBS = ['/usr/local/share/mime/globs2', '/usr/share/mime/globs2'];
const TYPE_FILES = ['/etc/mime.types', '/etc/apache2/mime.types', '/etc/apache/mime.types', '/etc/httpd/conf/mime.types'];

let exact: Map<string, string> | undefined;
let lower: Map<string, string> | undefined;

function withCharset(mimeType: string): string {
  const base = mimeType.split(';', 1)[0].trim().toLowerCase();
  if (base.startsWith('text/') && !/;\s*charset=/i.test(mimeType)) return `${base}; charset=utf-8`;
  return mimeType;
}

function set(ext: string, mimeType: string): void {
  const t = withCharset(mimeType);
  exact!.set(ext, t);
  lower!.set(ext.toLowerCase(), t);
}

function readLines(path: string): string[] | undefined {
  try {
    return readFileSync(path, 'utf8').split('\n');
  } catch {
    return undefined;
  }
}

function load(): void {
  exact = new Map();
  lower = new Map();
  for (const [k, v] of Object.entries(BUILTIN)) {
    exact.set(k, v);
    lower.set(k, v);
  }
  for (const path of GLOBS) {
    const lines = readLines(path);
    if (!lines) continue;
    for (const line of lines) {
      const f = line.split(':');
      if (f.length < 3 || f[0].length < 1 || f[2].length < 3) continue;
      if (f[0][0] === '#' || f[2][0] !== '*' || f[2][1] !== '.') continue;
      const ext = f[2].slice(1);
      if (/[?*[]/.test(ext)) continue;
      if (exact.has(ext)) continue;
      set(ext, f[1]);
    }
    return;
  }
  for (const path of TYPE_FILES) {
    const lines = readLines(path);
    if (!lines) continue;
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      if (fields.length <= 1 || fields[0].startsWith('#')) continue;
      for (const e of fields.slice(1)) {
        if (e.startsWith('#')) break;
        set('.' + e, fields[0]);
      }
    }
  }
}

/** Go's mime.TypeByExtension(ext) where ext includes the leading dot; '' when unknown. */
export function typeByExtension(ext: string): string {
  if (!exact) load();
  return exact!.get(ext) ?? lower!.get(ext.toLowerCase()) ?? '';
}
