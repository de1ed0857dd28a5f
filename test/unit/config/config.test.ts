import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ConfigError, HelpRequested, loadConfig, usage } from '../../../config/index.js';
import type { ServerConfig } from '../../../config/types.js';
import { PLUGIN_FAMILIES } from '../../../config/types.js';
import {
  detectHostAddress,
  joinHostPort,
  parseBytes,
  parseGoBool,
  parseGoDuration,
  parseGoInt,
  parseMinFreeSpace,
  parseTagGroups,
} from '../../../config/values.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ts-weed-config-'));
}

/** An environment that isolates the security.toml search from the machine's home directory. */
function isolatedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { HOME: tmpDir(), ...extra };
}

function load(argv: string[], env: NodeJS.ProcessEnv = {}): ServerConfig {
  return loadConfig(argv, isolatedEnv(env));
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('defaults equal the Go volume server defaults', () => {
  const c = load([]);
  const ip = detectHostAddress();
  assert.equal(c.port, 8080);
  assert.equal(c.grpcPort, 18080);
  assert.equal(c.publicPort, 8080);
  assert.equal(c.ip, ip);
  assert.equal(c.bindIp, ip);
  assert.equal(c.id, joinHostPort(ip, 8080));
  assert.equal(c.publicUrl, joinHostPort(ip, 8080));
  assert.deepEqual(c.masters, ['localhost:9333']);
  assert.equal(c.dataCenter, '');
  assert.equal(c.rack, '');
  assert.deepEqual(c.dirs, [os.tmpdir()]);
  assert.deepEqual(c.maxCounts, [8]);
  assert.deepEqual(c.diskTypes, ['']);
  assert.deepEqual(c.minFreeSpace, [{ kind: 'percent', value: 1 }]);
  assert.equal(c.idxDir, '');
  assert.deepEqual(c.tags, [[]]);
  assert.equal(c.index, 'memory');
  assert.equal(c.readMode, 'proxy');
  assert.equal(c.fileSizeLimitMB, 256);
  assert.equal(c.concurrentUploadLimitMB, 0);
  assert.equal(c.concurrentDownloadLimitMB, 0);
  assert.equal(c.inflightUploadDataTimeoutMs, 60_000);
  assert.equal(c.inflightDownloadDataTimeoutMs, 60_000);
  assert.equal(c.preStopSeconds, 10);
  assert.equal(c.idleTimeoutSeconds, 30);
  assert.equal(c.compactionMBps, 0);
  assert.equal(c.maintenanceMBps, 0);
  assert.deepEqual(c.whiteList, []);
  assert.equal(c.metricsPort, 0);
  assert.equal(c.metricsIp, ip);
  assert.equal(c.hasSlowRead, true);
  assert.equal(c.readBufferSizeMB, 4);
  assert.equal(c.allowUntrustedRemoteEndpoints, false);
  assert.equal(c.imagesFixOrientation, false);
  assert.equal(c.offsetBytes, 4);
  assert.equal(c.configDir, '');
  assert.equal(c.securityFile, '');
  assert.equal(c.logLevel, 'info');
  for (const family of PLUGIN_FAMILIES) assert.deepEqual(c.plugins[family], { enabled: true });
  assert.equal(c.security.jwtSigning.key, '');
  assert.equal(c.security.jwtSigning.expiresAfterSeconds, 10);
  assert.equal(c.security.jwtSigningRead.expiresAfterSeconds, 60);
});

const HARNESS_SECURITY = `[jwt.signing]
key = "volume-server-write-key"
expires_after_seconds = 60

[jwt.signing.read]
key = "volume-server-read-key"
expires_after_seconds = 60

[access]
ui = true
`;

test('Go style and upstream harness style give the same configuration', () => {
  const base = tmpDir();
  const configDir = path.join(base, 'config');
  const dataDir = path.join(base, 'volume');
  fs.mkdirSync(configDir);
  fs.mkdirSync(dataDir);
  fs.writeFileSync(path.join(configDir, 'security.toml'), HARNESS_SECURITY);

  // The shape of the argv the upstream Rust-volume harness builds.
  const harness = load([
    '--port', '18480',
    '--port.grpc', '28480',
    '--port.public', '18481',
    '--ip', '127.0.0.1',
    '--ip.bind', '127.0.0.1',
    '--dir', dataDir,
    '--max', '16',
    '--master', '127.0.0.1:9333',
    '--volume.allowUntrustedRemoteEndpoints',
    '--securityFile', path.join(configDir, 'security.toml'),
    '--readMode', 'proxy',
    '--concurrentUploadLimitMB', '0',
    '--concurrentDownloadLimitMB', '0',
    '--preStopSeconds', '0',
    '--inflightUploadDataTimeout', '2s',
    '--inflightDownloadDataTimeout', '1m30s',
  ]);
  // The shape of the argv the upstream Go harness builds.
  const goStyle = load([
    `-config_dir=${configDir}`,
    'volume',
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    '-preStopSeconds=0',
    '-port=18480',
    '-port.grpc=28480',
    '-port.public=18481',
    `-dir=${dataDir}`,
    '-max=16',
    '-master=127.0.0.1:9333',
    '-readMode=proxy',
    '-concurrentUploadLimitMB=0',
    '-concurrentDownloadLimitMB=0',
    '-volume.allowUntrustedRemoteEndpoints',
    '-inflightUploadDataTimeout=2s',
    '-inflightDownloadDataTimeout=1m30s',
  ]);

  assert.equal(harness.securityFile, path.join(configDir, 'security.toml'));
  assert.equal(goStyle.configDir, configDir);
  const strip = (c: ServerConfig) => ({ ...c, configDir: undefined, securityFile: undefined });
  assert.deepEqual(strip(harness), strip(goStyle));

  assert.equal(harness.port, 18480);
  assert.equal(harness.grpcPort, 28480);
  assert.equal(harness.publicPort, 18481);
  assert.equal(harness.id, '127.0.0.1:18480');
  assert.equal(harness.publicUrl, '127.0.0.1:18481');
  assert.deepEqual(harness.dirs, [dataDir]);
  assert.deepEqual(harness.maxCounts, [16]);
  assert.deepEqual(harness.masters, ['127.0.0.1:9333']);
  assert.equal(harness.allowUntrustedRemoteEndpoints, true);
  assert.equal(harness.preStopSeconds, 0);
  assert.equal(harness.inflightUploadDataTimeoutMs, 2000);
  assert.equal(harness.inflightDownloadDataTimeoutMs, 90_000);
  assert.equal(harness.security.source, path.join(configDir, 'security.toml'));
  assert.equal(harness.security.jwtSigning.key, 'volume-server-write-key');
  assert.equal(harness.security.jwtSigningRead.key, 'volume-server-read-key');
  assert.equal(harness.security.accessUi, true);
});

test('global flags and the volume word before the volume flags', () => {
  const c = load(['-config_dir=/c', 'volume', '-port=9000']);
  assert.equal(c.configDir, '/c');
  assert.equal(c.port, 9000);
  assert.equal(c.grpcPort, 19000);

  const d = load(['-v=2', '-logtostderr', '-alsologtostderr=false', '-log_max_files', '3', 'volume', '--port=9001']);
  assert.equal(d.logLevel, 'debug');
  assert.equal(d.port, 9001);

  // Without the volume word the flags are read the same way.
  assert.equal(load(['-port', '9002']).port, 9002);
});

test('parsing stops at -- and at the first non-flag word', () => {
  const a = load(['-port=9000', '--', '-port=9001']);
  assert.equal(a.port, 9000);
  const b = load(['-port=9000', 'extra', '-port=9001']);
  assert.equal(b.port, 9000);
  // `volume` counts as the sub-command word only before the volume flags.
  const c = load(['-port=9000', 'volume', '-port=9001']);
  assert.equal(c.port, 9000);
});

test('a bare boolean does not take the next word', () => {
  const a = load(['--volume.allowUntrustedRemoteEndpoints', '--readMode', 'local']);
  assert.equal(a.allowUntrustedRemoteEndpoints, true);
  assert.equal(a.readMode, 'local');

  const b = load(['-images.fix.orientation', '-port=9100']);
  assert.equal(b.imagesFixOrientation, true);
  assert.equal(b.port, 9100);

  // `-hasSlowRead false` is the boolean set to true followed by a positional word that ends parsing.
  const c = load(['-hasSlowRead', 'false', '-port=9200']);
  assert.equal(c.hasSlowRead, true);
  assert.equal(c.port, 8080);
});

test('boolean literals accepted as Go strconv.ParseBool', () => {
  for (const t of ['true', '1', 't', 'T', 'TRUE', 'True']) {
    assert.equal(load([`-pprof=${t}`, `-hasSlowRead=${t}`]).hasSlowRead, true, t);
  }
  for (const f of ['false', '0', 'f', 'F', 'FALSE', 'False']) {
    assert.equal(load([`--hasSlowRead=${f}`]).hasSlowRead, false, f);
  }
  const err = configError(() => load(['-hasSlowRead=yes']));
  assert.match(err.message, /"yes".*-hasSlowRead/);
});

test('environment fallback uses unprefixed upper-case flag names', () => {
  const c = load([], {
    PORT: '9300',
    PORT_GRPC: '29300',
    PORT_PUBLIC: '9301',
    DIR: '/d1,/d2',
    MAX: '3,4',
    MASTER: 'm1:9333, m2:9333',
    DIR_IDX: '/idx',
    READMODE: 'redirect',
    VOLUME_ALLOWUNTRUSTEDREMOTEENDPOINTS: 'true',
    WEED_V: '4',
    WEED_CONFIG_DIR: '/conf',
  });
  assert.equal(c.port, 9300);
  assert.equal(c.grpcPort, 29300);
  assert.equal(c.publicPort, 9301);
  assert.deepEqual(c.dirs, ['/d1', '/d2']);
  assert.deepEqual(c.maxCounts, [3, 4]);
  assert.deepEqual(c.masters, ['m1:9333', 'm2:9333']);
  assert.equal(c.idxDir, '/idx');
  assert.equal(c.readMode, 'redirect');
  assert.equal(c.allowUntrustedRemoteEndpoints, true);
  assert.equal(c.logLevel, 'trace');
  assert.equal(c.configDir, '/conf');
});

test('an empty environment variable counts as unset', () => {
  assert.equal(load([], { PORT: '' }).port, 8080);
});

test('precedence: command line > environment > -options file > config file > default', () => {
  const dir = tmpDir();
  const jsonFile = path.join(dir, 'volume.json');
  fs.writeFileSync(
    jsonFile,
    JSON.stringify({ port: 9001, rack: 'file-rack', dataCenter: 'file-dc', readMode: 'local', portGrpc: 29001, fileSizeLimitMB: 11 }),
  );
  const optionsFile = path.join(dir, 'volume.options');
  fs.writeFileSync(optionsFile, 'port=9002\nrack=opt-rack\ndataCenter=opt-dc\nport.grpc=29002\n');

  const c = load(['--config', jsonFile, `-options=${optionsFile}`, '-port=9004'], { PORT: '9003', RACK: 'env-rack' });
  assert.equal(c.port, 9004); // argv over env, options file, config file
  assert.equal(c.rack, 'env-rack'); // env over options file and config file
  assert.equal(c.dataCenter, 'opt-dc'); // options file over config file
  assert.equal(c.grpcPort, 29002);
  assert.equal(c.readMode, 'local'); // config file over default
  assert.equal(c.fileSizeLimitMB, 11);
  assert.equal(c.idleTimeoutSeconds, 30); // default

  // The config file can also come from WEED_VOLUME_CONFIG; env still beats it.
  const d = load([], { WEED_VOLUME_CONFIG: jsonFile, PORT: '9005' });
  assert.equal(d.port, 9005);
  assert.equal(d.rack, 'file-rack');
});

test('an invalid environment value is ignored when the flag is on the command line', () => {
  assert.equal(load(['-port=9000'], { PORT: 'junk' }).port, 9000);
  const err = configError(() => load([], { PORT: 'junk' }));
  assert.match(err.message, /"junk".*-port.*environment variable PORT/);
});

test('WEED_OFFSET_BYTES selects the offset width', () => {
  assert.equal(load([], { WEED_OFFSET_BYTES: '5' }).offsetBytes, 5);
  assert.equal(load(['-offsetBytes=4'], { WEED_OFFSET_BYTES: '5' }).offsetBytes, 4);
  assert.equal(load(['--offsetBytes', '5']).offsetBytes, 5);
  const err = configError(() => load([], { WEED_OFFSET_BYTES: '6' }));
  assert.match(err.message, /invalid value "6" for flag -offsetBytes/);
  assert.equal(err.exitCode, 2);
});

test('-fastPath is on by default and turned off by -fastPath=false or FASTPATH=false', () => {
  assert.equal(load([]).fastPath, true);
  assert.equal(load(['-fastPath=false']).fastPath, false);
  assert.equal(load([], { FASTPATH: 'false' }).fastPath, false);
});

test('-options file format', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'opts');
  fs.writeFileSync(
    file,
    [
      '# a comment',
      '',
      '-port=9400',
      'dir /data1,/data2',
      'master:m1:9333,m2:9333',
      '  rack = r1  ',
      'images.fix.orientation',
      'hasSlowRead=false',
      '--dataCenter=ignored-two-dashes',
      '//idleTimeout=99',
      'nosuch=1',
      'max 2',
    ].join('\n'),
  );
  const c = load([`-options=${file}`]);
  assert.equal(c.port, 9400);
  assert.deepEqual(c.dirs, ['/data1', '/data2']);
  assert.deepEqual(c.maxCounts, [2, 2]);
  assert.deepEqual(c.masters, ['m1:9333', 'm2:9333']);
  assert.equal(c.rack, '= r1'); // split at the first of '=', ' ', ':' - here the space
  assert.equal(c.imagesFixOrientation, true);
  assert.equal(c.hasSlowRead, false);
  assert.equal(c.dataCenter, '');
  assert.equal(c.idleTimeoutSeconds, 30);

  // `--options <file>`, the OPTIONS variable, and -options after the end of parsing all work.
  assert.equal(load(['--options', file]).port, 9400);
  assert.equal(load([], { OPTIONS: file }).port, 9400);
  assert.equal(load(['volume', 'positional', '-options', file]).port, 9400);

  // The command line wins over the file.
  assert.equal(load([`-options=${file}`, '-port=9401']).port, 9401);
});

