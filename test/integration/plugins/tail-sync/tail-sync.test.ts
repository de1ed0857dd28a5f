// The tail-sync family between two of our servers under a Go master: VolumeCopy (fresh, over an
// existing replica, from a source without the volume), a tail sender/receiver round trip including
// a deletion, the refusal of path traversal in CopyFile and ReceiveFile, and index consolidation.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { FLAG_HAS_LAST_MODIFIED_DATE, FLAG_HAS_NAME, encodeNeedle, newNeedle } from '../../../../core/storage/needle.js';
import { drainStream, receiveFileStream, volumeClient, type VolumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, tempDir, waitFor, type Master, type VolumeServer } from '../../../helpers/processes.js';

type Row = Record<string, unknown>;


function streamAll(address: string, rpc: string, req: object, timeoutMs = 60_000): Promise<{ messages: Row[]; error?: grpc.ServiceError }> {
  return drainStream(address, rpc, req, timeoutMs);
}

/** A ReceiveFile client stream: sends `msgs` and returns the response (or the status error). */

function record(id: bigint, cookie: number, text: string): Buffer {
  return encodeNeedle(
    newNeedle({
      id,
      cookie,
      data: Buffer.from(text),
      flags: FLAG_HAS_NAME | FLAG_HAS_LAST_MODIFIED_DATE,
      name: `f${id}.txt`,
      lastModified: 1_700_000_000,
    }),
    3,
  );
}

