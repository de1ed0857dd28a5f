// TLS end to end: a CA and certificates made with openssl, a real Go master and our server reading
// the same security.toml ([grpc] ca, [grpc.volume]/[grpc.master]/[grpc.client], [https.volume] with
// a client CA, [https.client]); `weed shell volume.list` through the master, uploads and reads over
// HTTPS, a proxied read between two of our servers over HTTPS, refusals of clients without a valid
// certificate (HTTPS and gRPC) and of plaintext clients, and certificate reload on SIGHUP.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, unary } from '../../../core/grpc/client-pool.js';
import { volumeServerClientConstructor } from '../../../core/grpc/proto-loader.js';
import {
  cleanup,
  freePort,
  startVolumeServer,
  tempDir,
  waitFor,
  weedBinary,
  type RunningProcess,
  type VolumeServer,
} from '../../helpers/processes.js';

// ------------------------------------------------------------------ certificates

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA `<name>.crt`/`<name>.key` in `dir`. */
function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

/** `<name>.crt`/`<name>.key` with CN `cn`, signed by CA `ca`, valid for 127.0.0.1 and localhost. */
function makeCert(dir: string, ca: string, name: string, cn: string): void {
  writeFileSync(
    join(dir, `${name}.ext`),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
  );
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`,
  ]);
}

function securityToml(dir: string): string {
  const f = (n: string) => JSON.stringify(join(dir, n));
  return [
    '[grpc]',
    `ca = ${f('ca.crt')}`,
    '[grpc.volume]',
    `cert = ${f('volume.crt')}`,
    `key = ${f('volume.key')}`,
    'allowed_commonNames = "master,volume,client"',
    '[grpc.master]',
    `cert = ${f('master.crt')}`,
    `key = ${f('master.key')}`,
    '[grpc.client]',
    `cert = ${f('client.crt')}`,
    `key = ${f('client.key')}`,
    '[https.volume]',
    `cert = ${f('volume.crt')}`,
    `key = ${f('volume.key')}`,
    `ca = ${f('ca.crt')}`,
    '[https.client]',
    'enabled = true',
    `cert = ${f('client.crt')}`,
    `key = ${f('client.key')}`,
    `ca = ${f('ca.crt')}`,
    '',
  ].join('\n');
}

// ------------------------------------------------------------------ clients

interface HttpsAnswer {
  status: number;
  body: Buffer;
}

/** One HTTPS request to 127.0.0.1:port, presenting `identity` (cert/key file base names) or none. */
function httpsRequest(
  dir: string,
  port: number,
  path: string,
  opts: { method?: string; identity?: string; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        ca: readFileSync(join(dir, 'ca.crt')),
        ...(opts.identity
          ? { cert: readFileSync(join(dir, `${opts.identity}.crt`)), key: readFileSync(join(dir, `${opts.identity}.key`)) }
          : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(opts.body);
  });
}

function multipart(name: string, data: Buffer): { body: Buffer; contentType: string } {
  const boundary = 'tlsTestBoundary';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A VolumeServer gRPC client with mutual TLS as `identity` (signed by `ca`), or plaintext. */
function grpcClient(dir: string, port: number, identity?: { ca: string; name: string }): grpc.Client {
  const Ctor = volumeServerClientConstructor();
  const creds = identity
    ? grpc.credentials.createSsl(
        readFileSync(join(dir, `${identity.ca}.crt`)),
        readFileSync(join(dir, `${identity.name}.key`)),
        readFileSync(join(dir, `${identity.name}.crt`)),
      )
    : grpc.credentials.createInsecure();
  return new Ctor(`127.0.0.1:${port}`, creds, CHANNEL_OPTIONS);
}

async function grpcStatusCode(client: grpc.Client): Promise<number> {
  try {
    await unary(client, 'VolumeServerStatus', {}, 5000);
    return grpc.status.OK;
  } catch (e) {
    return (e as grpc.ServiceError).code;
  } finally {
    client.close();
  }
}

/** The certificate a TLS server presents to a client showing `identity`. */
function presentedCert(dir: string, port: number, identity: string, alpn?: string[]): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      {
        host: '127.0.0.1',
        port,
        ca: readFileSync(join(dir, 'ca.crt')),
        cert: readFileSync(join(dir, `${identity}.crt`)),
        key: readFileSync(join(dir, `${identity}.key`)),
        ALPNProtocols: alpn,
        rejectUnauthorized: false,
      },
      () => {
        const cert = socket.getPeerCertificate();
        socket.end();
        resolve(cert);
      },
    );
    socket.on('error', reject);
  });
}

// ------------------------------------------------------------------ processes

interface TlsMaster extends RunningProcess {
  port: number;
  grpcPort: number;
  address: string;
}

async function startTlsMaster(dir: string): Promise<TlsMaster> {
  const port = await freePort();
  const grpcPort = port + 10000;
  const mdir = tempDir('ts-weed-tls-master-');
  const logFile = join(mdir, 'master.log');
  const fd = openSync(logFile, 'a');
  const proc = spawn(
    weedBinary(5),
    [`-config_dir=${dir}`, 'master', '-ip=127.0.0.1', `-port=${port}`, `-port.grpc=${grpcPort}`, `-mdir=${mdir}`, '-peers=none', '-volumeSizeLimitMB=100', '-defaultReplication=000'],
    { stdio: ['ignore', fd, fd], cwd: dir },
  );
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const m: TlsMaster = {
    proc,
    logFile,
    exited,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGINT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      cleanup(mdir);
      return code;
    },
    log: () => readFileSync(logFile, 'utf8'),
    port,
    grpcPort,
    address: `127.0.0.1:${port}`,
  };
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/cluster/healthz`)).status < 500, 30_000, 'Go master with TLS');
  return m;
}