test('-options file errors', () => {
  const missing = configError(() => load(['-options=/nonexistent/opts']));
  assert.match(missing.message, /\/nonexistent\/opts/);
  const file = path.join(tmpDir(), 'opts');
  fs.writeFileSync(file, 'port=abc\n');
  const bad = configError(() => load([`-options=${file}`]));
  assert.match(bad.message, /invalid value "abc" for flag -port \(from options file .*opts\)/);
});

test('unknown flag: one-line message naming the flag, exit code 2', () => {
  for (const argv of [['-nosuch'], ['--nosuch=1'], ['volume', '-port=1', '-nosuch', 'x']]) {
    const err = configError(() => load(argv));
    assert.equal(err.message, 'flag provided but not defined: -nosuch');
    assert.equal(err.exitCode, 2);
  }
});

test('invalid values name the flag and the value', () => {
  const cases: [string[], RegExp][] = [
    [['-port=99999'], /^invalid value "99999" for flag -port: /],
    [['--port', 'abc'], /^invalid value "abc" for flag -port: /],
    [['-port.grpc=-1'], /^invalid value "-1" for flag -port.grpc: /],
    [['-metricsPort=70000'], /^invalid value "70000" for flag -metricsPort: /],
    [['-preStopSeconds=1.5'], /^invalid value "1.5" for flag -preStopSeconds: /],
    [['-inflightUploadDataTimeout=10'], /^invalid value "10" for flag -inflightUploadDataTimeout: .*missing unit/],
    [['-inflightDownloadDataTimeout=1y'], /^invalid value "1y" for flag -inflightDownloadDataTimeout: .*unknown unit/],
    [['-dir=/a,/b', '-max=1,2,3'], /^invalid value "1,2,3" for flag -max: 3 values but -dir has 2 entries/],
    [['-max=x'], /^invalid value "x" for flag -max: /],
    [['-minFreeSpace=101'], /^invalid value "101" for flag -minFreeSpace: /],
    [['-minFreeSpace=50B'], /^invalid value "50B" for flag -minFreeSpace: /],
    [['-minFreeSpace=lots'], /^invalid value "lots" for flag -minFreeSpace: /],
    [['-minFreeSpacePercent=-1'], /^invalid value "-1" for flag -minFreeSpacePercent: /],
    [['-dir=/a,/b,/c', '-minFreeSpace=1,2'], /^invalid value "1,2" for flag -minFreeSpace: 2 values but -dir has 3/],
    [['-dir=/a', '-disk=ssd,hdd'], /^invalid value "ssd,hdd" for flag -disk: /],
    [['-offsetBytes=8'], /^invalid value "8" for flag -offsetBytes: must be 4 or 5/],
    [['-v=-1'], /^invalid value "-1" for flag -v: /],
    [['-port'], /^flag needs an argument: -port$/],
    [['---port=1'], /^bad flag syntax: ---port=1$/],
  ];
  for (const [argv, pattern] of cases) {
    const err = configError(() => load(argv));
    assert.match(err.message, pattern, argv.join(' '));
    assert.equal(err.exitCode, 2);
    assert.ok(!err.message.includes('\n'), 'one line');
  }
});

