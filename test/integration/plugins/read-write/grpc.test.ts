// The read-write family's gRPC surface against our running server (no master needed): needles are
// placed with WriteNeedleBlob, then read back raw and by metadata, listed with ReadAllNeedles,
// deleted with BatchDelete (every status) and vacuumed through check/compact/commit/cleanup.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { legacyMaskedCrc, crc32c } from '../../../../core/storage/crc32c.js';
import {
  FLAG_HAS_LAST_MODIFIED_DATE,
  FLAG_HAS_MIME,
  FLAG_HAS_NAME,
  FLAG_IS_CHUNK_MANIFEST,
  encodeNeedle,
  newNeedle,
} from '../../../../core/storage/needle.js';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { drainStream, volumeClient, type VolumeClient } from '../../../helpers/grpc.js';
import { cleanup, startVolumeServer, type VolumeServer } from '../../../helpers/processes.js';

type Row = Record<string, unknown>;

function streamAll(address: string, rpc: string, req: object): Promise<{ messages: Row[]; error?: grpc.ServiceError }> {
  return drainStream(address, rpc, req, 30_000);
}

function blob(id: bigint, cookie: number, text: string, flags = 0): Buffer {
  const n = newNeedle({
    id,
    cookie,
    data: Buffer.from(text),
    flags: FLAG_HAS_NAME | FLAG_HAS_MIME | FLAG_HAS_LAST_MODIFIED_DATE | flags,
    name: `n${id}`,
    mime: 'text/plain',
    lastModified: 1_700_000_000,
  });
  return encodeNeedle(n, 3);
}

