// Many clients writing, overwriting and deleting the same needle ids at once (issue 16): every id
// ends in a state that some serial order of the operations, consistent with when each one was
// acknowledged, produces; the .idx agrees with the .dat (a FULL scrub finds nothing); a restart
// loads the same state. Go serialises writes of one volume under its data-file lock
// (weed/storage/volume_write.go); we must not lose or tear a record under the same traffic.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { volumeClient } from '../../../helpers/grpc.js';
import { cleanup, startVolumeServer, type VolumeServer } from '../../../helpers/processes.js';

const VID = 5;
const IDS = 6;
const CLIENTS = 12;
const OPS_PER_CLIENT = 60;
const COOKIE = 0x5eed1234;

function fid(key: number): string {
  return `${VID},${key.toString(16)}${COOKIE.toString(16).padStart(8, '0')}`;
}

/** One acknowledged operation on an id: a write of `body`, or a delete (absent afterwards). */
interface Op {
  key: number;
  body: Buffer | undefined;
  start: number;
  end: number;
}

/** A small body, or now and then one that spans several of the server's chunks. */
function payload(): Buffer {
  const r = Math.random();
  return randomBytes(r < 0.1 ? 300_000 + Math.floor(Math.random() * 200_000) : 1 + Math.floor(Math.random() * 4000));
}

/**
 * The values an id may hold at the end: the results of the operations that no other operation
 * on that id started after they were acknowledged (any of them can be last in a serial order
 * that respects real time). `undefined` stands for absent.
 */
function possibleFinals(ops: Op[]): (Buffer | undefined)[] {
  return ops.filter((o) => !ops.some((b) => b.start > o.end)).map((o) => o.body);
}

describe('concurrent writers of the same needle ids', { timeout: 240_000 }, () => {
  let vs: VolumeServer;
  const ops = new Map<number, Op[]>();
  let seq = 0;
  const tick = () => ++seq;

  before(async () => {
    vs = await startVolumeServer({});
    const c = volumeClient(vs.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: VID, replication: '000', version: 3 });
    } finally {
      c.close();
    }
    for (let k = 1; k <= IDS; k++) ops.set(k, []);
  });

  after(async () => {
    await vs?.stop();
    if (vs) cleanup(vs.dir);
  });

  async function readState(key: number): Promise<Buffer | undefined> {
    const r = await fetch(`${vs.url}/${fid(key)}`);
    const body = Buffer.from(await r.arrayBuffer());
    if (r.status === 404) return undefined;
    assert.equal(r.status, 200, `GET ${fid(key)}: ${body.toString()}`);
    return body;
  }

  test('every id ends in a state some serial order produces; each op was acknowledged', async () => {
    let writes = 0;
    let deletes = 0;
    const client = async () => {
      for (let i = 0; i < OPS_PER_CLIENT; i++) {
        const key = 1 + Math.floor(Math.random() * IDS);
        const start = tick();
        if (Math.random() < 0.25) {
          const r = await fetch(`${vs.url}/${fid(key)}`, { method: 'DELETE' });
          const text = await r.text();
          // 202 deleted; 404 when it was already absent: either way absent at that point.
          assert.ok(r.status === 202 || r.status === 404, `DELETE ${fid(key)}: ${r.status} ${text}`);
          ops.get(key)!.push({ key, body: undefined, start, end: tick() });
          deletes++;
        } else {
          const body = payload();
          const r = await fetch(`${vs.url}/${fid(key)}`, { method: 'PUT', body: new Uint8Array(body) });
          const text = await r.text();
          assert.equal(r.status, 201, `PUT ${fid(key)}: ${text}`);
          ops.get(key)!.push({ key, body, start, end: tick() });
          writes++;
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    assert.equal(writes + deletes, CLIENTS * OPS_PER_CLIENT);
    assert.ok(writes > 0 && deletes > 0, `both kinds ran: ${writes} writes, ${deletes} deletes`);

    for (const [key, list] of ops) {
      assert.ok(list.length > 0, `id ${key} was used`);
      const got = await readState(key);
      const finals = possibleFinals(list);
      const ok = finals.some((f) => (f === undefined ? got === undefined : got !== undefined && f.equals(got)));
      assert.ok(ok, `id ${key}: final ${got === undefined ? 'absent' : `${got.length} bytes`} is not the result of any operation that can be last (${finals.length} candidates)`);
    }
  });

  test('the .idx agrees with the .dat: a FULL scrub finds nothing broken', async () => {
    const c = volumeClient(vs.grpcAddress);
    try {
      const r = await c.call<{ total_volumes: string; broken_volume_ids: number[]; details: string[] }>('ScrubVolume', { volume_ids: [VID], mode: 'FULL' }, 60_000);
      assert.equal(Number(r.total_volumes), 1);
      assert.deepEqual(r.broken_volume_ids, [], (r.details ?? []).join('\n'));
    } finally {
      c.close();
    }
  });

  test('a restart loads the same state', async () => {
    const beforeRestart = new Map<number, Buffer | undefined>();
    for (const key of ops.keys()) beforeRestart.set(key, await readState(key));
    const dir = vs.dir;
    await vs.stop();
    vs = await startVolumeServer({ dir });
    for (const [key, want] of beforeRestart) {
      const got = await readState(key);
      if (want === undefined) assert.equal(got, undefined, `id ${key} came back after a restart`);
      else assert.ok(got?.equals(want), `id ${key} changed over a restart`);
    }
  });
});
