// A 1 GiB upload is streamed to disk: the server's memory stays bounded and the needle reads back.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { volumeClient } from '../../../helpers/grpc.js';
import { cleanup, procStatusKb, startMaster, startVolumeServer, type Master, type VolumeServer } from '../../../helpers/processes.js';

const SIZE = 1024 * 1024 * 1024;
const RSS_BOUND_KB = 200 * 1024;

let master: Master;
let vs: VolumeServer;

before(async () => {
  master = await startMaster(4096);
  vs = await startVolumeServer({ master: master.address, extraArgs: ['--fileSizeLimitMB', '2048'] });
  const c = volumeClient(vs.grpcAddress);
  await c.call('AllocateVolume', { volume_id: 5, replication: '000', version: 3 });
  c.close();
});

after(async () => {
  await vs?.stop();
  await master.stop();
  cleanup(master.dir, vs.dir);
});

/** A deterministic 1 GiB body made of one 1 MiB pattern block with a changing counter. */
function* body(hash: ReturnType<typeof createHash>): Generator<Buffer> {
  const block = Buffer.alloc(1 << 20, 0x5a);
  for (let i = 0; i < SIZE >> 20; i++) {
    block.writeUInt32BE(i, 0);
    const copy = Buffer.from(block);
    hash.update(copy);
    yield copy;
  }
}

test('a 1 GiB upload streams to disk with bounded memory and reads back intact', async (t) => {
  const pid = vs.proc.pid!;
  const rssBefore = procStatusKb(pid, 'VmRSS');
  const sent = createHash('sha256');
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${vs.url}/5,01deadbeef`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(SIZE) },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    const it = body(sent);
    const pump = () => {
      for (let n = it.next(); ; n = it.next()) {
        if (n.done) return void req.end();
        if (!req.write(n.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
  assert.equal(status, 201);
  const uploadPeak = procStatusKb(pid, 'VmHWM');
  t.diagnostic(`peak RSS growth after the upload: ${uploadPeak - rssBefore} kB`);
  assert.ok(uploadPeak - rssBefore < RSS_BOUND_KB, `upload grew the server's peak RSS by ${uploadPeak - rssBefore} kB`);

  const got = createHash('sha256');
  let length = 0;
  await new Promise<void>((resolve, reject) => {
    httpRequest(`${vs.url}/5,01deadbeef`, (res) => {
      assert.equal(res.statusCode, 200);
      res.on('data', (c: Buffer) => {
        length += c.length;
        got.update(c);
      });
      res.on('end', resolve);
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
  assert.equal(length, SIZE);
  assert.equal(got.digest('hex'), sent.digest('hex'));
  const peak = procStatusKb(pid, 'VmHWM');
  t.diagnostic(`peak RSS growth after upload + download: ${peak - rssBefore} kB`);
  assert.ok(peak - rssBefore < RSS_BOUND_KB, `upload + download grew the server's peak RSS by ${peak - rssBefore} kB`);
});
