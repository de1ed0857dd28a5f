// Issue 13 units: whitelist parsing and matching (Go's rules, never failing open), the one
// collection-name check, the config layer's one-line refusal, and the process policy for errors
// nothing handled (driven in a child process, since it installs process-wide handlers).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { ConfigError, loadConfig, loadSecurityConfig } from '../../../config/index.js';
import { PROJECT_ROOT } from '../../../core/paths.js';
import { VolumeServerError } from '../../../core/errors.js';
import { Guard } from '../../../core/security/guard.js';
import { checkCollection, collectionError, MAX_COLLECTION_BYTES } from '../../../core/security/names.js';
import { parseWhiteList, WhiteListError } from '../../../core/security/whitelist.js';

test('whitelist: entries that are no IP match only as exact text, and deny everyone else', () => {
  const w = parseWhiteList(['localhost', ' ']);
  assert.equal(w.empty, false);
  assert.ok(w.allows('localhost'));
  assert.ok(!w.allows('127.0.0.1'));
  assert.ok(!w.allows('10.1.2.3'));
  // Only blank entries: nothing configured, nothing restricted (Go's empty whitelist).
  assert.equal(parseWhiteList([' ', '']).empty, true);
  assert.ok(parseWhiteList([]).allows('10.1.2.3'));
});

test('whitelist: IPs (also canonical and IPv4-mapped forms) and CIDRs', () => {
  const w = parseWhiteList(['127.0.0.1', '10.0.0.0/8', '0:0:0:0:0:0:0:1', 'fd00::/16']);
  assert.ok(w.allows('127.0.0.1'));
  assert.ok(w.allows('::ffff:127.0.0.1'));
  assert.ok(w.allows('10.200.1.1'));
  assert.ok(w.allows('::ffff:10.200.1.1'));
  assert.ok(w.allows('::1'));
  assert.ok(w.allows('fd00:1::5'));
  assert.ok(!w.allows('192.168.1.1'));
  assert.ok(!w.allows('fd01::1'));
  assert.ok(!w.allows(''));
});

test('whitelist: a bad CIDR is refused, naming the entry', () => {
  for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/8x', '10.0.0.0/-1', 'host/8', '10.0.0/8', '/8']) {
    assert.throws(() => parseWhiteList(['127.0.0.1', bad]), (e: unknown) => e instanceof WhiteListError && e.message.startsWith(`invalid whitelist entry ${JSON.stringify(bad)}: `), bad);
  }
  assert.match(
    (() => {
      try {
        parseWhiteList(['10.0.0.0/33']);
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    })(),
    /^invalid whitelist entry "10\.0\.0\.0\/33": invalid CIDR address: prefix length must be 0-32 for IPv4$/,
  );
  assert.doesNotThrow(() => parseWhiteList(['0.0.0.0/0', '10.1.2.3/32', '::/0', '::1/128']));
});

test('guard: a refused update keeps the previous list', () => {
  const g = new Guard(['10.9.8.7']);
  assert.ok(!g.isWhiteListed('127.0.0.1'));
  assert.throws(() => g.update(['10.0.0.0/33']), WhiteListError);
  assert.ok(!g.isWhiteListed('127.0.0.1'), 'still the old list, not an empty (open) one');
  assert.ok(g.isWhiteListed('10.9.8.7'));
  g.update(['127.0.0.1']);
  assert.ok(g.isWhiteListed('127.0.0.1'));
  assert.throws(() => new Guard(['1.2.3.4/40']), WhiteListError);
  assert.throws(() => new Guard(['localhost']).checkPeer('ipv4:127.0.0.1:5000'), { message: 'not authorized: 127.0.0.1' });
});

