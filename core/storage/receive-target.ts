// Where a file pushed by a peer (ReceiveFile) may be written, or why it may not. Go writes whatever
// name it is given beside a mounted volume (weed/server/volume_grpc_copy.go ReceiveFile); several of
// those names are acted on later: `.cpc`/`.cpd`/`.cpx` are renamed over the `.dat`/`.idx` at the next
// mount (an interrupted compaction rolled forward), a `.note` makes the startup scan delete the
// volume, a `.vif` sets its read-only state and remote files. Here a mounted volume accepts only
// what a copy legitimately sends (the EC flows' shard and index files) or names nothing ever reads;
// the EC path takes EC files only; nothing received may land on a live file of a volume on disk.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DiskLocation } from './disk-location.js';
import { findEcShardTargetLocation, findFreeLocation, holdsEcShardFile, MAX_SHARD_COUNT, type PlacementView } from './ec-placement.js';
import { VOLUME_FILE_EXTENSIONS, volumeBaseName, volumeFileName } from './volume-files.js';
import type { Volume } from './volume.js';

export interface ReceiveRequest {
  volumeId: number;
  ext: string;
  collection: string;
  isEcVolume: boolean;
  /** Index of the location for an EC file; 0 leaves the choice to placement. */
  diskId: number;
  /** Non-empty: stage a new regular volume on a disk of that type (EC decode onto a clean peer). */
  diskType: string;
}

/**
 * `unchangedOnly`: the file may only be received byte for byte as it already is (an EC copy of
 * the .vif a mounted volume shares, sent back to its own server); otherwise this error is the answer.
 */
export type ReceiveTarget = { path: string; unchangedOnly?: string } | { error: string };

/** The largest file received under `unchangedOnly` (a .vif is a few hundred bytes). */
export const UNCHANGED_ONLY_MAX_BYTES = 1024 * 1024;

export interface ReceiveView extends PlacementView {
  findVolume(vid: number): Volume | undefined;
}

/** `.ec00`..`.ec31`: a shard of an EC volume (Go's ToExt). */
export function isEcShardExt(ext: string): boolean {
  const m = /^\.ec(\d{2})$/.exec(ext);
  return m !== null && Number(m[1]) < MAX_SHARD_COUNT;
}

/** The files of an EC volume a peer sends (Go's shard_distribution.go sendShardFileToDestination). */
export function isEcFileExt(ext: string): boolean {
  return isEcShardExt(ext) || ext === '.ecx' || ext === '.ecj' || ext === '.vif' || ext === '.ecsum';
}

/** Shard and index files: what an EC copy may place beside a mounted regular volume. */
function isEcDataExt(ext: string): boolean {
  return isEcShardExt(ext) || ext === '.ecx' || ext === '.ecj';
}

/** Names a mount, the startup scan or a running volume reads or acts on (compared lower-cased). */
const ACTED_ON = new Set([...VOLUME_FILE_EXTENSIONS.map((e) => `.${e}`), '.cpldb', '.ecx', '.ecj', '.ecsum']);

function actedOn(ext: string): boolean {
  const lower = ext.toLowerCase();
  return ACTED_ON.has(lower) || /^\.ec\d+$/.test(lower);
}

function toDiskType(s: string): string {
  const v = s.toLowerCase();
  return v === 'hdd' ? '' : v;
}

/** Go's %v of a []uint32: `[0 2]`. */
function goList(ids: number[]): string {
  return `[${ids.join(' ')}]`;
}

/** The locations on which EC volume `vid` has shards mounted (Go's FindEcVolumeDiskIds). */
function mountedEcDiskIds(view: ReceiveView, vid: number): number[] {
  return view.locations.filter((loc) => view.contributions.mountedEcShardIds(loc, vid).length > 0).map((loc) => loc.diskId);
}