async function startTlsVolume(dir: string, master: TlsMaster, extraArgs: string[] = []): Promise<VolumeServer> {
  const vs = await startVolumeServer({ master: master.address, extraArgs: ['--config_dir', dir, ...extraArgs], waitReady: false });
  await waitFor(async () => (await httpsRequest(dir, vs.port, '/status', { identity: 'client' })).status === 200, 20_000, `our server on ${vs.port} over HTTPS`);
  return vs;
}

/** `weed shell` against the master with the shared security.toml; returns its output. */
function weedShell(dir: string, master: TlsMaster, commands: string): string {
  const r = spawnSync(weedBinary(5), [`-config_dir=${dir}`, 'shell', `-master=${master.address}`], {
    input: `${commands}\nexit\n`,
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return `${r.stdout}\n${r.stderr}`;
}

// ------------------------------------------------------------------ tests

describe('TLS with a Go master', () => {
  let dir: string;
  let master: TlsMaster;
  let vs: VolumeServer;

  before(async () => {
    dir = tempDir('ts-weed-tls-');
    makeCa(dir, 'ca');
    makeCa(dir, 'rogue-ca');
    makeCert(dir, 'ca', 'volume', 'volume');
    makeCert(dir, 'ca', 'master', 'master');
    makeCert(dir, 'ca', 'client', 'client');
    makeCert(dir, 'ca', 'intruder', 'intruder');
    makeCert(dir, 'rogue-ca', 'rogue', 'client');
    writeFileSync(join(dir, 'security.toml'), securityToml(dir));
    master = await startTlsMaster(dir);
    vs = await startTlsVolume(dir, master);
  });

  after(async () => {
    await vs?.stop();
    await master?.stop();
    if (vs) cleanup(vs.dir);
    cleanup(dir);
  });

  test('registers at the master over mTLS gRPC, and weed shell volume.list shows its volumes', async () => {
    // The assign makes the master call AllocateVolume on our gRPC server with its grpc.master cert.
    await waitFor(
      async () => {
        const r = await fetch(`http://${master.address}/dir/assign`);
        return r.ok && typeof ((await r.json()) as { fid?: string }).fid === 'string';
      },
      30_000,
      'an assign from the master',
    );
    const out = weedShell(dir, master, 'volume.list');
    assert.match(out, new RegExp(`127\\.0\\.0\\.1:${vs.port}`), out);
    assert.match(out, /volume Id:\d+/, out);
  });

  test('uploads and reads back over HTTPS with a client certificate', async () => {
    const assign = (await (await fetch(`http://${master.address}/dir/assign`)).json()) as { fid: string; url: string };
    assert.equal(assign.url, `127.0.0.1:${vs.port}`);
    const data = Buffer.from('hello over https\n'.repeat(100));
    const { body, contentType } = multipart('hello.txt', data);
    const up = await httpsRequest(dir, vs.port, `/${assign.fid}`, { method: 'POST', identity: 'client', body, headers: { 'Content-Type': contentType } });
    assert.equal(up.status, 201, up.body.toString());
    assert.equal((JSON.parse(up.body.toString()) as { size: number }).size, data.length);
    const read = await httpsRequest(dir, vs.port, `/${assign.fid}`, { identity: 'client' });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, data);
  });

  test('between two servers, proxied reads and replicated writes go over HTTPS with the [https.client] certificate', async () => {
    const assign = (await (await fetch(`http://${master.address}/dir/assign`)).json()) as { fid: string; url: string };
    const data = Buffer.from('proxied over https');
    const { body, contentType } = multipart('p.txt', data);
    const up = await httpsRequest(dir, vs.port, `/${assign.fid}`, { method: 'POST', identity: 'client', body, headers: { 'Content-Type': contentType } });
    assert.equal(up.status, 201, up.body.toString());
    const other = await startTlsVolume(dir, master, ['--readMode', 'proxy']);
    try {
      let read: HttpsAnswer = { status: 0, body: Buffer.alloc(0) };
      // The second server needs its heartbeat answered before it can look volumes up.
      await waitFor(
        async () => {
          read = await httpsRequest(dir, other.port, `/${assign.fid}`, { identity: 'client' });
          return read.status === 200;
        },
        20_000,
        'a proxied read',
      );
      assert.deepEqual(read.body, data);

      // A replicated write: the receiving server forwards it to the other over HTTPS.
      let placed = { fid: '', url: '' };
      await waitFor(
        async () => {
          const r = await fetch(`http://${master.address}/dir/assign?replication=001`);
          placed = (await r.json()) as { fid: string; url: string };
          return r.ok && typeof placed.fid === 'string';
        },
        20_000,
        'an assign with one replica',
      );
      const replicaPort = placed.url === `127.0.0.1:${vs.port}` ? other.port : vs.port;
      const primaryPort = replicaPort === vs.port ? other.port : vs.port;
      const copy = Buffer.from('replicated over https');
      const form = multipart('r.txt', copy);
      const w = await httpsRequest(dir, primaryPort, `/${placed.fid}`, {
        method: 'POST',
        identity: 'client',
        body: form.body,
        headers: { 'Content-Type': form.contentType },
      });
      assert.equal(w.status, 201, w.body.toString());
      const fromReplica = await httpsRequest(dir, replicaPort, `/${placed.fid}`, { identity: 'client' });
      assert.equal(fromReplica.status, 200);
      assert.deepEqual(fromReplica.body, copy);
    } finally {
      await other.stop();
      cleanup(other.dir);
    }
  });

  test('HTTPS refuses clients without a certificate, with one from another CA, and plaintext HTTP', async () => {
    await assert.rejects(httpsRequest(dir, vs.port, '/status'));
    await assert.rejects(httpsRequest(dir, vs.port, '/status', { identity: 'rogue' }));
    await assert.rejects(fetch(`http://127.0.0.1:${vs.port}/status`));
    // The refusals are per connection: a good client still gets in.
    assert.equal((await httpsRequest(dir, vs.port, '/status', { identity: 'client' })).status, 200);
  });

  test('gRPC accepts allowed client certificates and refuses the rest', async () => {
    assert.equal(await grpcStatusCode(grpcClient(dir, vs.grpcPort, { ca: 'ca', name: 'client' })), grpc.status.OK);
    assert.equal(await grpcStatusCode(grpcClient(dir, vs.grpcPort)), grpc.status.UNAVAILABLE, 'plaintext client');
    assert.equal(await grpcStatusCode(grpcClient(dir, vs.grpcPort, { ca: 'ca', name: 'rogue' })), grpc.status.UNAVAILABLE, 'certificate of another CA');
    assert.equal(await grpcStatusCode(grpcClient(dir, vs.grpcPort, { ca: 'ca', name: 'intruder' })), grpc.status.UNAUTHENTICATED, 'CN not allowed');
  });

  test('SIGHUP reloads the certificates: new connections get the new ones', async () => {
    const before = await presentedCert(dir, vs.port, 'client');
    const beforeGrpc = await presentedCert(dir, vs.grpcPort, 'client', ['h2']);
    assert.equal(before.subject.CN, 'volume');
    // Re-issue the volume certificate in place (new serial and CN), as a rotation would.
    makeCert(dir, 'ca', 'volume', 'volume-rotated');
    vs.proc.kill('SIGHUP');
    await waitFor(async () => (await presentedCert(dir, vs.port, 'client')).subject.CN === 'volume-rotated', 10_000, 'the rotated HTTPS certificate');
    const afterGrpc = await presentedCert(dir, vs.grpcPort, 'client', ['h2']);
    assert.equal(afterGrpc.subject.CN, 'volume-rotated');
    assert.notEqual(afterGrpc.serialNumber, beforeGrpc.serialNumber);
    // Still serving, and still registered: the master's calls keep working with the new cert.
    assert.equal((await httpsRequest(dir, vs.port, '/status', { identity: 'client' })).status, 200);
    assert.equal(await grpcStatusCode(grpcClient(dir, vs.grpcPort, { ca: 'ca', name: 'master' })), grpc.status.OK);
  });

  test('a broken key file on SIGHUP keeps the previous certificates', async () => {
    const good = readFileSync(join(dir, 'volume.key'));
    const serial = (await presentedCert(dir, vs.port, 'client')).serialNumber;
    writeFileSync(join(dir, 'volume.key'), 'not a key\n');
    try {
      vs.proc.kill('SIGHUP');
      await waitFor(async () => vs.log().includes('TLS reload failed'), 10_000, 'the failed reload to be logged');
      assert.equal((await presentedCert(dir, vs.port, 'client')).serialNumber, serial);
      assert.equal((await httpsRequest(dir, vs.port, '/status', { identity: 'client' })).status, 200);
      assert.equal(await grpcStatusCode(grpcClient(dir, vs.grpcPort, { ca: 'ca', name: 'client' })), grpc.status.OK);
    } finally {
      writeFileSync(join(dir, 'volume.key'), good);
    }
  });

  test('rotated files are picked up without a signal every WEED_TLS_CERT_REFRESH_INTERVAL', async () => {
    const other = await startVolumeServer({
      master: master.address,
      extraArgs: ['--config_dir', dir],
      env: { WEED_TLS_CERT_REFRESH_INTERVAL: '200ms' },
      waitReady: false,
    });
    try {
      await waitFor(async () => (await httpsRequest(dir, other.port, '/status', { identity: 'client' })).status === 200, 20_000, 'the second server');
      const before = (await presentedCert(dir, other.port, 'client')).subject.CN;
      makeCert(dir, 'ca', 'volume', 'volume-rotated-again');
      assert.notEqual(before, 'volume-rotated-again');
      await waitFor(
        async () => (await presentedCert(dir, other.grpcPort, 'client', ['h2'])).subject.CN === 'volume-rotated-again',
        10_000,
        'the gRPC listener to present the rotated certificate',
      );
      assert.equal((await presentedCert(dir, other.port, 'client')).subject.CN, 'volume-rotated-again');
    } finally {
      await other.stop();
      cleanup(other.dir);
    }
  });
});

describe('TLS configuration errors', () => {
  test('a half-configured [grpc.volume] section refuses to start with a clear message', async () => {
    const dir = tempDir('ts-weed-tls-bad-');
    try {
      makeCa(dir, 'ca');
      makeCert(dir, 'ca', 'volume', 'volume');
      writeFileSync(join(dir, 'security.toml'), `[grpc.volume]\ncert = ${JSON.stringify(join(dir, 'volume.crt'))}\nkey = ${JSON.stringify(join(dir, 'volume.key'))}\n`);
      const vs = await startVolumeServer({ extraArgs: ['--config_dir', dir], waitReady: false });
      try {
        const code = await vs.exited;
        assert.notEqual(code, 0);
        assert.match(vs.log(), /grpc\.ca is not/);
      } finally {
        await vs.stop('SIGKILL');
        cleanup(vs.dir);
      }
    } finally {
      cleanup(dir);
    }
  });
});
