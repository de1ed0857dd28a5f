import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ConfigError, loadConfig } from '../../../config/index.js';
import { findSecurityFile, loadSecurityConfig, securitySearchPath } from '../../../config/security.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ts-weed-security-'));
}

function write(dir: string, text: string, name = 'security.toml'): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Options that keep the search away from the machine's own directories. */
function isolated(extra: { configDir?: string; securityFile?: string; env?: NodeJS.ProcessEnv } = {}) {
  const home = tmpDir();
  const cwd = tmpDir();
  return { cwd, systemDirs: [] as string[], ...extra, env: { HOME: home, ...extra.env } };
}

// Exactly what the upstream test harness writes.
const HARNESS_SECURITY = `[jwt.signing]
key = "volume-server-write-key"
expires_after_seconds = 60

[jwt.signing.read]
key = "volume-server-read-key"
expires_after_seconds = 60

[access]
ui = true
`;

test('the upstream harness security.toml via --securityFile', () => {
  const file = write(tmpDir(), HARNESS_SECURITY);
  const c = loadConfig(['--port', '8080', '--securityFile', file], { HOME: tmpDir() });
  assert.equal(c.security.source, file);
  assert.deepEqual(c.security.jwtSigning, { key: 'volume-server-write-key', expiresAfterSeconds: 60 });
  assert.deepEqual(c.security.jwtSigningRead, { key: 'volume-server-read-key', expiresAfterSeconds: 60 });
  assert.equal(c.security.accessUi, true);
  assert.deepEqual(c.security.guardWhiteList, []);
  assert.deepEqual(c.security.httpsVolume, { cert: '', key: '', ca: '' });
  assert.equal(c.security.grpcCa, '');
});

test('missing lifetimes default to Go values: 10 s for writes, 60 s for reads', () => {
  const file = write(tmpDir(), '[jwt.signing]\nkey = "w"\n\n[jwt.signing.read]\nkey = "r"\n');
  const s = loadSecurityConfig(isolated({ securityFile: file }));
  assert.deepEqual(s.jwtSigning, { key: 'w', expiresAfterSeconds: 10 });
  assert.deepEqual(s.jwtSigningRead, { key: 'r', expiresAfterSeconds: 60 });
  assert.equal(s.accessUi, false);
});

test('a comment-only file gives all defaults', () => {
  const file = write(tmpDir(), '# security.toml\n# [jwt.signing]\n# key = "x"\n\n');
  const s = loadSecurityConfig(isolated({ securityFile: file }));
  assert.equal(s.source, file);
  assert.deepEqual(s.jwtSigning, { key: '', expiresAfterSeconds: 10 });
  assert.deepEqual(s.jwtSigningRead, { key: '', expiresAfterSeconds: 60 });
  assert.equal(s.accessUi, false);
  assert.deepEqual(s.guardWhiteList, []);
  assert.deepEqual(s.grpcVolume, { cert: '', key: '', ca: '', clientCert: '', clientKey: '' });
});

