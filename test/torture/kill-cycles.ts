// kill -9 cycles under mixed load against our real server: writers of every size (small, past the
// 4 MiB spool threshold), overwrites and deletes, and a vacuum loop (check, compact, commit,
// cleanup), with SIGKILL at a random moment. After every restart each volume must load and every
// acknowledged write must read back exactly (none lost or corrupted), every acknowledged delete
// must stay deleted (none resurrected). Used by torture.test.ts (bounded) and run-torture.ts.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS } from '../../core/grpc/client-pool.js';
import { volumeServerClientConstructor } from '../../core/grpc/proto-loader.js';
import { AckModel, DELETED, sha256, verifyModel, type Mismatch } from '../helpers/durability.js';
import { volumeClient } from '../helpers/grpc.js';
import { rawRequest } from '../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, tempDir, type VolumeServer } from '../helpers/processes.js';

const VIDS = [1, 2, 3];
/** Gets small writes only and most vacuum rounds, so compactions finish between kills. */
const SMALL_VID = 3;

export interface TortureReport {
  cycles: number;
  ackedWrites: number;
  ackedDeletes: number;
  vacuums: number;
  /** Why vacuum rounds did not complete (most: the kill landed in them), by text. */
  vacuumErrors: Record<string, number>;
  mismatches: Mismatch[];
  loadFailures: string[];
}

function bodySize(vid: number): number {
  const r = Math.random();
  if (vid === SMALL_VID) return Math.floor(Math.random() * 4_000);
  if (r < 0.01) return 4_200_000 + Math.floor(Math.random() * 2_000_000); // spooled through a temp file
  if (r < 0.07) return 1 + Math.floor(Math.random() * 1_000_000);
  if (r < 0.1) return 0;
  return 1 + Math.floor(Math.random() * 16_000);
}

async function load(vs: VolumeServer, model: AckModel, nextKey: () => number, report: TortureReport, ms: number): Promise<void> {
  let stop = false;
  const busy = new Set<string>();
  const live = () => [...model.allowed.entries()].filter(([f, s]) => !busy.has(f) && !s.has(DELETED) && s.size === 1).map(([f]) => f);
  const writer = async () => {
    while (!stop) {
      const r = Math.random();
      const candidates = r < 0.5 ? [] : live();
      let fid: string;
      let op: 'write' | 'delete';
      if (candidates.length === 0 || r < 0.5) {
        const key = nextKey();
        fid = `${VIDS[key % VIDS.length]},${key.toString(16)}a1b2c3d4`;
        op = 'write';
      } else {
        fid = candidates[Math.floor(Math.random() * candidates.length)];
        op = r < 0.75 ? 'write' : 'delete';
      }
      busy.add(fid);
      try {
        if (op === 'write') {
          const body = randomBytes(bodySize(Number(fid.split(',')[0])));
          const outcome = sha256(body);
          try {
            const res = await rawRequest('POST', `${vs.url}/${fid}`, { 'Content-Type': 'application/octet-stream' }, body);
            if (res.status === 201) model.ack(fid, outcome);
            else model.unsure(fid, outcome);
          } catch {
            model.unsure(fid, outcome);
            return; // the server died under us
          }
        } else {
          try {
            const res = await rawRequest('DELETE', `${vs.url}/${fid}`);
            if (res.status === 202) model.ack(fid, DELETED);
            else model.unsure(fid, DELETED);
          } catch {
            model.unsure(fid, DELETED);
            return;
          }
        }
      } finally {
        busy.delete(fid);
      }
    }
  };
  const vacuum = async () => {
    const c = volumeClient(vs.grpcAddress);
    const Ctor = volumeServerClientConstructor();
    const raw = new Ctor(vs.grpcAddress, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    try {
      while (!stop) {
        const vid = Math.random() < 0.7 ? SMALL_VID : VIDS[Math.floor(Math.random() * VIDS.length)];
        try {
          await c.call('VacuumVolumeCheck', { volume_id: vid });
          await streamEnd(raw, vid);
          await c.call('VacuumVolumeCommit', { volume_id: vid });
          report.vacuums++;
        } catch (e) {
          const t = ((e as { details?: string }).details ?? (e as Error).message).replace(/\d+/g, 'N').slice(0, 100);
          report.vacuumErrors[t] = (report.vacuumErrors[t] ?? 0) + 1;
          try {
            await c.call('VacuumVolumeCleanup', { volume_id: vid });
          } catch {
            /* killed, or nothing to clean */
          }
        }
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
      }
    } finally {
      c.close();
      raw.close();
    }
  };
  const tasks = [writer(), writer(), writer(), writer(), vacuum()];
  await new Promise((r) => setTimeout(r, ms));
  vs.proc.kill('SIGKILL');
  stop = true;
  await Promise.all(tasks);
  await vs.exited;
}

/** VacuumVolumeCompact is server-streaming (progress messages); resolves at its end. */
function streamEnd(client: grpc.Client, vid: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: object, o: object) => grpc.ClientReadableStream<unknown>>).VacuumVolumeCompact;
    const call = fn.call(client, { volume_id: vid, preallocate: 0 }, { deadline: Date.now() + 30_000 });
    call.on('data', () => {});
    call.on('error', reject);
    call.on('end', () => resolve());
  });
}

export async function runTorture(opts: { cycles: number; log?: (s: string) => void }): Promise<TortureReport> {
  const log = opts.log ?? (() => {});
  const report: TortureReport = { cycles: 0, ackedWrites: 0, ackedDeletes: 0, vacuums: 0, vacuumErrors: {}, mismatches: [], loadFailures: [] };
  const master = await startMaster();
  const dir = tempDir('torture-');
  const model = new AckModel();
  let key = 1;
  try {
    for (let cycle = 0; cycle <= opts.cycles; cycle++) {
      const vs = await startVolumeServer({ master: master.address, dir, extraArgs: ['--max', '10'] });
      const c = volumeClient(vs.grpcAddress);
      try {
        if (cycle === 0) for (const vid of VIDS) await c.call('AllocateVolume', { volume_id: vid, replication: '000', version: 3 });
        for (const vid of VIDS) {
          try {
            await c.call('VolumeStatus', { volume_id: vid });
          } catch (e) {
            report.loadFailures.push(`cycle ${cycle}: volume ${vid} did not load: ${(e as Error).message}`);
          }
        }
      } finally {
        c.close();
      }
      const bad = await verifyModel(vs.url, model);
      for (const m of bad) report.mismatches.push({ ...m, detail: `cycle ${cycle}: ${m.detail}` });
      if (cycle === opts.cycles) {
        await vs.stop();
        break;
      }
      await load(vs, model, () => key++, report, 400 + Math.random() * 1200);
      report.cycles++;
      report.ackedWrites = model.ackedWrites;
      report.ackedDeletes = model.ackedDeletes;
      log(`cycle ${cycle + 1}/${opts.cycles}: ${model.ackedWrites} writes and ${model.ackedDeletes} deletes acknowledged, ${report.vacuums} vacuums, ${report.mismatches.length} mismatches`);
    }
  } finally {
    await master.stop();
    cleanup(master.dir, dir);
  }
  return report;
}
