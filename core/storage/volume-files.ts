// Volume file naming (Go: weed/storage/volume.go VolumeFileName) and whole-volume file removal, as Go does it.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/** `<collection>_<id>` or `<id>` when the collection is empty. */
export function volumeBaseName(collection: string, id: number): string {
  return collection === '' ? String(id >>> 0) : `${collection}_${id >>> 0}`;
}

/** Go's VolumeFileName: dir joined with the base name. */
export function volumeFileName(dir: string, collection: string, id: number): string {
  return join(dir, volumeBaseName(collection, id));
}

/** Extensions that live in the index directory; everything else lives in the data directory. */
export const INDEX_DIR_EXTENSIONS = new Set(['.idx', '.cpx', '.ldb', '.cpldb', '.rdb', '.sdx']);

/**
 * Parses `<collection>_<vid>` / `<vid>` (the last `_` separates, collections may contain `_`).
 * Returns undefined if the id part is not a decimal number.
 */
export function parseVolumeBaseName(base: string): { collection: string; id: number } | undefined {
  const i = base.lastIndexOf('_');
  const collection = i > 0 ? base.slice(0, i) : '';
  const idText = i > 0 ? base.slice(i + 1) : base;
  if (!/^[0-9]+$/.test(idText)) return undefined;
  return { collection, id: Number(BigInt(idText) & 0xffff_ffffn) };
}

/** Extensions Go's removeVolumeFiles deletes (the .vif is optional). */
export const VOLUME_FILE_EXTENSIONS = ['dat', 'idx', 'vif', 'sdx', 'cpd', 'cpx', 'cpc', 'ldb', 'rdb', 'note', 'unavailable'];

/**
 * Go's removeVolumeFiles for one base path (dir + base name): removes every volume file, the .vif
 * unless keepVif (it is shared with an EC volume). Missing files are fine.
 */
export async function removeVolumeFiles(basePath: string, keepVif = false): Promise<void> {
  for (const ext of VOLUME_FILE_EXTENSIONS) {
    if (keepVif && ext === 'vif') continue;
    await rm(`${basePath}.${ext}`, { recursive: true, force: true });
  }
}

/**
 * Removes the files of an incomplete volume (one that has a `.note`: an unfinished copy), from
 * both the data and the index directory, as Go does at startup.
 */
export async function removeIncompleteVolume(dataDir: string, idxDir: string, collection: string, id: number, keepVif = false): Promise<void> {
  await removeVolumeFiles(volumeFileName(dataDir, collection, id), keepVif);
  if (idxDir !== dataDir) await removeVolumeFiles(volumeFileName(idxDir, collection, id), keepVif);
}
