// The scrub-query family on our server under a Go master. Reproduces the upstream scrub tests the
// conformance run cannot point at us (test/volume_server/grpc/scrub_integration_test.go and
// scrub_query_test.go start the Go volume server directly): FullHealthy, FullCorruptData,
// MixedHealthy, MissingVolumeReturnsError and MarkBrokenReadonly{HealthyVolume,CorruptVolume,
// InMaintenanceMode}, with the same corruption they inject (two garbage bytes appended to the
// .idx, the .dat cut to its super block). Also: the read-only mark persisted in the .vif, every
// volume when none is named, a scrub stopped by its client, and Query over uploaded JSON lines.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, truncateSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { drainStream, volumeClient, type VolumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startMaster, startVolumeServer, waitFor, type Master, type VolumeServer } from '../../../helpers/processes.js';

interface ScrubResponse {
  total_volumes: string;
  total_files: string;
  broken_volume_ids: number[];
  details: string[];
}

async function queryStream(address: string, req: object): Promise<{ stripes: Buffer[]; error?: grpc.ServiceError }> {
  const { messages, error } = await drainStream(address, 'Query', req, 10_000);
  const stripes = messages.map((m) => Buffer.from(m.records as Buffer));
  return error ? { stripes, error } : { stripes };
}

describe('scrub-query on our server', () => {
  let master: Master;
  let s: VolumeServer;
  let c: VolumeClient;
  const args = ['--max', '30', '--maintenanceMBps', '1'];

  const allocate = (vid: number) => c.call('AllocateVolume', { volume_id: vid, collection: '', replication: '000', ttl: '', version: 3 });
  async function upload(vid: number, id: bigint, cookie: number, body: Buffer | string): Promise<void> {
    const r = await rawRequest('POST', `${s.url}/${formatFileId(vid, id, cookie)}`, { 'Content-Type': 'application/octet-stream' }, Buffer.from(body));
    assert.equal(r.status, 201, r.body.toString());
  }
  const scrub = (req: object, timeoutMs = 30_000) => c.call<ScrubResponse>('ScrubVolume', req, timeoutMs);
  const readOnly = async (vid: number) => (await c.call<{ is_read_only: boolean }>('VolumeStatus', { volume_id: vid })).is_read_only;
  const corruptIndex = (vid: number) => appendFileSync(join(s.dir, `${vid}.idx`), Buffer.from([0xde, 0xad]));
  const corruptDat = (vid: number) => truncateSync(join(s.dir, `${vid}.dat`), 8);

  before(async () => {
    master = await startMaster(100);
    s = await startVolumeServer({ master: master.address, extraArgs: args });
    c = volumeClient(s.grpcAddress);
  });

  after(async () => {
    c?.close();
    await s?.stop('SIGKILL');
    await master?.stop('SIGKILL');
    if (s) cleanup(s.dir);
    if (master) cleanup(master.dir);
  });

  test('FullHealthy: three needles, FULL finds one volume, three files, nothing broken', async () => {
    await allocate(200);
    await upload(200, 1n, 1, 'data-one');
    await upload(200, 2n, 2, 'data-two');
    await upload(200, 3n, 3, 'data-three');
    const r = await scrub({ volume_ids: [200], mode: 'FULL' });
    assert.deepEqual(r, { total_volumes: '1', total_files: '3', broken_volume_ids: [], details: [] });
  });

  test('FullCorruptData: a .dat cut to its super block is broken, with Go details', async () => {
    await allocate(201);
    await upload(201, 1n, 1, 'important data');
    corruptDat(201);
    const r = await scrub({ volume_ids: [201], mode: 'FULL' });
    assert.deepEqual(r.broken_volume_ids, [201]);
    assert.equal(r.details[0], 'failed to read needle 1 on volume 201: EOF');
    assert.match(r.details[1], /^data file for volume 201 is smaller \(8\) than the 1 needles it contains \(\d+\)$/);
    assert.equal(r.details.length, 2);
  });

  test('MixedHealthy: INDEX over a healthy and a corrupt volume names only the corrupt one', async () => {
    await allocate(202);
    await allocate(203);
    await upload(202, 1n, 1, 'healthy');
    await upload(203, 1n, 1, 'will corrupt');
    corruptIndex(203);
    const r = await scrub({ volume_ids: [202, 203], mode: 'INDEX' });
    assert.equal(r.total_volumes, '2');
    assert.deepEqual(r.broken_volume_ids, [203]);
    assert.equal(r.details.length, 1);
    assert.match(r.details[0], /^expected an index file of size (18|19), got (16|17)$/);
  });

  test('MissingVolumeReturnsError: a named volume that is not here fails the call', async () => {
    await assert.rejects(scrub({ volume_ids: [99999], mode: 'FULL' }), /volume id 99999 not found/);
    // and it fails before anything is scrubbed even when other named volumes exist
    await assert.rejects(scrub({ volume_ids: [200, 99999], mode: 'INDEX' }), /volume id 99999 not found/);
  });

  test('unknown and EC-only modes are refused with Go text; READS and LOCAL are FULL', async () => {
    await assert.rejects(scrub({ volume_ids: [200], mode: 99 }), /unsupported volume scrub mode 99/);
    await assert.rejects(scrub({ volume_ids: [200], mode: 'CHECKSUM' }), /unsupported volume scrub mode 4/);
    await assert.rejects(scrub({ volume_ids: [200], mode: 'UNKNOWN' }), /unsupported volume scrub mode 0/);
    for (const mode of ['READS', 'LOCAL']) {
      assert.deepEqual(await scrub({ volume_ids: [200], mode }), { total_volumes: '1', total_files: '3', broken_volume_ids: [], details: [] });
    }
  });

  test('MarkBrokenReadonlyHealthyVolume: a healthy volume stays writable', async () => {
    await allocate(76);
    await upload(76, 1n, 1, 'healthy data');
    const r = await scrub({ volume_ids: [76], mode: 'INDEX', mark_broken_volumes_readonly: true });
    assert.deepEqual(r.broken_volume_ids, []);
    assert.equal(await readOnly(76), false);
  });

  test('MarkBrokenReadonlyCorruptVolume: reported without the flag, made read-only (and persisted) with it', async () => {
    await allocate(77);
    await upload(77, 1n, 1, 'test data');
    corruptIndex(77);
    const plain = await scrub({ volume_ids: [77], mode: 'INDEX' });
    assert.deepEqual(plain.broken_volume_ids, [77]);
    assert.equal(await readOnly(77), false);
    const marked = await scrub({ volume_ids: [77], mode: 'INDEX', mark_broken_volumes_readonly: true });
    assert.deepEqual(marked.broken_volume_ids, [77]);
    assert.equal(marked.details.at(-1), 'volume 77 is now read-only');
    assert.equal(await readOnly(77), true);
  });

  test('MarkBrokenReadonlyInMaintenanceMode: maintenance does not block fencing a broken volume', async () => {
    await allocate(78);
    await upload(78, 1n, 1, 'test data');
    corruptIndex(78);
    const st = await c.call<{ state: { version: number } }>('GetState');
    await c.call('SetState', { state: { maintenance: true, version: st.state.version } });
    try {
      const r = await scrub({ volume_ids: [78], mode: 'INDEX', mark_broken_volumes_readonly: true });
      assert.deepEqual(r.broken_volume_ids, [78]);
      assert.equal(await readOnly(78), true);
    } finally {
      const now = await c.call<{ state: { version: number } }>('GetState');
      await c.call('SetState', { state: { maintenance: false, version: now.state.version } });
    }
  });

  test('every mounted volume when none is named: the broken ones listed, counts over all', async () => {
    const r = await scrub({ mode: 'INDEX' });
    const vids = [200, 201, 202, 203, 76, 77, 78];
    assert.equal(Number(r.total_volumes), vids.length);
    assert.deepEqual([...r.broken_volume_ids].sort((a, b) => a - b), [77, 78, 203]);
    assert.equal(r.details.length, 3);
  });

  test('a scrub whose client goes away stops instead of reading on', async () => {
    // 4 MiB at -maintenanceMBps=1 takes about four seconds to read: the client gives up long before
    await allocate(90);
    for (let i = 1; i <= 4; i++) await upload(90, BigInt(i), i, Buffer.alloc(1024 * 1024, i));
    await assert.rejects(scrub({ volume_ids: [90], mode: 'FULL' }, 300), (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
    await waitFor(async () => /"vid":90,[^\n]*scrub: cancelled by the client/.test(s.log()), 10_000, 'the scrub of volume 90 to stop');
    assert.doesNotMatch(s.log(), /"vid":90,[^\n]*scrub: volume done/);
  });

  test('Query: one stripe per file id with the passing records; CSV answers nothing; cookie mismatch ends quietly', async () => {
    await allocate(64);
    await upload(64, 777001n, 0xaabbccdd, '{"score":3,"name":"a"}\n{"score":12,"name":"b"}\n{"score":18,"nested":{"x":true}}\n');
    await upload(64, 777002n, 0x01020304, '{"score":40}\n');
    const fid1 = formatFileId(64, 777001n, 0xaabbccdd);
    const fid2 = formatFileId(64, 777002n, 0x01020304);
    const json = { json_input: { type: 'LINES' } };
    const q = await queryStream(s.grpcAddress, {
      from_file_ids: [fid1, fid2],
      selections: ['score', 'name'],
      filter: { field: 'score', operand: '>', value: '10' },
      input_serialization: json,
    });
    assert.equal(q.error, undefined, q.error?.details);
    assert.deepEqual(q.stripes.map(String), ['{score:12,name:"b"}{score:18,name:}', '{score:40,name:}']);

    const csv = await queryStream(s.grpcAddress, { from_file_ids: [fid1], selections: ['score'], filter: {}, input_serialization: { csv_input: {} } });
    assert.deepEqual(csv, { stripes: [] });

    const wrongCookie = await queryStream(s.grpcAddress, {
      from_file_ids: [fid2, formatFileId(64, 777001n, 0xaabbccde), fid2],
      selections: ['score'],
      filter: { field: 'score', operand: '>', value: '0' },
      input_serialization: json,
    });
    assert.deepEqual({ error: wrongCookie.error, stripes: wrongCookie.stripes.map(String) }, { error: undefined, stripes: ['{score:40}'] });

    const bad = await queryStream(s.grpcAddress, { from_file_ids: ['bad-fid'], selections: ['name'], filter: {}, input_serialization: json });
    assert.match(bad.error?.details ?? '', /Wrong fid format/);
    const missing = await queryStream(s.grpcAddress, { from_file_ids: [formatFileId(98766, 1n, 1)], selections: ['name'], filter: {}, input_serialization: json });
    assert.match(missing.error?.details ?? '', /volume 98766 not found/);
    const noNeedle = await queryStream(s.grpcAddress, { from_file_ids: [formatFileId(64, 5n, 5)], selections: ['name'], filter: {}, input_serialization: json });
    assert.ok(noNeedle.error, 'a needle that is not there fails the stream');
  });

  test('Query over a file larger than its read piece: every line seen once, CRC checked', async () => {
    await allocate(65);
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++) lines.push(JSON.stringify({ i, pad: 'p'.repeat(80 + (i % 17)) }));
    const body = Buffer.from(lines.join('\n') + '\n');
    assert.ok(body.length > 2 * 1024 * 1024);
    await upload(65, 1n, 0x11, body);
    const q = await queryStream(s.grpcAddress, {
      from_file_ids: [formatFileId(65, 1n, 0x11)],
      selections: ['i'],
      filter: { field: 'i', operand: '>=', value: '29990' },
      input_serialization: { json_input: { type: 'LINES' } },
    });
    assert.equal(q.error, undefined, q.error?.details);
    assert.deepEqual(q.stripes.map(String), [Array.from({ length: 10 }, (_, k) => `{i:${29990 + k}}`).join('')]);
    // a flipped data byte fails the read with Go's CRC error before anything is sent
    const fh = await open(join(s.dir, '65.dat'), 'r+');
    await fh.write(Buffer.from('#'), 0, 1, 8 + 16 + 4 + 1000);
    await fh.close();
    const bad = await queryStream(s.grpcAddress, {
      from_file_ids: [formatFileId(65, 1n, 0x11)],
      selections: ['i'],
      filter: { field: 'i', operand: '>=', value: '0' },
      input_serialization: { json_input: { type: 'LINES' } },
    });
    assert.deepEqual(bad.stripes, []);
    assert.match(bad.error?.details ?? '', /^invalid CRC for needle 1 \(got [0-9a-f]{8}, want [0-9a-f]{8}\), data on disk corrupted: needle data corrupted$/);
  });

  test('the read-only mark of a broken volume is persisted in its .vif, as Go does', () => {
    const vif = (vid: number) => JSON.parse(readFileSync(join(s.dir, `${vid}.vif`), 'utf8')) as { readOnly?: boolean };
    assert.equal(vif(77).readOnly, true);
    assert.equal(vif(78).readOnly, true);
    assert.notEqual(vif(76).readOnly, true);
  });
});

describe('scrub-query switched off', () => {
  test('plugins.scrub-query.enabled=false: its RPCs answer UNIMPLEMENTED naming the switch', async () => {
    const vs = await startVolumeServer({ extraArgs: ['-plugins.scrub-query.enabled=false'] });
    const client = volumeClient(vs.grpcAddress);
    try {
      for (const rpc of ['ScrubVolume', 'ScrubEcVolume']) {
        await assert.rejects(client.call(rpc, { mode: 'INDEX' }), (e: grpc.ServiceError) => {
          assert.equal(e.code, grpc.status.UNIMPLEMENTED);
          assert.match(e.details, new RegExp(`^${rpc} belongs to the scrub-query plugin family, which is disabled; enable it with plugins\\.scrub-query\\.enabled=true$`));
          return true;
        });
      }
      const q = await queryStream(vs.grpcAddress, { from_file_ids: ['1,01637037d6'], selections: [], filter: {}, input_serialization: {} });
      assert.equal(q.error?.code, grpc.status.UNIMPLEMENTED);
      assert.match(q.error?.details ?? '', /plugins\.scrub-query\.enabled=true/);
    } finally {
      client.close();
      await vs.stop();
      cleanup(vs.dir);
    }
  });
});

describe('scrub while a volume goes away', () => {
  let master: Master;
  let s: VolumeServer;
  let c: VolumeClient;

  before(async () => {
    master = await startMaster(100);
    // 1 MB/s: an 8 MiB volume takes about eight seconds to scrub, the delete lands well inside it
    s = await startVolumeServer({ master: master.address, extraArgs: ['--max', '10', '--maintenanceMBps', '1'] });
    c = volumeClient(s.grpcAddress);
  });

  after(async () => {
    c?.close();
    await s?.stop('SIGKILL');
    await master?.stop('SIGKILL');
    if (s) cleanup(s.dir);
    if (master) cleanup(master.dir);
  });

  async function bigVolume(vid: number): Promise<void> {
    await c.call('AllocateVolume', { volume_id: vid, collection: '', replication: '000', ttl: '', version: 3 });
    for (let i = 1; i <= 8; i++) {
      const r = await rawRequest('POST', `${s.url}/${formatFileId(vid, BigInt(i), i)}`, { 'Content-Type': 'application/octet-stream' }, Buffer.alloc(1024 * 1024, i));
      assert.equal(r.status, 201);
    }
  }

  const deleteSoon = (vid: number) =>
    new Promise<void>((resolve, reject) => setTimeout(() => c.call('VolumeDelete', { volume_id: vid }).then(() => resolve(), reject), 1500));

  test('from the node-wide listing it is skipped; the others are still counted', async () => {
    await bigVolume(91);
    await c.call('AllocateVolume', { volume_id: 92, collection: '', replication: '000', ttl: '', version: 3 });
    const scrub = c.call<ScrubResponse>('ScrubVolume', { mode: 'FULL' }, 60_000);
    await deleteSoon(91);
    const r = await scrub;
    assert.deepEqual(r, { total_volumes: '1', total_files: '0', broken_volume_ids: [], details: [] });
    assert.match(s.log(), /"vid":91,[^\n]*scrub: volume is no longer mounted, skipping/);
  });

  test('named by the caller it fails the call', async () => {
    await bigVolume(93);
    const scrub = c.call<ScrubResponse>('ScrubVolume', { mode: 'FULL', volume_ids: [93, 92] }, 60_000);
    await deleteSoon(93);
    await assert.rejects(scrub, /volume id 93 not found/);
  });
});
