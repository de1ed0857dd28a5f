// A subset of Go's http.DetectContentType, enough for the upload path's "compressible?" decision
// (http-api.md §4.2): HTML/XML/PDF/PostScript, BOMs, common binary formats, then text vs binary.

const HTML_TAGS = ['<!DOCTYPE HTML', '<HTML', '<HEAD', '<SCRIPT', '<IFRAME', '<H1', '<DIV', '<FONT', '<TABLE', '<A', '<STYLE', '<TITLE', '<B', '<BODY', '<BR', '<P', '<!--'];

function isWs(b: number): boolean {
  return b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d || b === 0x20;
}

function startsWith(d: Uint8Array, pos: number, sig: number[] | string): boolean {
  const s = typeof sig === 'string' ? Array.from(sig, (c) => c.charCodeAt(0)) : sig;
  if (d.length - pos < s.length) return false;
  for (let i = 0; i < s.length; i++) if (d[pos + i] !== s[i]) return false;
  return true;
}

function htmlAt(d: Uint8Array, pos: number): boolean {
  for (const tag of HTML_TAGS) {
    if (d.length - pos < tag.length + 1) continue;
    let ok = true;
    for (let i = 0; i < tag.length && ok; i++) {
      let b = d[pos + i];
      if (b >= 0x61 && b <= 0x7a) b -= 0x20;
      ok = b === tag.charCodeAt(i);
    }
    const term = d[pos + tag.length];
    if (ok && (term === 0x20 || term === 0x3e)) return true;
  }
  return false;
}

export function detectContentType(data: Uint8Array): string {
  const d = data.length > 512 ? data.subarray(0, 512) : data;
  let ws = 0;
  while (ws < d.length && isWs(d[ws])) ws++;
  if (htmlAt(d, ws)) return 'text/html; charset=utf-8';
  if (startsWith(d, ws, '<?xml')) return 'text/xml; charset=utf-8';
  if (startsWith(d, 0, '%PDF-')) return 'application/pdf';
  if (startsWith(d, 0, '%!PS-Adobe-')) return 'application/postscript';
  if (startsWith(d, 0, [0xfe, 0xff])) return 'text/plain; charset=utf-16be';
  if (startsWith(d, 0, [0xff, 0xfe])) return 'text/plain; charset=utf-16le';
  if (startsWith(d, 0, [0xef, 0xbb, 0xbf])) return 'text/plain; charset=utf-8';
  if (startsWith(d, 0, [0x00, 0x00, 0x01, 0x00]) || startsWith(d, 0, [0x00, 0x00, 0x02, 0x00])) return 'image/x-icon';
  if (startsWith(d, 0, 'BM')) return 'image/bmp';
  if (startsWith(d, 0, 'GIF87a') || startsWith(d, 0, 'GIF89a')) return 'image/gif';
  if (startsWith(d, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(d, 0, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(d, 0, 'RIFF') && startsWith(d, 8, 'WEBPVP')) return 'image/webp';
  if (startsWith(d, 0, 'RIFF') && startsWith(d, 8, 'WAVE')) return 'audio/wave';
  if (startsWith(d, 0, 'RIFF') && startsWith(d, 8, 'AVI ')) return 'video/avi';
  if (startsWith(d, 0, 'OggS\x00')) return 'application/ogg';
  if (startsWith(d, 0, 'ID3')) return 'audio/mpeg';
  if (startsWith(d, 0, [0x1f, 0x8b, 0x08])) return 'application/x-gzip';
  if (startsWith(d, 0, [0x50, 0x4b, 0x03, 0x04])) return 'application/zip';
  if (startsWith(d, 0, 'Rar!\x1a\x07')) return 'application/x-rar-compressed';
  if (startsWith(d, 0, [0x00, 0x61, 0x73, 0x6d])) return 'application/wasm';
  for (let i = 0; i < d.length; i++) {
    const b = d[i];
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return 'application/octet-stream';
  }
  return 'text/plain; charset=utf-8';
}