describe('tail-sync between two servers', () => {
  let master: Master;
  let a: VolumeServer;
  let b: VolumeServer;
  let ca: VolumeClient;
  let cb: VolumeClient;
  const sourceOf = (s: VolumeServer) => `127.0.0.1:${s.port}.${s.grpcPort}`;
  /** Where each written needle landed on A: volume → id → offset/size. */
  const placed = new Map<number, Map<bigint, { offset: number; size: number; cookie: number; text: string }>>();
  const ends = new Map<number, number>();

  async function put(vid: number, id: bigint, cookie: number, text: string): Promise<void> {
    const blob = record(id, cookie, text);
    const size = blob.readInt32BE(12);
    await ca.call('WriteNeedleBlob', { volume_id: vid, needle_id: id.toString(), size, needle_blob: blob });
    const offset = ends.get(vid) ?? 8;
    ends.set(vid, offset + blob.length);
    if (!placed.has(vid)) placed.set(vid, new Map());
    placed.get(vid)!.set(id, { offset, size, cookie, text });
  }

  async function del(vid: number, id: bigint, cookie: number): Promise<void> {
    const r = await ca.call<{ results: Row[] }>('BatchDelete', { file_ids: [formatFileId(vid, id, cookie)], skip_cookie_check: false });
    assert.equal(r.results[0].status, 202, JSON.stringify(r.results[0]));
    ends.set(vid, (ends.get(vid) ?? 8) + 32); // a v3 tombstone record
  }

  async function get(s: VolumeServer, vid: number, id: bigint, cookie: number) {
    return rawRequest('GET', `${s.url}/${formatFileId(vid, id, cookie)}`);
  }

  before(async () => {
    master = await startMaster(100);
    const args = ['--max', '10', '--volume.allowUntrustedRemoteEndpoints'];
    a = await startVolumeServer({ master: master.address, extraArgs: args });
    b = await startVolumeServer({ master: master.address, extraArgs: args });
    ca = volumeClient(a.grpcAddress);
    cb = volumeClient(b.grpcAddress);
  });

  after(async () => {
    ca?.close();
    cb?.close();
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await master?.stop('SIGKILL');
    for (const s of [a, b]) if (s) cleanup(s.dir);
    if (master) cleanup(master.dir);
  });

  test('VolumeCopy pulls a volume byte for byte, mounts it and announces it to the master', async () => {
    await ca.call('AllocateVolume', { volume_id: 7, collection: '', replication: '000', ttl: '', version: 3 });
    for (let i = 1n; i <= 5n; i++) await put(7, i, 0x7000 + Number(i), `copy-me-${i}-` + 'q'.repeat(Number(i) * 40));
    await del(7, 3n, 0x7003);

    const before = Date.now();
    const { messages, error } = await streamAll(b.grpcAddress, 'VolumeCopy', { volume_id: 7, source_data_node: sourceOf(a) });
    assert.equal(error, undefined, error?.details);
    const last = BigInt(String(messages.at(-1)?.last_append_at_ns ?? '0'));
    assert.ok(last > BigInt(before - 60_000) * 1_000_000n && last <= BigInt(Date.now()) * 1_000_000n, `last_append_at_ns ${last}`);

    const sa = await ca.call<Row>('ReadVolumeFileStatus', { volume_id: 7 });
    const sb = await cb.call<Row>('ReadVolumeFileStatus', { volume_id: 7 });
    for (const k of ['dat_file_size', 'idx_file_size', 'file_count', 'compaction_revision', 'version', 'collection']) {
      assert.equal(String(sb[k]), String(sa[k]), k);
    }
    assert.equal(String(sb.dat_file_size), String(ends.get(7)));

    for (const [id, p] of placed.get(7)!) {
      const ra = await ca.call<{ needle_blob: Buffer }>('ReadNeedleBlob', { volume_id: 7, offset: p.offset, size: p.size });
      const rb = await cb.call<{ needle_blob: Buffer }>('ReadNeedleBlob', { volume_id: 7, offset: p.offset, size: p.size });
      assert.ok(ra.needle_blob.equals(rb.needle_blob), `record of needle ${id} identical`);
      const r = await get(b, 7, id, p.cookie);
      if (id === 3n) assert.equal(r.status, 404);
      else {
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), p.text);
      }
    }

    // the master learns the new replica from B's heartbeat
    await waitFor(
      async () => {
        const r = await fetch(`${master.url}/dir/lookup?volumeId=7`);
        const j = (await r.json()) as { locations?: { url: string }[] };
        return (j.locations ?? []).some((l) => l.url === `127.0.0.1:${b.port}`);
      },
      15_000,
      'master lookup listing the copy',
    );
    // nothing staged is left behind
    const staging = join(b.dir, 'copying');
    assert.deepEqual(existsSync(staging) ? readdirSync(staging) : [], []);
  });

  test('VolumeCopy over an existing replica replaces it; a failed copy leaves it intact', async () => {
    await put(7, 6n, 0x7006, 'written-after-the-first-copy');
    const { error } = await streamAll(b.grpcAddress, 'VolumeCopy', { volume_id: 7, source_data_node: sourceOf(a) });
    assert.equal(error, undefined, error?.details);
    const r = await get(b, 7, 6n, 0x7006);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'written-after-the-first-copy');
    const sb = await cb.call<Row>('ReadVolumeFileStatus', { volume_id: 7 });
    assert.equal(String(sb.dat_file_size), String(ends.get(7)));

    // the source has no volume 8: nothing is created, and volume 7 on B is untouched
    const bad = await streamAll(b.grpcAddress, 'VolumeCopy', { volume_id: 8, source_data_node: sourceOf(a) });
    assert.match(bad.error?.details ?? '', /^read volume file status failed, not found volume id 8$/);
    await assert.rejects(cb.call('ReadVolumeFileStatus', { volume_id: 8 }), /not found volume id 8/);
    assert.equal(existsSync(join(b.dir, '8.dat')), false);
    assert.equal((await get(b, 7, 1n, 0x7001)).status, 200);

    // an unreachable source fails without touching the replica either
    const down = await streamAll(b.grpcAddress, 'VolumeCopy', { volume_id: 7, source_data_node: '127.0.0.1:1.2' }, 30_000);
    // weed/server/volume_grpc_copy.go VolumeCopy wraps the failed status call; the dial error after it is the client library's own.
    assert.equal(down.error?.code, grpc.status.UNKNOWN, 'copy from an unreachable source fails');
    assert.match(down.error?.details ?? '', /^read volume file status failed, .*ECONNREFUSED 127\.0\.0\.1:2\b/);
    assert.equal((await get(b, 7, 6n, 0x7006)).status, 200);
  });

  test('tail round trip: the receiver applies writes and deletions the sender streams', async () => {
    for (const c of [ca, cb]) await c.call('AllocateVolume', { volume_id: 9, collection: '', replication: '000', ttl: '', version: 3 });
    await put(9, 1n, 0x9001, 'tail-one');
    await put(9, 2n, 0x9002, 'tail-two-' + 'B'.repeat(3 * 1024 * 1024)); // more than one 2 MiB chunk

    const sent = await streamAll(a.grpcAddress, 'VolumeTailSender', { volume_id: 9, since_ns: '0', idle_timeout_seconds: 1 });
    assert.equal(sent.error, undefined, sent.error?.details);
    const bodies = sent.messages.filter((m) => (m.needle_body as Buffer).length > 0);
    assert.equal(bodies.length, 3, 'needle 1 in one chunk, needle 2 in two');
    assert.deepEqual(bodies.map((m) => m.is_last_chunk), [true, false, true]);
    assert.equal(sent.messages.at(-1)?.is_last_chunk, true);
    assert.equal((sent.messages.at(-1)?.needle_header as Buffer).length, 0, 'ends with a keep-alive');

    await cb.call('VolumeTailReceiver', { volume_id: 9, source_volume_server: sourceOf(a), since_ns: '0', idle_timeout_seconds: 1 }, 30_000);
    assert.equal((await get(b, 9, 1n, 0x9001)).body.toString(), 'tail-one');
    assert.equal((await get(b, 9, 2n, 0x9002)).body.length, 'tail-two-'.length + 3 * 1024 * 1024);

    // resume after what was applied: a deletion and a new write arrive, nothing else
    const p2 = placed.get(9)!.get(2n)!;
    const meta = await ca.call<Row>('ReadNeedleMeta', { volume_id: 9, needle_id: '2', offset: p2.offset, size: p2.size });
    const since = String(meta.append_at_ns);
    await del(9, 1n, 0x9001);
    await put(9, 3n, 0x9003, 'tail-three');
    const beforeTail = await cb.call<Row>('ReadVolumeFileStatus', { volume_id: 9 });
    await cb.call('VolumeTailReceiver', { volume_id: 9, source_volume_server: sourceOf(a), since_ns: since, idle_timeout_seconds: 1 }, 30_000);
    assert.equal((await get(b, 9, 1n, 0x9001)).status, 404);
    assert.equal((await get(b, 9, 3n, 0x9003)).body.toString(), 'tail-three');
    const afterTail = await cb.call<Row>('ReadVolumeFileStatus', { volume_id: 9 });
    const grew = Number(afterTail.dat_file_size) - Number(beforeTail.dat_file_size);
    assert.equal(grew, 32 + record(3n, 0x9003, 'tail-three').length, 'one tombstone and one record appended');
    const rowSize = process.env.WEED_OFFSET_BYTES === '5' ? 17 : 16;
    assert.equal(Number(afterTail.idx_file_size) - Number(beforeTail.idx_file_size), 2 * rowSize, 'two index rows');

    // nothing after the newest record: a keep-alive, then the end
    const idle = await streamAll(a.grpcAddress, 'VolumeTailSender', { volume_id: 9, since_ns: '18446744073709551615', idle_timeout_seconds: 1 });
    assert.equal(idle.error, undefined);
    assert.equal(idle.messages.length, 1);
    assert.equal(idle.messages[0].is_last_chunk, true);

    await assert.rejects(
      cb.call('VolumeTailReceiver', { volume_id: 4242, source_volume_server: sourceOf(a), since_ns: '0', idle_timeout_seconds: 1 }),
      /receiver not found volume id 4242/,
    );
  });

  test('CopyFile and ReceiveFile refuse path traversal in the extension and the collection', async () => {
    const parent = dirname(b.dir);
    for (const ext of ['/../../../etc/passwd', '..', '.dat/../../x', '', 'dat', '.\\..\\x']) {
      const r = await streamAll(b.grpcAddress, 'CopyFile', { volume_id: 7, ext, compaction_revision: 0xffffffff, stop_offset: '100' });
      assert.match(r.error?.details ?? '', /^invalid file extension "/, `CopyFile ext ${ext}`);
      assert.equal(r.messages.length, 0);
    }
    for (const collection of ['..', '../..', 'a/../../b', '.']) {
      const r = await streamAll(b.grpcAddress, 'CopyFile', {
        volume_id: 7,
        ext: '.ecx',
        collection,
        is_ec_volume: true,
        compaction_revision: 0xffffffff,
        stop_offset: '100',
      });
      assert.equal(r.error?.details, `invalid collection ${JSON.stringify(collection)}`);
    }

    const payload = { file_content: Buffer.from('should never land anywhere') };
    for (const info of [
      { volume_id: 7, ext: '/../../../escape-ext' },
      { volume_id: 7, ext: '.x/../../escape' },
      { volume_id: 7, ext: '.ec00', collection: '../../escape-col', is_ec_volume: true },
      { volume_id: 7, ext: '.ec00', collection: '..', is_ec_volume: true },
    ]) {
      const { res, error } = await receiveFileStream(b.grpcAddress, [{ info }, payload]);
      assert.equal(error, undefined);
      assert.match(String(res?.error), /^invalid (file extension|collection) "/, JSON.stringify(info));
      assert.equal(String(res?.bytes_written), '0');
    }
    const escaped = readdirSync(parent).filter((n) => n.includes('escape'));
    assert.deepEqual(escaped, [], 'no file outside the data directory');
    assert.deepEqual(readdirSync(b.dir).filter((n) => n.includes('escape')), []);

    // the live files of a mounted volume are not overwritten
    const live = await receiveFileStream(b.grpcAddress, [{ info: { volume_id: 7, ext: '.dat' } }, payload]);
    assert.match(String(live.res?.error), /volume 7 is mounted/);
    assert.equal((await get(b, 7, 1n, 0x7001)).status, 200);

    // a well-formed name round-trips through ReceiveFile and CopyFile
    const ok = await receiveFileStream(b.grpcAddress, [{ info: { volume_id: 7, ext: '.note2' } }, { file_content: Buffer.from('abc') }, { file_content: Buffer.from('def') }]);
    assert.equal(ok.res?.error, '');
    assert.equal(String(ok.res?.bytes_written), '6');
    const back = await streamAll(b.grpcAddress, 'CopyFile', { volume_id: 7, ext: '.note2', compaction_revision: 0xffffffff, stop_offset: '100' });
    assert.equal(Buffer.concat(back.messages.map((m) => m.file_content as Buffer)).toString(), 'abcdef');
    assert.notEqual(String(back.messages[0].modified_ts_ns), '0');
  });
});

