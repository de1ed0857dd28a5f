// kill -9 in the middle of a stream of writes, repeatedly: after each restart the volume loads and
// every write that was acknowledged with 201 reads back intact. Once with the single thread
// (-workers=1) and once with two HTTP worker threads, whose writes each take a connection of their
// own so that the kernel spreads them over both threads (one append order per volume: no
// acknowledged write may be lost whichever thread took it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { AckModel, sha256, verifyModel } from '../helpers/durability.js';
import { volumeClient } from '../helpers/grpc.js';
import { freshRequest, rawRequest } from '../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, tempDir, waitFor, type Master } from '../helpers/processes.js';

const ROUNDS = 5;
const VOLUME_ID = 7;

let master: Master;
before(async () => {
  master = await startMaster();
});
after(async () => {
  await master.stop();
  cleanup(master.dir);
});

for (const workers of [1, 2]) {
  test(`kill -9 during writes, ${ROUNDS} rounds, -workers=${workers}: acknowledged writes survive and the volume loads`, async () => {
    const extraArgs = [`-workers=${workers}`];
    const write = (url: string, body: Buffer) =>
      workers === 1
        ? rawRequest('POST', url, { 'Content-Type': 'application/octet-stream' }, body)
        : freshRequest('POST', url, { headers: { 'Content-Type': 'application/octet-stream' }, body });
    const dir = tempDir('crash-');
    const acked = new AckModel();
    let key = 1;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const vs = await startVolumeServer({ master: master.address, dir, extraArgs });
        if (round === 0) {
          const c = volumeClient(vs.grpcAddress);
          await c.call('AllocateVolume', { volume_id: VOLUME_ID, replication: '000', version: 3 });
          c.close();
        }
        // Everything acknowledged so far (in earlier rounds) must be intact after the restart.
        assert.deepEqual(await verifyModel(vs.url, acked), [], `round ${round}`);
        // Four concurrent writers of mixed sizes; the kill lands at a random moment.
        // Every write here starts after the server is up; until the kill is sent, none may be refused.
        // A write in flight when the kill lands may fail; a failure seen before it was sent may not.
        let killed = false;
        const refused: string[] = [];
        const writer = async () => {
          while (!killed) {
            const id = key++;
            const fid = `${VOLUME_ID},${id.toString(16)}${'1234abcd'}`;
            // mostly small; some past the 4 MiB spool threshold (streamed through a temp file)
            const max = id % 13 === 0 ? 12_000_000 : id % 7 === 0 ? 2_000_000 : 20_000;
            const body = randomBytes(1 + Math.floor(Math.random() * max));
            try {
              const r = await write(`${vs.url}/${fid}`, body);
              if (r.status === 201) acked.ack(fid, sha256(body));
              else if (!killed) refused.push(`${fid}: ${r.status} ${r.body}`);
            } catch (e) {
              if (!killed) refused.push(`${fid}: ${String(e)}`);
              return; // the server died under us
            }
          }
        };
        const writers = [writer(), writer(), writer(), writer()];
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
        killed = true;
        vs.proc.kill('SIGKILL');
        await Promise.all(writers);
        assert.deepEqual(refused, [], `round ${round}: writes refused while the server was up`);
        await vs.exited;
      }
      assert.ok(acked.ackedWrites > 20, `only ${acked.ackedWrites} writes were acknowledged`);
      const vs = await startVolumeServer({ master: master.address, dir, extraArgs });
      try {
        assert.deepEqual(await verifyModel(vs.url, acked), []);
        // spool files of uploads cut short by a kill are removed at the next start
        await waitFor(async () => !readdirSync(dir).some((n) => n.startsWith('.upload-')), 5_000, 'stale spool files to be removed');
      } finally {
        await vs.stop();
      }
    } finally {
      cleanup(dir);
    }
  });
}
