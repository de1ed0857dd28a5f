// The server under fuzz: a real Go master, our server with a write-signing JWT key (so tokens are
// exercised), a few fuzz volumes the generators name, and one reference volume they never name.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signFileIdJwt } from '../../core/security/jwt.js';
import { volumeClient, type VolumeClient } from '../helpers/grpc.js';
import { rawRequest } from '../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, tempDir, type Master, type VolumeServer } from '../helpers/processes.js';
import type { Reference } from './invariants.js';

export const JWT_KEY = 'fuzz-write-key';
/** Volumes the generators aim at (collection '' and 'fz'). */
export const FUZZ_VIDS = [1, 2, 3];
export const FUZZ_COLLECTIONS: Record<number, string> = { 1: '', 2: '', 3: 'fz' };
/** The reference volume: never produced by a generator (see isReferenceName). */
export const REF_VID = 900_001;
export const REF_COLLECTION = 'keepref';

export function isReferenceName(v: unknown): boolean {
  return v === REF_VID || v === String(REF_VID) || v === REF_COLLECTION;
}

export interface Target {
  master: Master;
  vs: VolumeServer;
  grpc: VolumeClient;
  ref: Reference;
  dirs: string[];
  stop(): Promise<void>;
}

export function writeJwt(fid: string): string {
  return signFileIdJwt(JWT_KEY, fid, 600);
}

/** (Re)creates the fuzz volumes a destructive call may have removed; errors (exists) ignored. */
export async function ensureFuzzVolumes(c: VolumeClient): Promise<void> {
  for (const vid of FUZZ_VIDS) {
    try {
      await c.call('AllocateVolume', { volume_id: vid, collection: FUZZ_COLLECTIONS[vid], replication: '000', version: 3 });
    } catch {
      /* already there */
    }
    try {
      await c.call('VolumeMarkWritable', { volume_id: vid });
    } catch {
      /* unmounted or gone: allocation above handles the next round */
    }
  }
}

export async function startTarget(refNeedles = 40): Promise<Target> {
  const master = await startMaster(64);
  const secDir = tempDir('fuzz-sec-');
  const secFile = join(secDir, 'security.toml');
  writeFileSync(secFile, `[jwt.signing]\nkey = "${JWT_KEY}"\nexpires_after_seconds = 600\n`);
  const vs = await startVolumeServer({ master: master.address, extraArgs: ['--max', '30', '--securityFile', secFile] });
  const grpc = volumeClient(vs.grpcAddress);
  await grpc.call('AllocateVolume', { volume_id: REF_VID, collection: REF_COLLECTION, replication: '000', version: 3 });
  await ensureFuzzVolumes(grpc);
  const needles = new Map<string, Buffer>();
  for (let i = 1; i <= refNeedles; i++) {
    const fid = `${REF_VID},${i.toString(16)}0badf00d`;
    const size = i % 10 === 0 ? 300_000 + i : 1 + ((i * 7919) % 9000);
    const data = randomBytes(size);
    const r = await rawRequest('POST', `${vs.url}/${fid}`, { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${writeJwt(fid)}` }, data);
    if (r.status !== 201) throw new Error(`reference write ${fid}: ${r.status} ${r.body}`);
    needles.set(fid, data);
  }
  const dirs = [secDir, vs.dir, master.dir];
  return {
    master,
    vs,
    grpc,
    ref: { needles, vid: REF_VID, collection: REF_COLLECTION },
    dirs,
    async stop() {
      grpc.close();
      await vs.stop('SIGKILL');
      await master.stop();
      cleanup(...dirs);
    },
  };
}