test('a malformed file is a one-line ConfigError naming the file and the line', () => {
  const file = write(tmpDir(), '[jwt.signing]\nkey = "unterminated\n');
  let err: unknown;
  try {
    loadConfig(['--securityFile', file], { HOME: tmpDir() });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  assert.equal(err.exitCode, 2);
  assert.ok(err.message.includes(file), err.message);
  assert.match(err.message, /line 2\b/);
  assert.ok(!err.message.includes('\n'));
});

test('a value of the wrong type is a ConfigError naming the key', () => {
  const file = write(tmpDir(), '[jwt.signing]\nexpires_after_seconds = "soon"\n');
  assert.throws(
    () => loadSecurityConfig(isolated({ securityFile: file })),
    (e: unknown) => e instanceof ConfigError && /jwt\.signing\.expires_after_seconds/.test(e.message),
  );
});

test('an explicit --securityFile that does not exist is an error', () => {
  assert.throws(
    () => loadConfig(['--securityFile', '/nonexistent/security.toml'], { HOME: tmpDir() }),
    (e: unknown) => e instanceof ConfigError && e.message.includes('/nonexistent/security.toml'),
  );
});

test('-config_dir discovery', () => {
  const configDir = tmpDir();
  const file = write(configDir, HARNESS_SECURITY);
  const c = loadConfig([`-config_dir=${configDir}`, 'volume', '-port=9000'], { HOME: tmpDir() });
  assert.equal(c.security.source, file);
  assert.equal(c.security.jwtSigning.key, 'volume-server-write-key');
  assert.equal(c.security.accessUi, true);

  // --securityFile wins over -config_dir.
  const other = write(tmpDir(), '[jwt.signing]\nkey = "other"\n');
  const d = loadConfig([`-config_dir=${configDir}`, 'volume', `-securityFile=${other}`], { HOME: tmpDir() });
  assert.equal(d.security.source, other);
  assert.equal(d.security.jwtSigning.key, 'other');
});

test('search order: -config_dir, ., $HOME/.seaweedfs, system directories; none found = defaults', () => {
  const configDir = tmpDir();
  const cwd = tmpDir();
  const home = tmpDir();
  const system = tmpDir();
  const opts = { configDir, cwd, env: { HOME: home }, systemDirs: ['/nonexistent-dir', system] };
  assert.deepEqual(securitySearchPath(opts), [configDir, cwd, path.join(home, '.seaweedfs'), '/nonexistent-dir', system]);

  assert.equal(findSecurityFile(opts), '');
  const none = loadSecurityConfig(opts);
  assert.equal(none.source, '');
  assert.equal(none.jwtSigning.key, '');

  const inSystem = write(system, '[jwt.signing]\nkey = "system"\n');
  assert.equal(findSecurityFile(opts), inSystem);
  const inHome = write(path.join(home, '.seaweedfs'), '[jwt.signing]\nkey = "home"\n');
  assert.equal(findSecurityFile(opts), inHome);
  const inCwd = write(cwd, '[jwt.signing]\nkey = "cwd"\n');
  assert.equal(findSecurityFile(opts), inCwd);
  const inConfigDir = write(configDir, '[jwt.signing]\nkey = "config_dir"\n');
  assert.equal(findSecurityFile(opts), inConfigDir);
  assert.equal(loadSecurityConfig(opts).jwtSigning.key, 'config_dir');
});

test('WEED_JWT_SIGNING_KEY and WEED_JWT_SIGNING_READ_KEY override the file', () => {
  const file = write(tmpDir(), HARNESS_SECURITY);
  const env = { WEED_JWT_SIGNING_KEY: 'env-write', WEED_JWT_SIGNING_READ_KEY: 'env-read' };
  const s = loadSecurityConfig(isolated({ securityFile: file, env }));
  assert.equal(s.jwtSigning.key, 'env-write');
  assert.equal(s.jwtSigningRead.key, 'env-read');
  assert.equal(s.jwtSigning.expiresAfterSeconds, 60); // still from the file

  // Without any file the variables still apply.
  const bare = loadSecurityConfig(isolated({ env: { ...env, WEED_JWT_SIGNING_EXPIRES_AFTER_SECONDS: '5', WEED_ACCESS_UI: 'true' } }));
  assert.equal(bare.source, '');
  assert.equal(bare.jwtSigning.key, 'env-write');
  assert.equal(bare.jwtSigning.expiresAfterSeconds, 5);
  assert.equal(bare.accessUi, true);

  // An empty variable does not override.
  const empty = loadSecurityConfig(isolated({ securityFile: file, env: { WEED_JWT_SIGNING_KEY: '' } }));
  assert.equal(empty.jwtSigning.key, 'volume-server-write-key');
});

test('guard, https.volume, grpc.volume and grpc sections', () => {
  const file = write(
    tmpDir(),
    `[guard]
white_list = "10.0.0.1, 10.1.0.0/16,"

[https.volume]
cert = "/c/https.crt"
key = "/c/https.key"
ca = "/c/https-ca.crt"

[grpc]
ca = "/c/ca.crt"

[grpc.volume]
cert = "/c/volume.crt"
key = "/c/volume.key"
client_cert = "/c/client.crt"
client_key = "/c/client.key"
`,
  );
  const s = loadSecurityConfig(isolated({ securityFile: file }));
  assert.deepEqual(s.guardWhiteList, ['10.0.0.1', '10.1.0.0/16']);
  assert.deepEqual(s.httpsVolume, { cert: '/c/https.crt', key: '/c/https.key', ca: '/c/https-ca.crt' });
  assert.equal(s.grpcCa, '/c/ca.crt');
  assert.deepEqual(s.grpcVolume, {
    cert: '/c/volume.crt',
    key: '/c/volume.key',
    ca: '',
    clientCert: '/c/client.crt',
    clientKey: '/c/client.key',
  });

  const arrayFile = write(tmpDir(), '[guard]\nwhite_list = ["10.0.0.2", " 10.0.0.3 "]\n');
  assert.deepEqual(loadSecurityConfig(isolated({ securityFile: arrayFile })).guardWhiteList, ['10.0.0.2', '10.0.0.3']);
});

test('keys are case-insensitive as in viper', () => {
  const file = write(tmpDir(), '[JWT.Signing]\nKey = "upper"\nExpires_After_Seconds = 7\n[Access]\nUI = true\n');
  const s = loadSecurityConfig(isolated({ securityFile: file }));
  assert.deepEqual(s.jwtSigning, { key: 'upper', expiresAfterSeconds: 7 });
  assert.equal(s.accessUi, true);
});
