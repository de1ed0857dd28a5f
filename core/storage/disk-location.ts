// One `-dir` entry: its directory, index directory, max volume count, disk type, min free space,
// tags and the identity (`vol_dir.uuid`) the master uses to detect the same disk loaded twice.
import { randomUUID } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import type { MinFreeSpace } from '../../config/types.js';
import { diskStatus, type DiskStatus } from './disk-status.js';
import { loadVolumeInfo } from './volume-info.js';
import { parseVolumeBaseName, removeIncompleteVolume } from './volume-files.js';

export const UUID_FILE_NAME = 'vol_dir.uuid';

export interface DiskLocationOptions {
  directory: string;
  idxDirectory: string;
  maxVolumeCount: number;
  diskType: string; // '' = hdd
  minFreeSpace: MinFreeSpace;
  tags: string[];
  diskId: number; // index in -dir order
}

function loadOrCreateUuid(dir: string): string {
  const file = join(dir, UUID_FILE_NAME);
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    if (text.length > 0) return text;
  }
  const id = randomUUID();
  writeFileSync(file, id, { mode: 0o644 });
  return id;
}

export class DiskLocation {
  readonly directory: string;
  readonly idxDirectory: string;
  readonly diskType: string;
  readonly minFreeSpace: MinFreeSpace;
  readonly tags: string[];
  readonly diskId: number;
  readonly uuid: string;
  maxVolumeCount: number;
  /** Set by the free-space check; while true the location's volumes refuse writes. */
  isLowOnSpace = false;

  constructor(opts: DiskLocationOptions) {
    this.directory = resolve(opts.directory);
    this.idxDirectory = resolve(opts.idxDirectory || opts.directory);
    this.diskType = opts.diskType;
    this.minFreeSpace = opts.minFreeSpace;
    this.tags = opts.tags;
    this.diskId = opts.diskId;
    this.maxVolumeCount = opts.maxVolumeCount;
    for (const d of new Set([this.directory, this.idxDirectory])) {
      mkdirSync(d, { recursive: true });
      try {
        accessSync(d, constants.W_OK);
      } catch {
        throw new Error(`Check Data Folder(-dir) Writable ${d} : not writable`);
      }
    }
    this.uuid = loadOrCreateUuid(this.directory);
  }

  /**
   * Volumes present in this directory (by their `.dat`, or a `.vif` naming a remote data file). A volume with a `.note` is the leftover of
   * an unfinished copy: its files are removed, as Go does at startup.
   */
  async scanVolumes(): Promise<{ collection: string; id: number }[]> {
    const names = new Set(await readdir(this.directory));
    const out: { collection: string; id: number }[] = [];
    for (const name of names) {
      if (!name.endsWith('.dat')) continue;
      const base = name.slice(0, -4);
      const parsed = parseVolumeBaseName(base);
      if (!parsed) continue;
      if (names.has(`${base}.note`)) {
        await removeIncompleteVolume(this.directory, this.idxDirectory, parsed.collection, parsed.id);
        continue;
      }
      out.push(parsed);
    }
    // A volume tiered to a remote store may have no local .dat: its .vif names the remote file
    // (Go finds volumes by .idx/.vif too: weed/storage/disk_location.go).
    for (const name of names) {
      if (!name.endsWith('.vif')) continue;
      const base = name.slice(0, -4);
      if (names.has(`${base}.dat`) || names.has(`${base}.note`)) continue;
      const parsed = parseVolumeBaseName(base);
      if (!parsed) continue;
      const { info, error } = await loadVolumeInfo(join(this.directory, name));
      if (!error && info.files.length > 0) out.push(parsed);
    }
    return out;
  }

  status(): DiskStatus {
    return diskStatus(this.directory);
  }

  /** Re-evaluates the min-free-space rule; returns true when the state changed. */
  checkFreeSpace(): boolean {
    const s = this.status();
    if (s.error || s.all === 0) return false;
    const low =
      this.minFreeSpace.kind === 'percent'
        ? s.percent_free < this.minFreeSpace.value
        : s.free < this.minFreeSpace.value;
    const changed = low !== this.isLowOnSpace;
    this.isLowOnSpace = low;
    return changed;
  }
}
