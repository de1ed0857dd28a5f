// Image crop/resize on read (Go's weed/images Cropped/Resized driven by the query) and EXIF
// orientation fixing (for -images.fix.orientation on upload), done with sharp. sharp is loaded on
// first use so a server that never transforms an image does not pay for libvips.
import type { Sharp, SharpOptions } from 'sharp';

type SharpFactory = (input?: Buffer, options?: SharpOptions) => Sharp;

let sharpLoader: Promise<SharpFactory | undefined> | undefined;

function loadSharp(): Promise<SharpFactory | undefined> {
  sharpLoader ??= import('sharp').then(
    (m) => ((m as unknown as { default: SharpFactory }).default ?? (m as unknown as SharpFactory)),
    () => undefined,
  );
  return sharpLoader;
}

export interface ResizeParams {
  width: number;
  height: number;
  mode: string;
}

export interface CropParams {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface ImageOps {
  resize?: ResizeParams;
  crop?: CropParams;
}

/** Query values by key, as Go's url.Values. */
export type QueryValues = Map<string, string[]>;

function first(q: QueryValues, key: string): string {
  const v = q.get(key);
  return v === undefined ? '' : (v[0] ?? '');
}

/** Go's strconv.Atoi with the error ignored (0 on any error). */
export function atoi(s: string): number {
  if (s === '') return 0;
  let i = 0;
  let neg = false;
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-';
    i = 1;
  }
  if (i >= s.length) return 0;
  let v = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return 0;
    v = v * 10 + (c - 48);
  }
  if (v > 2 ** 63) return 0;
  return neg ? -v : v;
}

const RESIZE_EXTS = new Set(['.png', '.jpg', '.jpeg', '.gif', '.webp']);
const CROP_EXTS = new Set(['.png', '.jpg', '.jpeg', '.gif']);

/** Go's shouldResizeImages: width/height only read for image extensions; resize when either > 0. */
export function resizeParams(ext: string, query: QueryValues): ResizeParams | undefined {
  let width = 0;
  let height = 0;
  if (RESIZE_EXTS.has(ext)) {
    width = atoi(first(query, 'width'));
    height = atoi(first(query, 'height'));
  }
  if (width > 0 || height > 0) return { width, height, mode: first(query, 'mode') };
  return undefined;
}

/** Go's shouldCropImages: x1 ≥ 0, y1 ≥ 0, x2 > x1, y2 > y1 (params only read for crop extensions). */
export function cropParams(ext: string, query: QueryValues): CropParams | undefined {
  let x1 = 0;
  let y1 = 0;
  let x2 = 0;
  let y2 = 0;
  if (CROP_EXTS.has(ext)) {
    x1 = atoi(first(query, 'crop_x1'));
    y1 = atoi(first(query, 'crop_y1'));
    x2 = atoi(first(query, 'crop_x2'));
    y2 = atoi(first(query, 'crop_y2'));
  }
  if (x1 >= 0 && y1 >= 0 && x2 > x1 && y2 > y1) return { x1, y1, x2, y2 };
  return undefined;
}

/** The operations a request asks for on a file with extension `ext` (lower-cased here). */
export function imageOps(ext: string, query: QueryValues): ImageOps | undefined {
  if (ext === '') return undefined;
  const lower = ext.toLowerCase();
  if (!RESIZE_EXTS.has(lower)) return undefined;
  const resize = resizeParams(lower, query);
  const crop = cropParams(lower, query);
  if (!resize && !crop) return undefined;
  return { resize, crop };
}

const DECODABLE = new Set(['png', 'jpeg', 'gif', 'webp']);

function encode(img: Sharp, ext: string): Sharp {
  switch (ext) {
    case '.jpg':
    case '.jpeg':
      return img.jpeg({ quality: 75 });
    case '.gif':
      return img.gif();
    default:
      // .png, and .webp (Go has no webp encoder: it writes PNG)
      return img.png();
  }
}

/**
 * Crops, then resizes, as Go does. Undecodable input, or a crop rectangle past the image, leaves the
 * data unchanged for that step. Returns the new bytes (or `data` itself when nothing applied).
 */
export async function transformImage(data: Buffer, ext: string, ops: ImageOps): Promise<Buffer> {
  const lower = ext.toLowerCase();
  const sharp = await loadSharp();
  if (!sharp) return data;
  let out = data;
  try {
    if (ops.crop && CROP_EXTS.has(lower)) {
      const meta = await sharp(out).metadata();
      if (meta.format && DECODABLE.has(meta.format) && meta.width && meta.height) {
        const c = ops.crop;
        if (c.x2 <= meta.width && c.y2 <= meta.height) {
          const img = sharp(out).extract({ left: c.x1, top: c.y1, width: c.x2 - c.x1, height: c.y2 - c.y1 });
          out = await encode(img, lower).toBuffer();
        }
      }
    }
    if (ops.resize) {
      const meta = await sharp(out).metadata();
      if (meta.format && DECODABLE.has(meta.format) && meta.width && meta.height) {
        const { width, height, mode } = ops.resize;
        const dx = meta.width;
        const dy = meta.height;
        if ((dx > width && width !== 0) || (dy > height && height !== 0)) {
          const w = width > 0 ? width : undefined;
          const h = height > 0 ? height : undefined;
          let img: Sharp;
          if (mode === 'fit') {
            img = sharp(out).resize(w, h, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' });
          } else if (mode === 'fill' || (width === height && dx !== dy)) {
            img = sharp(out).resize(w, h, { fit: 'cover', position: 'centre', kernel: 'lanczos3' });
          } else {
            img = sharp(out).resize(w, h, { fit: w && h ? 'fill' : 'inside', kernel: 'lanczos3' });
          }
          out = await encode(img, lower).toBuffer();
        }
      }
    }
  } catch {
    return out;
  }
  return out;
}

/**
 * Go's images.FixJpgOrientation: a JPEG whose EXIF orientation is not 1 is rotated/flipped upright
 * and re-encoded; anything else (other formats, no EXIF, undecodable) is returned unchanged.
 */
export async function fixJpegOrientation(data: Buffer): Promise<Buffer> {
  if (data.length < 3 || data[0] !== 0xff || data[1] !== 0xd8 || data[2] !== 0xff) return data;
  const sharp = await loadSharp();
  if (!sharp) return data;
  try {
    const meta = await sharp(data).metadata();
    if (meta.format !== 'jpeg' || !meta.orientation || meta.orientation === 1) return data;
    return await sharp(data).rotate().jpeg({ quality: 75 }).toBuffer();
  } catch {
    return data;
  }
}