test('config: a bad whitelist entry is a one-line ConfigError (exit 2) from the flag and from security.toml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-weed-wl-'));
  try {
    const env = { HOME: dir };
    assert.throws(
      () => loadConfig(['-whiteList=127.0.0.1,10.0.0.0/33', '-config_dir', dir], env),
      (e: unknown) =>
        e instanceof ConfigError && e.exitCode === 2 && !e.message.includes('\n') && /invalid whitelist entry "10\.0\.0\.0\/33".* in -whiteList$/.test(e.message),
    );
    const file = join(dir, 'security.toml');
    writeFileSync(file, '[guard]\nwhite_list = "127.0.0.1, 192.168.0.0/99"\n');
    assert.throws(
      () => loadSecurityConfig({ securityFile: file, env }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('\n') && e.message.endsWith(`in [guard] white_list of ${file}`),
    );
    assert.throws(() => loadSecurityConfig({ securityFile: file, env: { ...env, WEED_GUARD_WHITE_LIST: '10.0.0.0/33' } }), /in \[guard\] white_list of/);
    writeFileSync(file, '[guard]\nwhite_list = "127.0.0.1, localhost"\n');
    assert.deepEqual(loadSecurityConfig({ securityFile: file, env }).guardWhiteList, ['127.0.0.1', 'localhost']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('collection names: one plain path element, no control characters, bounded length', () => {
  for (const ok of ['', 'pics', 'a.b-c_d', '..x', 'x..', 'ünïcödé', 'x'.repeat(MAX_COLLECTION_BYTES)]) {
    assert.equal(collectionError(ok), undefined, ok);
    assert.equal(checkCollection(ok), ok);
  }
  for (const bad of ['.', '..', '../x', 'a/b', 'a\\b', '/abs', 'nul\0x', 'new\nline', 'del\x7f', 'x'.repeat(MAX_COLLECTION_BYTES + 1), 'é'.repeat(101)]) {
    assert.equal(collectionError(bad), `invalid collection ${JSON.stringify(bad)}`, JSON.stringify(bad));
    assert.throws(() => checkCollection(bad), (e: unknown) => e instanceof VolumeServerError && e.message === `invalid collection ${JSON.stringify(bad)}`);
  }
  assert.equal(collectionError(undefined), 'invalid collection "undefined"');
});

/** Runs a snippet in a child node with the policy installed (logger → stdout, exit → process.exit). */
function runWithPolicy(snippet: string): { status: number | null; lines: Record<string, unknown>[]; stderr: string } {
  const policy = pathToFileURL(join(PROJECT_ROOT, 'dist', 'core', 'process-policy.js')).href;
  const script = `
    const { default: pino } = await import('pino');
    const { installProcessPolicy } = await import(${JSON.stringify(policy)});
    installProcessPolicy(pino({ base: null }), (code) => { console.log(JSON.stringify({ exitCalled: code })); process.exit(code); });
    ${snippet}
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 20_000 });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, lines, stderr: r.stderr };
}

test('process policy: an unhandled rejection is logged (fatal, with the error) and the process exits 1', () => {
  const r = runWithPolicy(`setInterval(() => {}, 1000); Promise.reject(new Error('lost promise'));`);
  assert.equal(r.status, 1, r.stderr);
  const fatal = r.lines.find((l) => l.level === 60);
  assert.ok(fatal, JSON.stringify(r.lines));
  assert.equal(fatal.msg, 'unhandled rejection: exiting');
  assert.equal(fatal.origin, 'unhandled rejection');
  assert.equal((fatal.err as { message: string }).message, 'lost promise');
  assert.match((fatal.err as { stack: string }).stack, /lost promise/);
  // The policy called exit(1). Where that line lands among pino's is not fixed: pino's stdout writes
  // may still be queued when console.log writes it, and a loaded machine shows either order.
  assert.deepEqual(r.lines.filter((l) => 'exitCalled' in l), [{ exitCalled: 1 }]);
});

test('process policy: an uncaught exception is logged and the process exits 1 instead of serving on', () => {
  // The interval stands for the open listeners: without the policy the process would go on.
  const r = runWithPolicy(`setInterval(() => {}, 1000); setTimeout(() => { throw new TypeError('bad state'); }, 10);`);
  assert.equal(r.status, 1, r.stderr);
  const fatal = r.lines.find((l) => l.level === 60);
  assert.ok(fatal, JSON.stringify(r.lines));
  assert.equal(fatal.origin, 'uncaught exception');
  assert.equal((fatal.err as { type: string }).type, 'TypeError');
  assert.equal((fatal.err as { message: string }).message, 'bad state');
  assert.equal(r.lines.filter((l) => l.level === 60).length, 1);
});

test('process policy: a rejection that is handled is left alone', () => {
  const r = runWithPolicy(`Promise.reject(new Error('handled')).catch(() => console.log(JSON.stringify({ handled: true })));`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.lines, [{ handled: true }]);
});
