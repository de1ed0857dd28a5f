// Vacuum interop with the Go volume server on the same data directory, in both offset widths: a
// volume we compacted is served by Go (live needles intact, deleted ones 404), Go compacts it
// again, and we serve Go's result.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FLAG_HAS_LAST_MODIFIED_DATE, FLAG_HAS_MIME, FLAG_HAS_NAME, encodeNeedle, newNeedle } from '../../../../core/storage/needle.js';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { drainStream, volumeClient } from '../../../helpers/grpc.js';
import { cleanup, startGoVolumeServer, startMaster, startVolumeServer, tempDir, type Master, type VolumeServer } from '../../../helpers/processes.js';

const VID = 5;

function blob(id: bigint, cookie: number, text: string): Buffer {
  return encodeNeedle(
    newNeedle({
      id,
      cookie,
      data: Buffer.from(text),
      flags: FLAG_HAS_NAME | FLAG_HAS_MIME | FLAG_HAS_LAST_MODIFIED_DATE,
      name: `n${id}.txt`,
      mime: 'text/plain',
      lastModified: 1_700_000_000,
    }),
    3,
  );
}

async function vacuum(address: string): Promise<Record<string, unknown>> {
  const c = volumeClient(address);
  try {
    const compact = await drainStream(address, 'VacuumVolumeCompact', { volume_id: VID });
    assert.equal(compact.error, undefined, compact.error?.message);
    return await c.call('VacuumVolumeCommit', { volume_id: VID });
  } finally {
    c.close();
  }
}

async function batchDelete(address: string, fids: string[]): Promise<void> {
  const c = volumeClient(address);
  try {
    const r = await c.call<{ results: { status: number; error: string }[] }>('BatchDelete', { file_ids: fids });
    assert.equal(r.results.length, fids.length, 'one result per file id');
    for (const x of r.results) assert.equal(x.status, 202, x.error);
  } finally {
    c.close();
  }
}

function revisionOnDisk(dir: string): number {
  return readFileSync(join(dir, `${VID}.dat`)).readUInt16BE(4);
}

for (const width of [4, 5] as const) {
  describe(`vacuum interop with the Go volume server, ${width}-byte offsets`, () => {
    let master: Master;
    before(async () => {
      master = await startMaster(100, width);
    });
    after(async () => {
      await master.stop();
      cleanup(master.dir);
    });

    test('we compact, Go serves and compacts again, we serve', async () => {
      const dir = tempDir('vacuum-interop-');
      const model = new Map<bigint, { cookie: number; text: string | null }>();
      const fid = (id: bigint) => formatFileId(VID, id, model.get(id)!.cookie);
      let ours = await startVolumeServer({ master: master.address, dir, env: { WEED_OFFSET_BYTES: String(width) } });
      let go: VolumeServer | undefined;
      try {
        // 1. our server: write, overwrite, delete, vacuum
        const c = volumeClient(ours.grpcAddress);
        await c.call('AllocateVolume', { volume_id: VID, collection: '', replication: '000', ttl: '', version: 3 });
        const put = async (id: bigint, cookie: number, text: string) => {
          const b = blob(id, cookie, text);
          await c.call('WriteNeedleBlob', { volume_id: VID, needle_id: id.toString(), size: b.readInt32BE(12), needle_blob: b });
          model.set(id, { cookie, text });
        };
        for (let i = 1n; i <= 30n; i++) await put(i, 0x51000 + Number(i), `first-${i}-` + 'p'.repeat(Number(i) * 40));
        for (let i = 1n; i <= 30n; i += 5n) await put(i, 0x51000 + Number(i), `overwritten-${i}`);
        const del1 = [...model.keys()].filter((id) => id % 3n === 0n);
        await batchDelete(ours.grpcAddress, del1.map(fid));
        for (const id of del1) model.get(id)!.text = null;
        c.close();
        const r1 = await vacuum(ours.grpcAddress);
        assert.equal(r1.is_read_only, false);
        assert.equal(revisionOnDisk(dir), 1);
        assert.equal(await ours.stop(), 0);

        // 2. Go serves what we compacted, then deletes more and compacts again
        go = await startGoVolumeServer({ master: master.address, dir, width });
        for (const [id, m] of model) {
          const r: Response = await fetch(`${go.url}/${fid(id)}`);
          const text = await r.text();
          if (m.text === null) assert.equal(r.status, 404, `Go GET deleted ${id}`);
          else {
            assert.equal(r.status, 200, `Go GET ${id}`);
            assert.equal(text, m.text, `Go GET ${id} body`);
          }
        }
        const del2 = [...model.keys()].filter((id) => id % 4n === 1n && model.get(id)!.text !== null);
        await batchDelete(go.grpcAddress, del2.map(fid));
        for (const id of del2) model.get(id)!.text = null;
        await vacuum(go.grpcAddress);
        assert.equal(revisionOnDisk(dir), 2);
        assert.equal(await go.stop(), 0);
        go = undefined;

        // 3. we serve Go's compaction
        ours = await startVolumeServer({ master: master.address, dir, env: { WEED_OFFSET_BYTES: String(width) } });
        const c2 = volumeClient(ours.grpcAddress);
        try {
          const all = await drainStream(ours.grpcAddress, 'ReadAllNeedles', { volume_ids: [VID] });
          assert.equal(all.error, undefined);
          const live = [...model].filter(([, m]) => m.text !== null);
          assert.deepEqual(
            all.messages.map((m) => [String(m.needle_id), Buffer.from(m.needle_blob as Buffer).toString()]),
            live.map(([id, m]) => [String(id), m.text]),
          );
          for (const [id, m] of model) {
            if (m.text === null) {
              await assert.rejects(c2.call('VolumeNeedleStatus', { volume_id: VID, needle_id: id.toString() }), /not found/);
            } else {
              const s = await c2.call<Record<string, unknown>>('VolumeNeedleStatus', { volume_id: VID, needle_id: id.toString() });
              assert.equal(s.cookie, m.cookie);
            }
          }
          const g = await c2.call<{ garbage_ratio: number }>('VacuumVolumeCheck', { volume_id: VID });
          assert.equal(g.garbage_ratio, 0);
          // and one more round on our side, on top of Go's files
          await batchDelete(ours.grpcAddress, [fid(2n)]);
          model.get(2n)!.text = null;
          await vacuum(ours.grpcAddress);
          assert.equal(revisionOnDisk(dir), 3);
          await assert.rejects(c2.call('VolumeNeedleStatus', { volume_id: VID, needle_id: '2' }), /not found/);
          const s4 = await c2.call<Record<string, unknown>>('VolumeNeedleStatus', { volume_id: VID, needle_id: '4' });
          assert.equal(s4.cookie, model.get(4n)!.cookie);
        } finally {
          c2.close();
        }
      } finally {
        await go?.stop('SIGKILL');
        await ours.stop('SIGKILL');
        cleanup(dir);
      }
    });
  });
}