test('a broken --config file is a ConfigError naming the file', () => {
  const dir = tmpDir();
  const notJson = path.join(dir, 'a.json');
  fs.writeFileSync(notJson, '{port:');
  assert.match(configError(() => load(['--config', notJson])).message, /a\.json/);
  const unknownKey = path.join(dir, 'b.json');
  fs.writeFileSync(unknownKey, JSON.stringify({ nosuch: 1 }));
  assert.match(configError(() => load(['--config', unknownKey])).message, /b\.json.*nosuch/);
  const badPort = path.join(dir, 'c.json');
  fs.writeFileSync(badPort, JSON.stringify({ port: 70000 }));
  assert.match(configError(() => load(['--config', badPort])).message, /c\.json.*port/);
});

test('-h and --help request the usage text', () => {
  for (const argv of [['-h'], ['--help'], ['volume', '-help', '-nosuch']]) {
    try {
      load(argv);
      assert.fail('expected HelpRequested');
    } catch (err) {
      assert.ok(err instanceof HelpRequested);
      assert.equal(err.exitCode, 0);
      assert.equal(err.message, usage());
    }
  }
  const text = usage();
  for (const fragment of ['-port int', '(default 8080)', '-readMode string', '(default "proxy")', '-inflightUploadDataTimeout duration', '(default 1m0s)', '-config_dir', 'WEED_OFFSET_BYTES', 'plugins.ec.enabled']) {
    assert.ok(text.includes(fragment), fragment);
  }
});

