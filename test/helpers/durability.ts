// Shared by the kill -9 tests (test/interop/crash.test.ts, test/torture/): a model of what the
// server acknowledged, and the check that a restarted server still holds exactly that.
import { createHash } from 'node:crypto';
import { rawRequest } from './http.js';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Outcomes a fid may show after a restart: a body hash, or DELETED (absent). */
export const DELETED = 'deleted';

/**
 * What each fid may read back as. An acknowledged operation pins the fid to one outcome; one in
 * flight at the kill leaves both the old and the new outcome possible until a read settles it.
 */
export class AckModel {
  readonly allowed = new Map<string, Set<string>>();
  ackedWrites = 0;
  ackedDeletes = 0;

  ack(fid: string, outcome: string): void {
    this.allowed.set(fid, new Set([outcome]));
    if (outcome === DELETED) this.ackedDeletes++;
    else this.ackedWrites++;
  }

  /** An operation whose answer never came (the server died): either outcome may have landed. */
  unsure(fid: string, outcome: string): void {
    const s = this.allowed.get(fid) ?? new Set([DELETED]);
    s.add(outcome);
    this.allowed.set(fid, s);
  }
}

export interface Mismatch {
  fid: string;
  kind: 'lost' | 'resurrected' | 'corrupted' | 'error';
  detail: string;
}

/**
 * Reads every fid of the model from `url` and compares with what may be there; settles unsure fids
 * to what was read (a restarted server read it from disk, so it is durable from now on).
 */
export async function verifyModel(url: string, model: AckModel, concurrency = 8): Promise<Mismatch[]> {
  const out: Mismatch[] = [];
  const fids = [...model.allowed.keys()];
  let next = 0;
  const worker = async () => {
    while (next < fids.length) {
      const fid = fids[next++];
      const allowed = model.allowed.get(fid)!;
      const r = await rawRequest('GET', `${url}/${fid}`);
      const seen = r.status === 200 ? sha256(r.body) : r.status === 404 ? DELETED : undefined;
      if (seen === undefined) {
        out.push({ fid, kind: 'error', detail: `status ${r.status}: ${r.body.toString('utf8', 0, 200)}` });
      } else if (!allowed.has(seen)) {
        const kind = seen === DELETED ? 'lost' : allowed.has(DELETED) && allowed.size === 1 ? 'resurrected' : 'corrupted';
        out.push({ fid, kind, detail: `read ${seen === DELETED ? 'nothing' : seen.slice(0, 12)}` });
      } else {
        model.allowed.set(fid, new Set([seen]));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}