function ecMountedError(view: ReceiveView, vid: number): string | undefined {
  const disks = mountedEcDiskIds(view, vid);
  // A mounted EcVolume reads these files through open descriptors: replacing them under it
  // corrupts live readers (Go's ReceiveFile refuses the same).
  return disks.length > 0 ? `ec volume ${vid} is mounted on disk_ids:${goList(disks)}; unmount before ReceiveFile` : undefined;
}

function ecTarget(view: ReceiveView, req: ReceiveRequest): ReceiveTarget {
  const { volumeId: vid, ext, collection } = req;
  if (!isEcFileExt(ext)) return { error: `invalid ec volume file extension ${JSON.stringify(ext)}` };
  const mounted = ecMountedError(view, vid);
  if (mounted) return { error: mounted };
  let loc: DiskLocation | undefined;
  if (req.diskId > 0) {
    if (req.diskId >= view.locations.length) {
      return { error: `invalid disk_id ${req.diskId}: only have ${view.locations.length} disks` };
    }
    loc = view.locations[req.diskId];
  } else {
    loc = findEcShardTargetLocation(view, collection, vid);
  }
  if (!loc) return { error: 'no storage location available' };
  const path = join(loc.directory, volumeBaseName(collection, vid) + ext);
  if (ext === '.vif') {
    // An EC volume shares its .vif with the regular volume of the same id: a received one must
    // not change a volume's read-only state or remote files behind its back. The EC worker may
    // send the encode source its own .vif back: identical bytes change nothing and are accepted.
    if (view.findVolume(vid)) return { path, unchangedOnly: `volume ${vid} is mounted; unmount it before receiving its .vif file` };
    if (existsSync(volumeFileName(loc.directory, collection, vid) + '.dat')) {
      return { path, unchangedOnly: `volume ${vid} has a .dat in ${loc.directory}; refusing to replace its .vif` };
    }
  }
  return { path };
}

function stagedTarget(view: ReceiveView, req: ReceiveRequest): ReceiveTarget {
  const { volumeId: vid, ext, collection } = req;
  // A later VolumeEcShardsToVolume renames `<base><ext>.copying` into place: it must not replace
  // the files of a volume that is on disk but not mounted.
  for (const loc of view.locations) {
    if (existsSync(volumeFileName(loc.directory, collection, vid) + '.dat')) {
      return { error: `volume ${vid} has a .dat in ${loc.directory}; refusing to stage another copy` };
    }
  }
  const want = toDiskType(req.diskType);
  const loc = findFreeLocation(
    view,
    (l) => l.diskType === want && view.contributions.mountedEcShardIds(l, vid).length === 0 && !holdsEcShardFile(l.directory, collection, vid),
  );
  if (!loc) return { error: `no ${req.diskType} disk location with a free slot for volume ${vid}` };
  // `.copying` is not a volume file name: the scan never loads a half-received volume.
  return { path: volumeFileName(loc.directory, collection, vid) + ext + '.copying' };
}

/** Resolves a ReceiveFile info message to the path to write, or Go-style error text. */
export function receiveTarget(view: ReceiveView, req: ReceiveRequest): ReceiveTarget {
  if (!/^\.[0-9A-Za-z]+$/.test(req.ext)) return { error: `invalid file extension ${JSON.stringify(req.ext)}` };
  if (req.isEcVolume) return ecTarget(view, req);
  const v = view.findVolume(req.volumeId);
  if (!v) {
    if (req.diskType === '') return { error: `volume ${req.volumeId} not found` };
    return stagedTarget(view, req);
  }
  if (isEcDataExt(req.ext)) {
    const mounted = ecMountedError(view, req.volumeId);
    if (mounted) return { error: mounted };
  } else if (actedOn(req.ext)) {
    // The live files, and every name a later mount or scan turns into a change of the volume.
    return { error: `volume ${req.volumeId} is mounted; unmount it before receiving its ${req.ext} file` };
  }
  return { path: v.fileName(req.ext) };
}
