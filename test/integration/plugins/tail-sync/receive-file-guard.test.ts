// ReceiveFile must not let a peer plant files the server later acts on (issue 13): compaction
// leftovers renamed over a mounted volume's .dat/.idx at the next start, a .note that makes the
// startup scan delete it, a .vif that changes its settings, a live file truncated through the EC
// path, files of an unmounted volume a later mount picks up, a symlink followed out of the data
// directory. Each case is checked on a real server over real gRPC, and the volume is read back
// after a restart. What the EC and copy flows legitimately send is still accepted.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatFileId } from '../../../../core/storage/file-id.js';
import { FLAG_HAS_LAST_MODIFIED_DATE, FLAG_HAS_NAME, encodeNeedle, newNeedle } from '../../../../core/storage/needle.js';
import { receiveFileStream, volumeClient, type VolumeClient } from '../../../helpers/grpc.js';
import { rawRequest } from '../../../helpers/http.js';
import { cleanup, startVolumeServer, tempDir, type VolumeServer } from '../../../helpers/processes.js';

type Row = Record<string, unknown>;

/** A ReceiveFile client stream: sends `msgs` and returns the response (or the status error). */

const content = (text: string) => ({ file_content: Buffer.from(text) });

function record(id: bigint, cookie: number, text: string): Buffer {
  return encodeNeedle(
    newNeedle({ id, cookie, data: Buffer.from(text), flags: FLAG_HAS_NAME | FLAG_HAS_LAST_MODIFIED_DATE, name: `f${id}.txt`, lastModified: 1_700_000_000 }),
    3,
  );
}

