// One MIME table for uploads and reads: the type an upload derives from its file name (stored as the
// needle's mime) equals the type a read derives from the URL file name of a needle stored without
// one, and both equal what the Go volume server answers for the same requests (Go's
// needle_parse_upload.go parseUpload and volume_server_handlers_read.go writeResponseContent both
// use mime.TypeByExtension). The extensions include those an older upload-only table got wrong.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { volumeClient } from '../helpers/grpc.js';
import { rawRequest } from '../helpers/http.js';
import { cleanup, startGoVolumeServer, startMaster, startVolumeServer, tempDir, type Master, type VolumeServer } from '../helpers/processes.js';

const VID = 41;
const COOKIE = '637037d6';
// Not compressible (so never stored gzipped) and plain text when sniffed.
const DATA = Buffer.from('x1');
const EXTS = [
  ...['.csv', '.mp4', '.zip', '.txt', '.json', '.svg', '.gz', '.md', '.CSV', '.Mp4', '.webm', '.wav', '.xsl', '.jfif', '.exe'],
  ...['.xml', '.js', '.ico', '.tar', '.ts', '.yaml', '.html', '.nosuchext'],
];

/** A one-part multipart body whose part has a file name and no Content-Type of its own. */
function multipartNoType(fileName: string, data: Buffer): { body: Buffer; contentType: string } {
  const boundary = 'mimeagree7c1f';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\n\r\n`);
  return { body: Buffer.concat([head, data, Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

interface Types {
  /** Content-Type of a GET of a needle uploaded as `f<ext>` (the upload's table). */
  upload: string;
  /** Content-Type of a GET `/vid/fid/f<ext>` of a needle stored without mime or name extension (the read's table). */
  read: string;
}

async function typesOf(url: string, ext: string, key: number): Promise<Types> {
  const named = `${VID},${key.toString(16)}${COOKIE}`;
  const mp = multipartNoType(`f${ext}`, DATA);
  const up = await rawRequest('POST', `${url}/${named}`, { 'Content-Type': mp.contentType }, mp.body);
  assert.equal(up.status, 201, `${url} upload f${ext}: ${up.body.toString()}`);
  const got = await rawRequest('GET', `${url}/${named}`);
  assert.equal(got.status, 200);

  const bare = `${(key + 1).toString(16)}${COOKIE}`;
  const up2 = await rawRequest('POST', `${url}/${VID},${bare}`, { 'Content-Type': 'application/octet-stream' }, DATA);
  assert.equal(up2.status, 201, `${url} raw upload: ${up2.body.toString()}`);
  const read = await rawRequest('GET', `${url}/${VID}/${bare}/f${ext}`);
  assert.equal(read.status, 200);
  return { upload: String(got.headers['content-type'] ?? ''), read: String(read.headers['content-type'] ?? '') };
}

describe('uploads and reads answer the same type for a file name, as Go does', () => {
  let master: Master;
  let ours: VolumeServer;
  let go: VolumeServer;

  before(async () => {
    master = await startMaster();
    [ours, go] = await Promise.all([
      startVolumeServer({ master: master.address }),
      startGoVolumeServer({ master: master.address, dir: tempDir('go-weed-volume-'), width: 5 }),
    ]);
    for (const vs of [ours, go]) {
      const c = volumeClient(vs.grpcAddress);
      try {
        await c.call('AllocateVolume', { volume_id: VID, collection: '', replication: '000', ttl: '', version: 3 });
      } finally {
        c.close();
      }
    }
  });

  after(async () => {
    await Promise.all([ours, go].map((s) => s?.stop()));
    await master?.stop();
    cleanup(...[master, ours, go].filter(Boolean).map((p) => p.dir));
  });

  EXTS.forEach((ext, i) => {
    test(ext, async () => {
      const key = 0x100 + i * 2;
      const [mine, theirs] = await Promise.all([typesOf(ours.url, ext, key), typesOf(go.url, ext, key)]);
      assert.equal(mine.upload, mine.read, `our upload and read disagree on ${ext}`);
      assert.deepEqual(mine, theirs, `Go answers ${JSON.stringify(theirs)} for ${ext}`);
    });
  });

  test('an upload lower-cases the extension, a read does not: `.C` differs only where the table is case-sensitive, as in Go', async () => {
    const key = 0x300;
    const [mine, theirs] = await Promise.all([typesOf(ours.url, '.C', key), typesOf(go.url, '.C', key)]);
    assert.deepEqual(mine, theirs);
    assert.equal(mine.upload, (await typesOf(ours.url, '.c', key + 2)).upload);
  });

  test("entries the old upload-only table answered differently are the weed binary's", async () => {
    // .csv/.mp4/.zip were missing from it (answered only where the host has a MIME database);
    // .wav/.xsl came from the host database over Go's builtin table; .webm/.xml/.js are the weed
    // binary's own entries (weed/admin/dash/file_mime.go) over both.
    const want: Record<string, string> = {
      '.csv': 'text/csv; charset=utf-8',
      '.mp4': 'video/mp4',
      '.zip': 'application/zip',
      '.webm': 'video/webm',
      '.wav': 'audio/wav',
      '.xsl': 'text/xml; charset=utf-8',
      '.xml': 'application/xml',
      '.js': 'application/javascript',
    };
    for (const [ext, type] of Object.entries(want)) {
      const t = await typesOf(ours.url, ext, 0x200 + Object.keys(want).indexOf(ext) * 2);
      assert.deepEqual(t, { upload: type, read: type }, ext);
    }
  });
});