test('derived addresses and identities', () => {
  const a = load(['-ip=10.0.0.5', '-port=8081', '-port.public=8082']);
  assert.equal(a.grpcPort, 18081);
  assert.equal(a.bindIp, '10.0.0.5');
  assert.equal(a.id, '10.0.0.5:8081');
  assert.equal(a.publicUrl, '10.0.0.5:8082');
  assert.equal(a.metricsIp, '10.0.0.5');

  const b = load(['-ip=10.0.0.5', '-ip.bind=0.0.0.0', '-id=  vs-1 ', '-publicUrl=vol.example:80', '-metricsIp=127.0.0.1']);
  assert.equal(b.bindIp, '0.0.0.0');
  assert.equal(b.id, 'vs-1');
  assert.equal(b.publicUrl, 'vol.example:80');
  assert.equal(b.metricsIp, '127.0.0.1');

  const c = load(['-ip=10.0.0.5', '-ip.bind=0.0.0.0']);
  assert.equal(c.metricsIp, '0.0.0.0'); // -ip.bind before -ip

  const v6 = load(['-ip=fd00::5', '-port=8080']);
  assert.equal(v6.id, '[fd00::5]:8080');
  assert.equal(v6.publicUrl, '[fd00::5]:8080');

  assert.deepEqual(load(['-master= a:1 , b:2,,', '-mserver=']).masters, ['a:1', 'b:2']);
  assert.deepEqual(load(['-master=a:1', '-mserver=old:9333']).masters, ['old:9333']);

  const err = configError(() => load(['-port=60000']));
  assert.match(err.message, /-port.*gRPC port 70000/);
  assert.equal(load(['-port=60000', '-port.grpc=60001']).grpcPort, 60001);
});

