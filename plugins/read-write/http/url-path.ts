// Splits a read/delete URL path into vid, fid, filename and extension, by the number of slashes,
// as the Go server does (weed/server/common.go parseURLPath).
import { extname } from 'node:path';

export interface UrlPath {
  vid: string;
  fid: string;
  filename: string;
  ext: string;
  volumeIdOnly: boolean;
}

export function parseUrlPath(path: string): UrlPath {
  const out: UrlPath = { vid: '', fid: '', filename: '', ext: '', volumeIdOnly: false };
  let slashes = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) slashes++;
  if (slashes === 3) {
    const parts = path.split('/');
    out.vid = parts[1];
    out.fid = parts[2];
    out.filename = parts[3];
    out.ext = extname(out.filename);
  } else if (slashes === 2) {
    const parts = path.split('/');
    out.vid = parts[1];
    out.fid = parts[2];
    const dot = out.fid.lastIndexOf('.');
    if (dot > 0) {
      out.ext = out.fid.slice(dot);
      out.fid = out.fid.slice(0, dot);
    }
  } else if (slashes === 1) {
    const comma = path.lastIndexOf(',');
    if (comma <= 0) {
      out.vid = path.slice(1);
      out.volumeIdOnly = true;
      return out;
    }
    out.vid = path.slice(1, comma);
    const dot = path.lastIndexOf('.');
    if (dot > comma) {
      out.fid = path.slice(comma + 1, dot);
      out.ext = path.slice(dot);
    } else {
      out.fid = path.slice(comma + 1);
    }
  }
  // Four or more slashes are not a shape Go serves: vid stays empty and the caller answers 400.
  return out;
}

/** The fid text of a decoded write path: after the last comma, without an extension. */
export function fidTextOf(path: string): string {
  const comma = path.lastIndexOf(',');
  const dot = path.lastIndexOf('.');
  return dot > comma ? path.slice(comma + 1, dot) : path.slice(comma + 1);
}
