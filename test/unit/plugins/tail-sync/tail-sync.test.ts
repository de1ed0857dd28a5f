// Units of the tail-sync family: the guards on untrusted names and peer addresses, the index
// walks over a real volume (binary search by append time, the .dat end the rows cover, the record
// scan) and the tail stream reassembly applied to a second volume.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import {
  FLAG_HAS_LAST_MODIFIED_DATE,
  FLAG_HAS_NAME,
  newNeedle,
  parseNeedleHeader,
} from '../../../../core/storage/needle.js';
import { ReplicaPlacement, Ttl } from '../../../../core/storage/types.js';
import { Volume } from '../../../../core/storage/volume.js';
import { collectionError, fileExtensionError, validateReplicaTarget } from '../../../../plugins/tail-sync/grpc/common.js';
import { applyTailedNeedle, consumeTailStream } from '../../../../plugins/tail-sync/grpc/tail-receiver.js';
import {
  appendAtNsAt,
  binarySearchByAppendAtNs,
  datSizeCoveredByIndex,
  scanRecordsFrom,
} from '../../../../plugins/tail-sync/grpc/volume-index.js';

async function withVolume<T>(fn: (v: Volume, dir: string) => Promise<T>, id = 5): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tail-sync-unit-'));
  const v = await Volume.create({
    dir,
    collection: '',
    id,
    create: { replicaPlacement: ReplicaPlacement.parse('000'), ttl: Ttl.EMPTY },
  });
  try {
    return await fn(v, dir);
  } finally {
    await v.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function needle(id: bigint, text: string) {
  return newNeedle({
    id,
    cookie: 0x1000 + Number(id),
    data: Buffer.from(text),
    flags: FLAG_HAS_NAME | FLAG_HAS_LAST_MODIFIED_DATE,
    name: `n${id}`,
    lastModified: 1_700_000_000,
  });
}

test('file extension guard: a dot and ASCII letters/digits only', () => {
  for (const ok of ['.dat', '.idx', '.vif', '.ecx', '.ecj', '.ec00', '.ec13', '.tmprecv', '.ecsum']) {
    assert.equal(fileExtensionError(ok), undefined, ok);
  }
  for (const bad of ['', '.', 'dat', '..', '/../../etc/passwd', '.dat/../x', '.d\\at', '.dat\0', '.é', '. dat', '../.dat']) {
    assert.match(fileExtensionError(bad) ?? '', /^invalid file extension "/, JSON.stringify(bad));
  }
});

test('collection guard: one path element, may hold dots and dashes', () => {
  for (const ok of ['', 'pics', 'a.b-c_d', '..x', 'x..']) assert.equal(collectionError(ok), undefined, ok);
  for (const bad of ['.', '..', '../x', 'a/b', 'a\\b', '/abs']) {
    assert.equal(collectionError(bad), `invalid collection ${JSON.stringify(bad)}`);
  }
});

test('peer address guard: bare host:port, no loopback/link-local/IMDS, private ranges allowed', async () => {
  await validateReplicaTarget('10.1.2.3:8080');
  await validateReplicaTarget('192.168.0.7:8080.18080');
  await validateReplicaTarget('[2001:db8::1]:8080');
  const rejects = async (target: string, text: RegExp) =>
    assert.rejects(validateReplicaTarget(target), (e: Error) => {
      assert.match(e.message, text, target);
      return true;
    });
  await rejects('', /^replica target is empty$/);
  await rejects('http://10.0.0.1:80', /must be a bare host:port$/);
  await rejects('user@10.0.0.1:80', /must be a bare host:port$/);
  await rejects('10.0.0.1', /must be a bare host:port: .*missing port/);
  await rejects('127.0.0.1:8080', /resolves to loopback address 127\.0\.0\.1$/);
  await rejects('[::1]:8080', /resolves to loopback address ::1$/);
  await rejects('0.0.0.0:8080', /unspecified address/);
  await rejects('169.254.169.254:80', /targets instance metadata service 169\.254\.169\.254$/);
  await rejects('169.254.1.1:80', /link-local address/);
  await rejects('metadata.google.internal:80', /targets instance metadata service$/);
  await rejects('[::ffff:127.0.0.1]:80', /loopback address 127\.0\.0\.1$/);
  await rejects('[64:ff9b::7f00:1]:80', /loopback address 127\.0\.0\.1$/);
  await rejects('[2002:7f00:1::]:80', /loopback address 127\.0\.0\.1$/);
});

test('binary search by append time, covered .dat end and record scan on a real volume', async () => {
  await withVolume(async (v) => {
    // empty volume: nothing after any time
    assert.deepEqual(await binarySearchByAppendAtNs(v, 0n), { offset: 0, isLast: true });
    assert.equal(await datSizeCoveredByIndex(v, v.idxFileSize()), 8);

    const offsets: number[] = [];
    for (let i = 1n; i <= 9n; i++) {
      const r = await v.write(needle(i, `payload-${i}-${'x'.repeat(Number(i) * 7)}`));
      offsets.push(r.offset);
    }
    await v.delete(4n, { cookie: 0x1004 }); // a tombstone record and a row with size -1
    const times = await Promise.all(offsets.map((o) => appendAtNsAt(v, o)));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] > times[i - 1], 'append times increase');

    assert.deepEqual(await binarySearchByAppendAtNs(v, 0n), { offset: offsets[0], isLast: false });
    assert.deepEqual(await binarySearchByAppendAtNs(v, times[0] - 1n), { offset: offsets[0], isLast: false });
    assert.deepEqual(await binarySearchByAppendAtNs(v, times[0]), { offset: offsets[1], isLast: false });
    assert.deepEqual(await binarySearchByAppendAtNs(v, times[5]), { offset: offsets[6], isLast: false });
    const tomb = await binarySearchByAppendAtNs(v, times[8]);
    assert.equal(tomb.isLast, false);
    assert.ok(tomb.offset > offsets[8], 'the tombstone record comes after the last write');
    assert.equal(parseNeedleHeader(await readAt(v, tomb.offset, 16)).id, 4n);
    const tombNs = await appendAtNsAt(v, tomb.offset);
    assert.deepEqual(await binarySearchByAppendAtNs(v, tombNs), { offset: 0, isLast: true });
    assert.deepEqual(await binarySearchByAppendAtNs(v, 2n ** 64n - 1n), { offset: 0, isLast: true });

    assert.equal(await datSizeCoveredByIndex(v, v.idxFileSize()), v.datFileSize());
    const rowSize = 16;
    assert.equal(await datSizeCoveredByIndex(v, 3 * rowSize), offsets[3], 'three rows cover up to the 4th record');

    const seen: bigint[] = [];
    await scanRecordsFrom(v, offsets[6], async (header, body, off) => {
      const h = parseNeedleHeader(header);
      seen.push(h.id);
      assert.equal(16 + body.length + off <= v.datFileSize(), true);
    });
    assert.deepEqual(seen, [7n, 8n, 9n, 4n]);
  });
});