describe('read-write gRPC', () => {
  let vs: VolumeServer;
  let c: VolumeClient;
  const placed = new Map<bigint, { offset: number; size: number; cookie: number; text: string }>();
  let end = 8;
  const ends = new Map<number, number>();

  async function put(vid: number, id: bigint, cookie: number, text: string, flags = 0): Promise<void> {
    const b = blob(id, cookie, text, flags);
    const size = b.readInt32BE(12);
    await c.call('WriteNeedleBlob', { volume_id: vid, needle_id: id.toString(), size, needle_blob: b });
    ends.set(vid, (ends.get(vid) ?? 8) + b.length);
    if (vid === 1) {
      placed.set(id, { offset: end, size, cookie, text });
      end += b.length;
    }
  }

  async function expectCode(p: Promise<unknown>, code: grpc.status, text: RegExp): Promise<void> {
    await assert.rejects(p, (e: grpc.ServiceError) => {
      assert.equal(e.code, code, e.message);
      assert.match(e.details, text);
      return true;
    });
  }

  before(async () => {
    vs = await startVolumeServer({ extraArgs: ['--max', '10'] });
    c = volumeClient(vs.grpcAddress);
    for (const vid of [1, 2, 3]) {
      await c.call('AllocateVolume', { volume_id: vid, collection: '', replication: '000', ttl: '', version: 3 });
    }
    for (let i = 1n; i <= 20n; i++) await put(1, i, 0x1000 + Number(i), `payload-${i}-` + 'z'.repeat(Number(i) * 50));
  });

  after(async () => {
    c?.close();
    await vs?.stop('SIGKILL');
    if (vs) cleanup(vs.dir);
  });

  test('ReadNeedleBlob returns the record; ReadNeedleMeta the header fields with the legacy CRC', async () => {
    const p = placed.get(3n)!;
    const r = await c.call<{ needle_blob: Buffer }>('ReadNeedleBlob', { volume_id: 1, offset: p.offset, size: p.size });
    assert.equal(r.needle_blob.readUInt32BE(0), p.cookie);
    assert.equal(r.needle_blob.readBigUInt64BE(4), 3n);
    assert.equal(r.needle_blob.readInt32BE(12), p.size);
    const m = await c.call<Row>('ReadNeedleMeta', { volume_id: 1, needle_id: '3', offset: p.offset, size: p.size });
    assert.equal(m.cookie, p.cookie);
    assert.equal(m.crc, legacyMaskedCrc(crc32c(Buffer.from(p.text))));
    assert.equal(String(m.last_modified), '1700000000');
    assert.notEqual(String(m.append_at_ns), '0');
    await expectCode(c.call('ReadNeedleBlob', { volume_id: 1, offset: 2 ** 40, size: 64 }), grpc.status.UNKNOWN, /^read needle blob offset 1099511627776 size 64: EOF$/);
    await expectCode(c.call('ReadNeedleBlob', { volume_id: 77, offset: 8, size: 10 }), grpc.status.UNKNOWN, /^not found volume id 77$/);
    await expectCode(
      c.call('ReadNeedleMeta', { volume_id: 77, needle_id: '1', offset: 8, size: 10 }),
      grpc.status.UNKNOWN,
      /^not found volume id 77 and read needle metadata at ec shards is not supported$/,
    );
    // weed/storage/needle/needle_read_page.go ReadNeedleMeta returns the short read's io.EOF as is.
    await expectCode(c.call('ReadNeedleMeta', { volume_id: 1, needle_id: '1', offset: 2 ** 40, size: 64 }), grpc.status.UNKNOWN, /^EOF$/);
  });

  test('WriteNeedleBlob of another needle\'s record: VolumeNeedleStatus reports the record header', async () => {
    const p = placed.get(4n)!;
    const r = await c.call<{ needle_blob: Buffer }>('ReadNeedleBlob', { volume_id: 1, offset: p.offset, size: p.size });
    await c.call('WriteNeedleBlob', { volume_id: 2, needle_id: '4444', size: p.size, needle_blob: r.needle_blob });
    const s = await c.call<Row>('VolumeNeedleStatus', { volume_id: 2, needle_id: '4444' });
    assert.equal(String(s.needle_id), '4');
    assert.equal(s.cookie, p.cookie);
    assert.equal(s.size, p.size);
    assert.equal(s.crc, legacyMaskedCrc(crc32c(Buffer.from(p.text))));
    await expectCode(c.call('VolumeNeedleStatus', { volume_id: 99, needle_id: '1' }), grpc.status.UNKNOWN, /^volume not found 99$/);
    await expectCode(c.call('VolumeNeedleStatus', { volume_id: 2, needle_id: '5' }), grpc.status.NOT_FOUND, /^needle not found 5$/);
    await expectCode(
      c.call('WriteNeedleBlob', { volume_id: 99, needle_id: '1', size: 3, needle_blob: Buffer.from('abc') }),
      grpc.status.UNKNOWN,
      /^not found volume id 99$/,
    );
    await expectCode(
      c.call('WriteNeedleBlob', { volume_id: 2, needle_id: '1', size: 3, needle_blob: Buffer.from('abc') }),
      grpc.status.UNKNOWN,
      /^write blob needle 1 size 3: /,
    );
  });

  test('BatchDelete: every per-fid status and text', async () => {
    await put(3, 1n, 0xaaaa0001, 'one');
    await put(3, 2n, 0xaaaa0002, 'two');
    await put(3, 3n, 0xaaaa0003, 'manifest', FLAG_IS_CHUNK_MANIFEST);
    await put(3, 4n, 0xaaaa0004, 'four');
    const size1 = blob(1n, 0xaaaa0001, 'one').readInt32BE(12);
    const tombstoneAt = ends.get(3)!;
    const r = await c.call<{ results: Row[] }>('BatchDelete', {
      file_ids: [
        'bad-fid',
        '3,zz',
        formatFileId(3, 1n, 0xaaaa0001),
        formatFileId(3, 1n, 0xaaaa0001),
        formatFileId(3, 2n, 0xbbbb0002),
        formatFileId(3, 3n, 0xaaaa0003),
        formatFileId(3, 99n, 0x1),
        formatFileId(42, 1n, 0x1),
      ],
    });
    const got = r.results.map((x) => [x.file_id, x.status, x.error, x.size]);
    assert.deepEqual(got, [
      ['bad-fid', 400, 'Wrong fid format.', 0],
      ['3,zz', 400, 'Invalid fid: zz', 0],
      [formatFileId(3, 1n, 0xaaaa0001), 202, '', size1],
      [formatFileId(3, 1n, 0xaaaa0001), 404, 'already deleted', 0],
      [formatFileId(3, 2n, 0xbbbb0002), 400, 'File Random Cookie does not match.', 0],
      [formatFileId(3, 3n, 0xaaaa0003), 406, 'ChunkManifest: not allowed in batch delete mode.', 0],
      [formatFileId(3, 99n, 0x1), 404, 'not found', 0],
      [formatFileId(42, 1n, 0x1), 404, 'volume 42 not found', 0],
    ]);
    // the tombstone's metadata, read through a deleted index entry (size -1): the needle's cookie
    // and CRC, a fresh append time
    const tm = await c.call<Row>('ReadNeedleMeta', { volume_id: 3, needle_id: '1', offset: tombstoneAt, size: -1 });
    assert.equal(tm.cookie, 0xaaaa0001);
    assert.equal(tm.crc, legacyMaskedCrc(crc32c(Buffer.from('one'))));
    assert.notEqual(String(tm.append_at_ns), '0');
    // without the cookie check: any cookie deletes, manifests too; a second delete is a 304
    const s = await c.call<{ results: Row[] }>('BatchDelete', {
      skip_cookie_check: true,
      file_ids: [formatFileId(3, 2n, 0xbbbb0002), formatFileId(3, 3n, 0x5), formatFileId(3, 2n, 0x1), formatFileId(42, 1n, 0x1)],
    });
    assert.deepEqual(
      s.results.map((x) => [x.status, x.error]),
      [
        [202, ''],
        [202, ''],
        [304, ''],
        [500, `volume 42 not found on 127.0.0.1:${vs.port}`],
      ],
    );
    await expectCode(c.call('VolumeNeedleStatus', { volume_id: 3, needle_id: '2' }), grpc.status.UNKNOWN, /^already deleted$/);
    assert.equal(String((await c.call<Row>('VolumeNeedleStatus', { volume_id: 3, needle_id: '4' })).needle_id), '4');
  });

  test('ReadAllNeedles streams in .dat order, overwritten needles once; a missing volume aborts the stream', async () => {
    await put(2, 10n, 0xc1, 'first');
    await put(2, 11n, 0xc2, 'second');
    await put(2, 10n, 0xc1, 'first-overwrite');
    const r = await streamAll(vs.grpcAddress, 'ReadAllNeedles', { volume_ids: [2] });
    assert.equal(r.error, undefined);
    assert.deepEqual(
      r.messages.map((m) => [String(m.needle_id), Buffer.from(m.needle_blob as Buffer).toString()]),
      // the clone written above under key 4444 carries header id 4, which the map does not hold: skipped, as Go
      [
        ['11', 'second'],
        ['10', 'first-overwrite'],
      ],
    );
    const m = r.messages.find((x) => String(x.needle_id) === '11')!;
    assert.equal(m.cookie, 0xc2);
    assert.equal(m.crc, legacyMaskedCrc(crc32c(Buffer.from('second'))));
    assert.equal(Buffer.from(m.name as Buffer).toString(), 'n11');
    assert.equal(Buffer.from(m.mime as Buffer).toString(), 'text/plain');
    const aborted = await streamAll(vs.grpcAddress, 'ReadAllNeedles', { volume_ids: [2, 9876] });
    assert.equal(aborted.messages.length, 2);
    assert.equal(aborted.error?.code, grpc.status.UNKNOWN);
    assert.equal(aborted.error?.details, 'not found volume id 9876');
  });

  test('vacuum: check, compact (stream), commit reclaims the garbage, data intact; cleanup; error texts', async () => {
    // delete half of volume 1
    const fids = [...placed.keys()].filter((id) => id % 2n === 0n).map((id) => formatFileId(1, id, placed.get(id)!.cookie));
    const del = await c.call<{ results: Row[] }>('BatchDelete', { file_ids: fids });
    assert.ok(fids.length > 0);
    assert.deepEqual(del.results.map((x) => [x.file_id, x.status]), fids.map((f) => [f, 202]));
    const check = await c.call<{ garbage_ratio: number }>('VacuumVolumeCheck', { volume_id: 1 });
    assert.ok(check.garbage_ratio > 0.4 && check.garbage_ratio < 0.7, String(check.garbage_ratio));
    const before = await c.call<Row>('VolumeStatus', { volume_id: 1 });
    const compact = await streamAll(vs.grpcAddress, 'VacuumVolumeCompact', { volume_id: 1 });
    assert.equal(compact.error, undefined);
    assert.equal(compact.messages.length, 0); // small volume: no 128 MiB progress report
    assert.ok(existsSync(join(vs.dir, '1.cpd')));
    const commit = await c.call<Row>('VacuumVolumeCommit', { volume_id: 1 });
    assert.equal(commit.is_read_only, false);
    assert.ok(Number(commit.volume_size) < Number(before.volume_size) * 0.7, `${commit.volume_size} vs ${before.volume_size}`);
    const after = await c.call<Row>('VolumeStatus', { volume_id: 1 });
    assert.equal(String(after.volume_size), String(commit.volume_size));
    assert.equal(String(after.file_count), '10');
    assert.equal((await c.call<{ garbage_ratio: number }>('VacuumVolumeCheck', { volume_id: 1 })).garbage_ratio, 0);
    const all = await streamAll(vs.grpcAddress, 'ReadAllNeedles', { volume_ids: [1] });
    assert.deepEqual(
      all.messages.map((m) => [String(m.needle_id), Buffer.from(m.needle_blob as Buffer).toString()]),
      [...placed].filter(([id]) => id % 2n === 1n).map(([id, p]) => [String(id), p.text]),
    );
    assert.equal(existsSync(join(vs.dir, '1.cpd')), false);
    // cleanup after a compaction that is not committed
    await streamAll(vs.grpcAddress, 'VacuumVolumeCompact', { volume_id: 1 });
    assert.ok(existsSync(join(vs.dir, '1.cpx')));
    await c.call('VacuumVolumeCleanup', { volume_id: 1 });
    assert.equal(existsSync(join(vs.dir, '1.cpx')), false);
    await expectCode(
      c.call('VacuumVolumeCommit', { volume_id: 1 }),
      grpc.status.UNKNOWN,
      /^commit compact volume 1: volume 1 compact swap aborted: missing \.cpd\/\.cpx$/,
    );
    await expectCode(
      c.call('VacuumVolumeCheck', { volume_id: 99 }),
      grpc.status.NOT_FOUND,
      /^volume id 99 is not found during check compact: volume not found$/,
    );
    const missing = await streamAll(vs.grpcAddress, 'VacuumVolumeCompact', { volume_id: 99 });
    assert.equal(missing.error?.code, grpc.status.NOT_FOUND);
    assert.equal(missing.error?.details, 'compact volume 99: volume id 99 is not found during compact: volume not found');
    await expectCode(
      c.call('VacuumVolumeCommit', { volume_id: 99 }),
      grpc.status.NOT_FOUND,
      /^commit compact volume 99: volume id 99 is not found during commit compact: volume not found$/,
    );
    await expectCode(
      c.call('VacuumVolumeCleanup', { volume_id: 99 }),
      grpc.status.NOT_FOUND,
      /^cleanup volume 99: volume id 99 is not found during cleaning up: volume not found$/,
    );
  });

  test('maintenance mode refuses WriteNeedleBlob, BatchDelete and vacuum compact/commit/cleanup', async () => {
    const st = await c.call<{ state: { version: number } }>('GetState', {});
    await c.call('SetState', { state: { maintenance: true, version: st.state.version } });
    try {
      const m = /^volume server 127\.0\.0\.1:\d+ is in maintenance mode$/;
      await expectCode(c.call('WriteNeedleBlob', { volume_id: 1, needle_id: '1', size: 3, needle_blob: Buffer.from('abc') }), grpc.status.UNKNOWN, m);
      await expectCode(c.call('BatchDelete', { file_ids: ['1,1234567890ab'] }), grpc.status.UNKNOWN, m);
      const compact = await streamAll(vs.grpcAddress, 'VacuumVolumeCompact', { volume_id: 1 });
      assert.match(compact.error?.details ?? '', m);
      await expectCode(c.call('VacuumVolumeCommit', { volume_id: 1 }), grpc.status.UNKNOWN, m);
      await expectCode(c.call('VacuumVolumeCleanup', { volume_id: 1 }), grpc.status.UNKNOWN, m);
      // reads and the garbage check still work
      assert.equal(typeof (await c.call<{ garbage_ratio: number }>('VacuumVolumeCheck', { volume_id: 1 })).garbage_ratio, 'number');
    } finally {
      const st2 = await c.call<{ state: { version: number } }>('GetState', {});
      await c.call('SetState', { state: { maintenance: false, version: st2.state.version } });
    }
  });
});