describe('VolumeConsolidateIndex', () => {
  test('moves an .idx that sits beside the .dat into -dir.idx and keeps serving the volume', async () => {
    const idxDir = tempDir('ts-weed-idx-');
    let s = await startVolumeServer({ extraArgs: ['--dir.idx', idxDir] });
    const dataDir = s.dir;
    let c = volumeClient(s.grpcAddress);
    try {
      await c.call('AllocateVolume', { volume_id: 3, collection: 'col', replication: '000', ttl: '', version: 3 });
      const blob = record(1n, 0x3001, 'consolidate-me');
      await c.call('WriteNeedleBlob', { volume_id: 3, needle_id: '1', size: blob.readInt32BE(12), needle_blob: blob });
      assert.equal(existsSync(join(idxDir, 'col_3.idx')), true, 'a new volume keeps its .idx in -dir.idx');
      c.close();
      await s.stop('SIGTERM');
      // put the .idx beside the .dat, as a volume written before -dir.idx was set has it
      renameSync(join(idxDir, 'col_3.idx'), join(dataDir, 'col_3.idx'));
      s = await startVolumeServer({ dir: dataDir, extraArgs: ['--dir.idx', idxDir] });
      c = volumeClient(s.grpcAddress);
      assert.equal((await get(s, 3, 1n, 0x3001)).body.toString(), 'consolidate-me');

      await c.call('VolumeConsolidateIndex', { volume_id: 3 });
      assert.equal(existsSync(join(dataDir, 'col_3.idx')), false);
      assert.equal(existsSync(join(idxDir, 'col_3.idx')), true);
      const r = await get(s, 3, 1n, 0x3001);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'consolidate-me');
      const more = record(2n, 0x3002, 'written-after');
      await c.call('WriteNeedleBlob', { volume_id: 3, needle_id: '2', size: more.readInt32BE(12), needle_blob: more });
      assert.equal((await get(s, 3, 2n, 0x3002)).body.toString(), 'written-after');

      await c.call('VolumeConsolidateIndex', { volume_id: 3 }); // already consolidated: a no-op
      await assert.rejects(c.call('VolumeConsolidateIndex', { volume_id: 404 }), /volume 404 not found on disk/);
    } finally {
      c.close();
      await s.stop('SIGKILL');
      cleanup(dataDir, idxDir);
    }
  });

  async function get(s: VolumeServer, vid: number, id: bigint, cookie: number) {
    return rawRequest('GET', `${s.url}/${formatFileId(vid, id, cookie)}`);
  }
});