async function readAt(v: Volume, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  await v.readDataRange(b, 0, len, pos);
  return b;
}

test('tail stream: chunked bodies reassemble; keep-alives skipped; tombstones delete live needles', async () => {
  await withVolume(async (src) => {
    await withVolume(async (dst) => {
      const big = 'L'.repeat(5 * 1024 * 1024 + 123);
      await src.write(needle(1n, 'small-one'));
      await src.write(needle(2n, big));
      await dst.write(needle(3n, 'to-be-deleted'));
      await src.write(needle(3n, 'to-be-deleted'));
      await src.delete(3n, { cookie: 0x1003 });

      // what VolumeTailSender would send: keep-alive, then each record in <= 2 MiB body chunks
      const pt = new PassThrough({ objectMode: true });
      pt.write({ needle_header: Buffer.alloc(0), needle_body: Buffer.alloc(0), is_last_chunk: true, version: 3 });
      let chunks = 0;
      await scanRecordsFrom(src, src.superBlock.blockSize(), async (header, body) => {
        for (let i = 0; i < body.length; i += 2 * 1024 * 1024) {
          const stop = Math.min(i + 2 * 1024 * 1024, body.length);
          pt.write({ needle_header: header, needle_body: body.subarray(i, stop), is_last_chunk: stop >= body.length, version: 3 });
          chunks++;
        }
      });
      pt.end();
      assert.ok(chunks >= 6, `big needle sent in chunks (${chunks})`);
      const applied = await consumeTailStream(pt as unknown as grpc.ClientReadableStream<unknown>, (n) => applyTailedNeedle(dst, n));
      assert.equal(applied, 4);

      assert.equal(Buffer.from((await dst.readNeedle(1n)).data).toString(), 'small-one');
      assert.equal(Buffer.from((await dst.readNeedle(2n)).data).length, big.length);
      await assert.rejects(dst.readNeedle(3n), /deleted/i);
      assert.equal(dst.lookup(3n)!.size < 0, true, 'needle 3 is a deletion in the index');
    }, 6);
  });
});