test('per-dir lists: max, disk, minFreeSpace, tags', () => {
  const c = load([
    '-dir=/a,/b,/c',
    '-max=7',
    '-disk=HDD,SSD,nvme',
    '-minFreeSpace=5,10GiB, 2.5',
    '-tags=fast:SSD: fast ,archive',
  ]);
  assert.deepEqual(c.dirs, ['/a', '/b', '/c']);
  assert.deepEqual(c.maxCounts, [7, 7, 7]);
  assert.deepEqual(c.diskTypes, ['', 'ssd', 'nvme']);
  assert.deepEqual(c.minFreeSpace, [
    { kind: 'percent', value: 5 },
    { kind: 'bytes', value: 10 * 1024 ** 3 },
    { kind: 'percent', value: 2.5 },
  ]);
  assert.deepEqual(c.tags, [['fast', 'ssd'], ['archive'], []]);

  const d = load(['-dir=/a,/b', '-max=1,0', '-disk=ssd', '-minFreeSpacePercent=3', '-tags=Hot:hot']);
  assert.deepEqual(d.maxCounts, [1, 0]);
  assert.deepEqual(d.diskTypes, ['ssd', 'ssd']);
  assert.deepEqual(d.minFreeSpace, [
    { kind: 'percent', value: 3 },
    { kind: 'percent', value: 3 },
  ]);
  assert.deepEqual(d.tags, [['hot'], ['hot']]);

  // -minFreeSpace replaces -minFreeSpacePercent when set.
  assert.deepEqual(load(['-minFreeSpacePercent=3', '-minFreeSpace=500MB']).minFreeSpace, [{ kind: 'bytes', value: 500e6 }]);

  assert.deepEqual(load([`-dir=~/vol`], { HOME: '/home/x' }).dirs, ['/home/x/vol']);
});

