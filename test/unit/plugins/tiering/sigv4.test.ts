// The SigV4 signer of the tier download's own GETs: AWS's published S3 example, and the signature
// the installed S3 client computes for the same request (caught on a loopback socket).
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { amzDate, EMPTY_BODY_SHA256, encodeKeyPath, signedHeaders } from '../../../../plugins/tiering/s3/sigv4.js';

test('AWS\'s published example: GET /test.txt with a Range header', () => {
  // docs.aws.amazon.com AmazonS3 sig-v4-header-based-auth, "Example: GET Object"
  const h = signedHeaders(
    'GET',
    'examplebucket.s3.amazonaws.com',
    '/test.txt',
    { Range: 'bytes=0-9' },
    { accessKey: 'AKIAIOSFODNN7EXAMPLE', secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    'us-east-1',
    's3',
    new Date('2013-05-24T00:00:00Z'),
  );
  assert.equal(h['x-amz-date'], '20130524T000000Z');
  assert.equal(h['x-amz-content-sha256'], EMPTY_BODY_SHA256);
  assert.equal(
    h.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  );
});

test('the same signature as the installed S3 client for a ranged GetObject (query, odd key, other region)', async () => {
  let seen: { url: string; headers: IncomingHttpHeaders } | undefined;
  const server = createServer((req, res) => {
    seen = { url: req.url ?? '', headers: req.headers };
    res.writeHead(206, { 'content-range': 'bytes 0-1/2', 'content-length': '2' });
    res.end('ab');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new S3Client({ region: 'eu-west-1', endpoint: `http://${host}`, forcePathStyle: true, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret/key+1' } });
  try {
    const key = 'dir one/a+b=(c)*!';
    const out = await client.send(new GetObjectCommand({ Bucket: 'bkt', Key: key, Range: 'bytes=0-1' }));
    await out.Body?.transformToString();
    assert.ok(seen);
    const sdkAuth = String(seen.headers.authorization);
    assert.equal(seen.url.split('?')[0], `/bkt/${encodeKeyPath(key)}`, 'the key is encoded as the client encodes it');
    const names = /SignedHeaders=([^,]+)/.exec(sdkAuth)![1].split(';');
    const given: Record<string, string> = {};
    for (const n of names) if (!['host', 'x-amz-date', 'x-amz-content-sha256'].includes(n)) given[n] = String(seen.headers[n]);
    assert.equal(seen.headers['x-amz-content-sha256'], EMPTY_BODY_SHA256);
    const date = String(seen.headers['x-amz-date']);
    const at = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
    assert.equal(amzDate(at), date);
    const ours = signedHeaders('GET', host, seen.url, given, { accessKey: 'AKID', secretKey: 'secret/key+1' }, 'eu-west-1', 's3', at);
    assert.equal(ours.authorization, sdkAuth);
    const wrong = signedHeaders('GET', host, seen.url, given, { accessKey: 'AKID', secretKey: 'secret/key+2' }, 'eu-west-1', 's3', at);
    assert.notEqual(wrong.authorization, sdkAuth, 'another secret signs differently');
  } finally {
    client.destroy();
    server.close();
  }
});