describe('ReceiveFile cannot plant files the server acts on', () => {
  let s: VolumeServer;
  let c: VolumeClient;
  const dir = tempDir('ts-weed-recv-guard-');
  const outside = tempDir('ts-weed-recv-outside-');

  async function put(vid: number, id: bigint, cookie: number, text: string): Promise<void> {
    const blob = record(id, cookie, text);
    await c.call('WriteNeedleBlob', { volume_id: vid, needle_id: id.toString(), size: blob.readInt32BE(12), needle_blob: blob });
  }

  async function body(vid: number, id: bigint, cookie: number): Promise<{ status: number; text: string }> {
    const r = await rawRequest('GET', `${s.url}/${formatFileId(vid, id, cookie)}`);
    return { status: r.status, text: r.body.toString() };
  }

  async function restart(): Promise<void> {
    c.close();
    await s.stop('SIGTERM');
    s = await startVolumeServer({ dir, port: s.port, extraArgs: ['--max', '20'] });
    c = volumeClient(s.grpcAddress);
  }

  before(async () => {
    s = await startVolumeServer({ dir, extraArgs: ['--max', '20'] });
    c = volumeClient(s.grpcAddress);
    for (const vid of [5, 6, 8]) {
      await c.call('AllocateVolume', { volume_id: vid, collection: '', replication: '000', ttl: '', version: 3 });
      await put(vid, 1n, 0x1234, `live data of volume ${vid}`);
    }
  });

  after(async () => {
    c?.close();
    await s?.stop('SIGKILL');
    cleanup(dir, outside);
  });

  test('a mounted volume refuses compaction files, .note, .vif and its live files', async () => {
    for (const ext of ['.cpc', '.cpd', '.cpx', '.cpldb', '.note', '.vif', '.dat', '.idx', '.sdx', '.rdb', '.unavailable', '.CPD']) {
      const { res, error } = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 5, ext } }, content('{"read_only":true}')]);
      assert.equal(error, undefined, ext);
      assert.equal(res?.error, `volume 5 is mounted; unmount it before receiving its ${ext} file`, ext);
      assert.equal(String(res?.bytes_written), '0', ext);
    }
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('5.')).sort(), ['5.dat', '5.idx', '5.vif']);
    await restart();
    assert.deepEqual(await body(5, 1n, 0x1234), { status: 200, text: 'live data of volume 5' });
    assert.equal((await c.call<Row>('VolumeStatus', { volume_id: 5 })).is_read_only, false);
  });

  test('the EC path takes EC files only and never a live file of a volume', async () => {
    for (const ext of ['.dat', '.idx', '.cpd', '.note', '.tmprecv', '.ec32', '.ec1']) {
      const { res } = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 5, ext, is_ec_volume: true } }, content('garbage')]);
      assert.equal(res?.error, `invalid ec volume file extension ${JSON.stringify(ext)}`, ext);
    }
    // the EC .vif is the volume's own .vif: refused while the volume is mounted
    const vif = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 5, ext: '.vif', is_ec_volume: true } }, content('{"read_only":true}')]);
    assert.equal(vif.res?.error, 'volume 5 is mounted; unmount it before receiving its .vif file');
    // the EC worker sending the encode source its own .vif back changes nothing: accepted
    const own = readFileSync(join(dir, '5.vif'));
    const same = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 5, ext: '.vif', is_ec_volume: true } }, { file_content: own }]);
    assert.equal(same.res?.error, '');
    assert.deepEqual(readFileSync(join(dir, '5.vif')), own);
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.receiving')), []);
    assert.deepEqual(await body(5, 1n, 0x1234), { status: 200, text: 'live data of volume 5' });
  });

  test('an unmounted volume on disk gets nothing a later mount would act on', async () => {
    await c.call('VolumeUnmount', { volume_id: 6 });
    for (const ext of ['.note', '.cpd', '.cpx', '.cpc', '.dat']) {
      const { res } = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 6, ext, is_ec_volume: true } }, content('x')]);
      assert.equal(res?.error, `invalid ec volume file extension ${JSON.stringify(ext)}`, ext);
    }
    const vif = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 6, ext: '.vif', is_ec_volume: true } }, content('{"read_only":true}')]);
    assert.equal(vif.res?.error, `volume 6 has a .dat in ${dir}; refusing to replace its .vif`);
    // staging a new copy of a volume whose .dat is on disk
    const staged = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 6, ext: '.dat', disk_type: 'hdd' } }, content('x')]);
    assert.equal(staged.res?.error, `volume 6 has a .dat in ${dir}; refusing to stage another copy`);
    // not mounted and no staging asked: Go's answer
    const plain = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 6, ext: '.note' } }, content('x')]);
    assert.equal(plain.res?.error, 'volume 6 not found');
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('6.')).sort(), ['6.dat', '6.idx', '6.vif']);
    await c.call('VolumeMount', { volume_id: 6 });
    assert.deepEqual(await body(6, 1n, 0x1234), { status: 200, text: 'live data of volume 6' });
  });

  test('a symlink at the target is replaced, never followed', async () => {
    const victim = join(outside, 'victim');
    writeFileSync(victim, 'outside the data directory');
    symlinkSync(victim, join(dir, '8.ec00'));
    const { res } = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 8, ext: '.ec00', is_ec_volume: true } }, content('shard-bytes')]);
    assert.equal(res?.error, '');
    assert.equal(readFileSync(victim, 'utf8'), 'outside the data directory');
    assert.equal(readFileSync(join(dir, '8.ec00'), 'utf8'), 'shard-bytes');
  });

  test('a directory at the target is an error and nothing is left behind', async () => {
    mkdirSync(join(dir, '8.ecj'));
    const { res } = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 8, ext: '.ecj', is_ec_volume: true } }, content('journal')]);
    assert.equal(res?.error, `failed to create file: open ${join(dir, '8.ecj')}: is a directory`);
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.receiving')), []);
  });

  test('what the EC and copy flows send is still accepted beside a mounted volume', async () => {
    for (const [ext, isEc] of [['.ec03', true], ['.ecx', true], ['.ecsum', true], ['.ec04', false], ['.ecx', false], ['.tmprecv', false]] as const) {
      const { res } = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 8, ext, is_ec_volume: isEc } }, content('part-a:'), content('part-b')]);
      assert.equal(res?.error, '', ext);
      assert.equal(String(res?.bytes_written), '13', ext);
      assert.equal(readFileSync(join(dir, `8${ext}`), 'utf8'), 'part-a:part-b', ext);
    }
    // a clean peer stages a new volume as <base><ext>.copying
    const staged = await receiveFileStream(s.grpcAddress, [{ info: { volume_id: 77, collection: 'dec', ext: '.dat', disk_type: 'hdd' } }, content('decoded')]);
    assert.equal(staged.res?.error, '');
    assert.equal(readFileSync(join(dir, 'dec_77.dat.copying'), 'utf8'), 'decoded');
    assert.equal(existsSync(join(dir, 'dec_77.dat')), false);
    await restart();
    assert.deepEqual(await body(8, 1n, 0x1234), { status: 200, text: 'live data of volume 8' });
  });
});