test('readMode, index, durations, verbosity, whiteList and plugins', () => {
  assert.equal(load(['-readMode=local']).readMode, 'local');
  assert.equal(load(['-readMode=redirect']).readMode, 'redirect');
  assert.equal(load(['-readMode=bogus']).readMode, 'redirect');
  assert.equal(load(['-index=leveldbMedium']).index, 'leveldbMedium');
  assert.equal(load(['-index=bogus']).index, 'memory');

  const durations: [string, number][] = [
    ['300ms', 300],
    ['2s', 2000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0', 0],
  ];
  for (const [text, ms] of durations) {
    assert.equal(load([`-inflightUploadDataTimeout=${text}`]).inflightUploadDataTimeoutMs, ms, text);
  }

  const levels = ['info', 'info', 'debug', 'debug', 'trace', 'trace'];
  levels.forEach((level, v) => assert.equal(load([`-v=${v}`]).logLevel, level, `-v=${v}`));

  assert.deepEqual(load(['-whiteList=10.0.0.1, 10.1.0.0/16,']).whiteList, ['10.0.0.1', '10.1.0.0/16']);

  const p = load(['-plugins.ec.enabled=false', '--plugins.tiering.enabled', 'false'], {
    WEED_PLUGINS_READ_WRITE_ENABLED: 'false',
    WEED_PLUGINS_TIERING_ENABLED: 'false',
  });
  assert.equal(p.plugins.ec.enabled, false);
  assert.equal(p.plugins['read-write'].enabled, false);
  assert.equal(p.plugins.tiering.enabled, true); // the bare flag is true and wins over env; 'false' ends parsing
  assert.equal(p.plugins['tail-sync'].enabled, true);
  assert.equal(p.plugins['scrub-query'].enabled, true);
});

test('ignored Go flags are accepted', () => {
  const c = load([
    '-logdir=/tmp',
    '-stderrthreshold=ERROR',
    '-vmodule=x=2',
    '-log_backtrace_at=a.go:1',
    '-log_max_size_mb=10',
    '-log_rotate_hours=1',
    '-log_json',
    '-log_compress=false',
    '-cpuprofile=/tmp/c',
    '-memprofile=/tmp/m',
    '-pprof',
    '-debug',
    '-debug.port=6061',
    '-index.leveldbTimeout=2',
    '-compactionMaxParallelCommits=2',
    '-fsyncBatchWait=1ms',
    '-port=9500',
  ]);
  assert.equal(c.port, 9500);
});

test('value parsers', () => {
  assert.equal(parseGoDuration('-1.5s'), -1500);
  assert.equal(parseGoDuration('1h2m3s4ms'), 3_723_004);
  assert.equal(parseGoDuration('.5s'), 500);
  assert.equal(parseGoDuration('500us'), 0.5);
  assert.equal(parseGoDuration('1µs'), 0.001);
  for (const bad of ['', '1', '1x', '.s', 's', '1.5', '--1s']) assert.throws(() => parseGoDuration(bad), Error, bad);

  assert.equal(parseGoInt('0x10'), 16);
  assert.equal(parseGoInt('010'), 8);
  assert.equal(parseGoInt('1_000'), 1000);
  assert.equal(parseGoInt('-42'), -42);
  for (const bad of ['08', '', '1.0', '_1', '1_', '0x', 'abc']) assert.throws(() => parseGoInt(bad), Error, bad);

  assert.equal(parseGoBool('T'), true);
  assert.throws(() => parseGoBool('yes'));

  assert.equal(parseBytes('10GiB'), 10 * 1024 ** 3);
  assert.equal(parseBytes('1,000 kb'), 1_000_000);
  assert.equal(parseBytes('2TB'), 2e12);
  assert.equal(parseBytes('3 MiB'), 3 * 1024 ** 2);
  assert.throws(() => parseBytes('10XB'));

  assert.deepEqual(parseMinFreeSpace('100'), { kind: 'percent', value: 100 });
  assert.deepEqual(parseMinFreeSpace('101B'), { kind: 'bytes', value: 101 });
  assert.throws(() => parseMinFreeSpace('100B'));

  assert.deepEqual(parseTagGroups('a,b,c', 2), [['a'], ['b']]);
  assert.deepEqual(parseTagGroups('  ', 2), [[], []]);
});

test('host address detection prefers IPv4, then non-link-local IPv6, then localhost', () => {
  const iface = (address: string, family: 'IPv4' | 'IPv6', internal = false): os.NetworkInterfaceInfo =>
    ({ address, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as os.NetworkInterfaceInfo;
  assert.equal(
    detectHostAddress({ lo: [iface('127.0.0.1', 'IPv4', true)], eth0: [iface('fd00::1', 'IPv6'), iface('10.1.2.3', 'IPv4')] }),
    '10.1.2.3',
  );
  assert.equal(detectHostAddress({ eth0: [iface('fe80::1', 'IPv6'), iface('2001:db8::7', 'IPv6')] }), '2001:db8::7');
  assert.equal(detectHostAddress({ lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)] }), 'localhost');
});
