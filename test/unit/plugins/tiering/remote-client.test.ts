// Building FetchAndWriteNeedle's remote client: Go's error texts for unknown types, and the
// endpoint guard applied to every S3-compatible type unless untrusted endpoints are allowed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRemoteClient, s3CompatibleOptions } from '../../../../plugins/tiering/remote/remote-client.js';

test('an unknown remote type answers Go\'s "get remote client" text', async () => {
  await assert.rejects(
    buildRemoteClient({ name: 'r1', type: 'does-not-exist' }, false),
    /^Error: get remote client: make remote storage client r1: remote storage type does-not-exist not found$/,
  );
  await assert.rejects(buildRemoteClient(undefined, true), /get remote client: .*remote storage type {2}not found/);
});

test('a caller-supplied endpoint on loopback or metadata is refused unless allowed', async () => {
  await assert.rejects(
    buildRemoteClient({ name: 'r', type: 's3', s3_endpoint: 'http://127.0.0.1:9000' }, false),
    /^Error: reject remote endpoint: remote endpoint "http:\/\/127\.0\.0\.1:9000" resolves to loopback address 127\.0\.0\.1$/,
  );
  await assert.rejects(
    buildRemoteClient({ name: 'r', type: 'wasabi', wasabi_endpoint: 'http://169.254.169.254' }, false),
    /reject remote endpoint: .*instance metadata service/,
  );
  // the operator's opt-out builds the client
  const c = await buildRemoteClient({ name: 'r', type: 's3', s3_endpoint: 'http://127.0.0.1:9000' }, true);
  assert.equal(typeof c.readFile, 'function');
});

test('S3-compatible types take their settings from their own fields, as Go', () => {
  assert.deepEqual(s3CompatibleOptions({ type: 'b2', backblaze_endpoint: 'https://e', backblaze_region: 'r', backblaze_key_id: 'k', backblaze_application_key: 's' }), {
    name: 'backblaze',
    endpoint: 'https://e',
    region: 'r',
    accessKey: 'k',
    secretKey: 's',
    forcePathStyle: true,
  });
  assert.equal(s3CompatibleOptions({ type: 'storj' })?.region, 'us-west-2');
  assert.equal(s3CompatibleOptions({ type: 'gcs' }), undefined);
});