describe('read-write gRPC with a whitelist', () => {
  test('BatchDelete, ReadAllNeedles, VolumeNeedleStatus and vacuum admin RPCs refuse a peer outside it', async () => {
    const vs = await startVolumeServer({ extraArgs: ['--whiteList', '10.9.8.7'] });
    const c = volumeClient(vs.grpcAddress);
    try {
      const denied = /^not authorized: 127\.0\.0\.1$/;
      const expectDenied = (p: Promise<unknown>) =>
        assert.rejects(p, (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED && denied.test(e.details));
      await expectDenied(c.call('BatchDelete', { file_ids: ['1,1234567890ab'] }));
      await expectDenied(c.call('VolumeNeedleStatus', { volume_id: 1, needle_id: '1' }));
      await expectDenied(c.call('VacuumVolumeCommit', { volume_id: 1 }));
      await expectDenied(c.call('VacuumVolumeCleanup', { volume_id: 1 }));
      const stream = await streamAll(vs.grpcAddress, 'ReadAllNeedles', { volume_ids: [1] });
      assert.equal(stream.error?.code, grpc.status.PERMISSION_DENIED);
      // not whitelisted in Go: the check and the raw blob reads
      await assert.rejects(c.call('VacuumVolumeCheck', { volume_id: 1 }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
      await assert.rejects(c.call('ReadNeedleBlob', { volume_id: 1, offset: 8, size: 1 }), /not found volume id 1/);
    } finally {
      c.close();
      await vs.stop('SIGKILL');
      cleanup(vs.dir);
    }
  });
});
