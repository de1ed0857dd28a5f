#!/usr/bin/env node
// Conformance harness: runs SeaweedFS's own volume-server integration suite
// (test/volume_server/{http,grpc,rust} of the pinned Go module) against our
// TypeScript volume server through the suite's alternative-binary hook
// (VOLUME_SERVER_IMPL=rust + RUST_VOLUME_BINARY). Plain Node ESM, no deps.
//
//   node test/conformance/run.mjs                 gated tests only; exit 1 if any gated test fails
//   node test/conformance/run.mjs --all           every non-excluded test; per-family table
//   node test/conformance/run.mjs --list          print the classification and exit
//   options: --offset 4|5  --family <name>  --run <regex>  --impl rust|go|go-hook
//
// See README.md next to this file.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const PACKAGES = ['http', 'grpc', 'rust'];
const SUITE = 'test/volume_server';
const OUR_BINARY = path.join(REPO, 'bin', 'weed-volume');
const SHIM = path.join(HERE, 'go-volume-shim.sh');
const RESULTS_DIR = path.join(HERE, 'results');
const GO_TIMEOUT = process.env.CONFORMANCE_GO_TIMEOUT || '40m';
const FAIL_TAIL_LINES = 60;

// Cluster helpers of test/volume_server/framework. "alt": starts the alternative
// (our) volume server when VOLUME_SERVER_IMPL=rust (or always, for the Rust ones);
// "mixed": starts both a Go and an alternative volume server; "go": always starts
// the Go volume server only. Cross-checked against the framework source at run time.
const HELPERS = {
  StartVolumeCluster: 'alt',
  StartMultiVolumeClusterAuto: 'alt',
  StartDualVolumeCluster: 'alt',
  StartRustVolumeCluster: 'alt',
  StartRustMultiVolumeCluster: 'alt',
  StartMixedVolumeCluster: 'mixed',
  StartSingleVolumeCluster: 'go',
  StartSingleVolumeClusterWithDataDirs: 'go',
  StartMultiVolumeCluster: 'go',
  StartMultiVolumeClusterWithDisks: 'go',
  StartTripleVolumeCluster: 'go',
  StartSingleVolumeClusterWithFiler: 'go',
};

// ---------------------------------------------------------------- options

function usage(code) {
  const text = `usage: node test/conformance/run.mjs [options]
  (default)          run the gated tests (gates.json); exit 1 unless all of them pass
  --all              run every non-excluded test; per-family table; exit 1 only if a gated test fails
  --list             print the classification (family / gate / exclusion) and exit
  --offset 4|5       needle offset width of weed + test binary (default 5, env CONFORMANCE_OFFSET)
  --family <name>    only tests of that family (${'core, read-write, ec, tiering, tail-sync, scrub-query'})
  --run <regex>      only tests whose name matches (JavaScript RegExp)
  --impl <impl>      rust (default): our server via VOLUME_SERVER_IMPL=rust, RUST_VOLUME_BINARY=bin/weed-volume
                     go:      the suite against the Go server, to validate the harness
                              (VOLUME_SERVER_IMPL unset; rust-package tests use go-volume-shim.sh)
                     go-hook: the Go server through the alternative-binary hook
                              (VOLUME_SERVER_IMPL=rust, RUST_VOLUME_BINARY=go-volume-shim.sh)
  env: CONFORMANCE_GO_TIMEOUT (go test -timeout, default 40m)`;
  (code ? process.stderr : process.stdout).write(text + '\n');
  process.exit(code);
}

function parseArgs(argv) {
  const o = { all: false, list: false, offset: process.env.CONFORMANCE_OFFSET || '5', family: null, run: null, impl: 'rust' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const key = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) die(`${key} needs a value`);
      return argv[++i];
    };
    switch (key) {
      case '--all': o.all = true; break;
      case '--list': o.list = true; break;
      case '--offset': o.offset = value(); break;
      case '--family': o.family = value(); break;
      case '--run': o.run = value(); break;
      case '--impl': o.impl = value(); break;
      case '-h': case '--help': usage(0); break;
      default: die(`unknown argument '${a}' (see --help)`);
    }
  }
  if (o.offset !== '4' && o.offset !== '5') die(`--offset must be 4 or 5, got '${o.offset}'`);
  o.offset = Number(o.offset);
  if (!['rust', 'go', 'go-hook'].includes(o.impl)) die(`--impl must be rust, go or go-hook, got '${o.impl}'`);
  if (o.run !== null) {
    try { o.runRe = new RegExp(o.run); } catch (e) { die(`--run: invalid regex: ${e.message}`); }
  }
  return o;
}

function die(msg, code = 2) {
  process.stderr.write(`run.mjs: ${msg}\n`);
  process.exit(code);
}

// ---------------------------------------------------------------- upstream source

function locateSource() {
  const r = spawnSync('bash', [path.join(HERE, 'build-weed.sh'), '--src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) die(`build-weed.sh --src failed (exit ${r.status})`);
  const src = lastLine(r.stdout);
  if (!src || !fs.existsSync(path.join(src, SUITE))) die(`module source not found (build-weed.sh --src printed '${src}')`);
  try { fs.accessSync(src, fs.constants.W_OK); } catch { die(`module source ${src} is not writable (use the build-weed.sh cache copy, not the read-only module cache)`); }
  return src;
}

function lastLine(s) {
  const lines = String(s).split('\n').map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] || '';
}

// Split gofmt'd Go source into top-level funcs (and methods): name -> body text.
function parseGoFuncs(text) {
  const funcs = [];
  let cur = null;
  for (const line of text.split('\n')) {
    const m = /^func\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)\s*[[(]/.exec(line);
    if (m) {
      cur = { name: m[1], header: line, body: [] };
      funcs.push(cur);
      if (/\}\s*$/.test(line) && /\{/.test(line)) cur = null; // one-liner
      continue;
    }
    if (!cur) continue;
    if (line === '}') { cur = null; continue; }
    if (/^\s*\/\//.test(line)) continue; // whole-line comment
    cur.body.push(line);
  }
  return funcs.map((f) => ({ ...f, body: f.body.join('\n') }));
}

// Call graph over one Go package: for each func, the framework.StartXxx helpers it
// reaches directly or through other package-local funcs.
function reachability(funcs, directRe) {
  const byName = new Map();
  for (const f of funcs) {
    if (!byName.has(f.name)) byName.set(f.name, []);
    byName.get(f.name).push(f);
  }
  const info = new Map();
  for (const [name, defs] of byName) {
    const direct = new Set();
    const calls = new Set();
    for (const f of defs) {
      for (const m of f.body.matchAll(directRe)) direct.add(m[1]);
      for (const m of f.body.matchAll(/(^|[^.\w])([A-Za-z_]\w*)\b/g)) {
        if (m[2] !== name && byName.has(m[2])) calls.add(m[2]);
      }
    }
    info.set(name, { direct, calls });
  }
  const memo = new Map();
  const reach = (name, stack = new Set()) => {
    if (memo.has(name)) return memo.get(name);
    if (stack.has(name)) return new Set();
    stack.add(name);
    const { direct, calls } = info.get(name);
    const out = new Set(direct);
    for (const c of calls) for (const h of reach(c, stack)) out.add(h);
    stack.delete(name);
    memo.set(name, out);
    return out;
  };
  return { reach, info };
}

function discoverTests(src) {
  const tests = [];
  const errors = [];
  for (const pkg of PACKAGES) {
    const dir = path.join(src, SUITE, pkg);
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.go')).sort();
    const funcs = [];
    const testDefs = [];
    for (const file of files) {
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      if (/^\/\/go:build /m.test(text)) errors.push(`${pkg}/${file} has a //go:build constraint; run.mjs does not evaluate build tags`);
      for (const f of parseGoFuncs(text)) {
        funcs.push(f);
        if (!file.endsWith('_test.go')) continue;
        const m = /^func\s+(Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)/.exec(f.header);
        if (m && /^Test($|[^a-z])/.test(m[1])) testDefs.push({ name: m[1], file });
      }
    }
    const { reach } = reachability(funcs, /\bframework\.(Start\w+)\b/g);
    for (const t of testDefs) {
      tests.push({ name: t.name, pkg, file: `${pkg}/${t.file}`, helpers: [...reach(t.name)].sort() });
    }
  }
  return { tests, errors };
}

// Verify the HELPERS table against the framework source: a helper marked "go"
// must not reach the alternative binary; "alt"/"mixed" ones must.
function checkFrameworkHelpers(src) {
  const errors = [];
  const dir = path.join(src, SUITE, 'framework');
  const funcs = [];
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.go') && !f.endsWith('_test.go'))) {
    funcs.push(...parseGoFuncs(fs.readFileSync(path.join(dir, f), 'utf8')));
  }
  const { reach, info } = reachability(funcs, /\b(FindOrBuildRustBinary)\s*\(/g);
  for (const name of info.keys()) {
    if (!/^Start[A-Z]/.test(name)) continue;
    const kind = HELPERS[name];
    if (!kind) { errors.push(`framework helper ${name} is not classified in run.mjs HELPERS`); continue; }
    const alt = reach(name).has('FindOrBuildRustBinary');
    if (kind === 'go' && alt) errors.push(`framework helper ${name} is marked Go-only but reaches FindOrBuildRustBinary`);
    if (kind !== 'go' && !alt) errors.push(`framework helper ${name} is marked '${kind}' but never reaches FindOrBuildRustBinary`);
  }
  for (const name of Object.keys(HELPERS)) {
    if (!info.has(name)) errors.push(`run.mjs HELPERS lists ${name}, which the framework no longer defines`);
  }
  return errors;
}

// ---------------------------------------------------------------- classification

function readJson(name) {
  const p = path.join(HERE, name);
  try { return JSON.parse(fs.readFileSync(p, 'utf8')); } catch (e) { die(`cannot read ${p}: ${e.message}`); }
}

function classify(src) {
  const { tests, errors } = discoverTests(src);
  const warnings = [];
  errors.push(...checkFrameworkHelpers(src));
  const famCfg = readJson('families.json');
  const exclCfg = readJson('excluded.json');
  const gates = readJson('gates.json');
  const families = famCfg.families;
  if (!Array.isArray(families) || families.length === 0) errors.push('families.json: "families" must be a non-empty list');

  const byName = new Map();
  for (const t of tests) {
    if (byName.has(t.name)) errors.push(`test name ${t.name} is defined in both ${byName.get(t.name).file} and ${t.file}`);
    byName.set(t.name, t);
  }

  // families
  for (const [file, fam] of Object.entries(famCfg.byFile || {})) {
    if (!families.includes(fam)) errors.push(`families.json byFile[${file}]: unknown family '${fam}'`);
    if (!tests.some((t) => t.file === file)) warnings.push(`families.json byFile[${file}]: no tests in that file upstream`);
  }
  for (const [name, fam] of Object.entries(famCfg.byTest || {})) {
    if (!families.includes(fam)) errors.push(`families.json byTest[${name}]: unknown family '${fam}'`);
    if (!byName.has(name)) errors.push(`families.json byTest[${name}]: no such test upstream`);
  }
  for (const t of tests) {
    t.family = (famCfg.byTest || {})[t.name] || (famCfg.byFile || {})[t.file] || null;
    if (!t.family) errors.push(`${t.file} ${t.name}: no family (add it to families.json byFile or byTest)`);
  }

  // exclusions
  const excluded = exclCfg.tests || {};
  for (const [name, e] of Object.entries(excluded)) {
    const t = byName.get(name);
    if (!t) { errors.push(`excluded.json: ${name} does not exist upstream`); continue; }
    if (!e || typeof e.reason !== 'string' || !e.reason.trim()) errors.push(`excluded.json: ${name} has no reason`);
    if (e && e.package && e.package !== t.pkg) errors.push(`excluded.json: ${name} is in package ${t.pkg}, not ${e.package}`);
    t.excluded = e.reason;
  }
  for (const t of tests) {
    const kinds = new Set(t.helpers.map((h) => HELPERS[h] || 'unknown'));
    for (const h of t.helpers) if (!HELPERS[h]) errors.push(`${t.name}: calls unknown framework helper ${h} (classify it in run.mjs HELPERS)`);
    t.usesOurServer = kinds.has('alt') || kinds.has('mixed');
    if (t.helpers.length === 0) warnings.push(`${t.name}: reaches no framework.Start* helper (does it start a cluster?)`);
    if (!t.usesOurServer && t.helpers.length > 0 && !t.excluded) {
      errors.push(`${t.name} (${t.file}) only starts the Go volume server (${t.helpers.join(', ')}) but is not in excluded.json`);
    }
    if (t.excluded && t.usesOurServer) warnings.push(`${t.name} is excluded but reaches ${t.helpers.join(', ')}, which would start our server`);
  }

  // gates
  const gateKeys = Object.keys(gates);
  for (const f of families) if (!gateKeys.includes(f)) errors.push(`gates.json: missing family key '${f}'`);
  const seen = new Set();
  for (const [fam, list] of Object.entries(gates)) {
    if (!families.includes(fam)) { errors.push(`gates.json: unknown family '${fam}'`); continue; }
    if (!Array.isArray(list)) { errors.push(`gates.json: '${fam}' must be a list`); continue; }
    for (const name of list) {
      const t = byName.get(name);
      if (seen.has(name)) errors.push(`gates.json: ${name} is gated twice`);
      seen.add(name);
      if (!t) { errors.push(`gates.json[${fam}]: ${name} does not exist upstream`); continue; }
      if (t.excluded) errors.push(`gates.json[${fam}]: ${name} is excluded (${t.excluded})`);
      if (t.family !== fam) errors.push(`gates.json[${fam}]: ${name} belongs to family '${t.family}', not '${fam}'`);
      t.gated = true;
    }
  }
  for (const t of tests) t.gated = !!t.gated;
  return { tests, families, errors, warnings };
}

// ---------------------------------------------------------------- --list

function pad(s, n) { s = String(s); return s.length >= n ? s : s + ' '.repeat(n - s.length); }
function lpad(s, n) { s = String(s); return s.length >= n ? s : ' '.repeat(n - s.length) + s; }

function printList(cls, selected) {
  const { tests, families } = cls;
  const shown = new Set(selected.map((t) => t.name));
  const w = Math.max(...tests.map((t) => t.name.length)) + 2;
  for (const fam of families) {
    const inFam = tests.filter((t) => t.family === fam && !t.excluded);
    const list = inFam.filter((t) => shown.has(t.name));
    console.log(`\n== ${fam}: ${inFam.length} tests, ${inFam.filter((t) => t.gated).length} gated`);
    for (const t of list) {
      console.log(`  ${t.gated ? 'GATE' : '    '} ${pad(t.name, w)} ${pad(t.file, 44)} ${t.helpers.join(',')}`);
    }
  }
  const excl = tests.filter((t) => t.excluded);
  console.log(`\n== excluded: ${excl.length} tests (never run, never counted)`);
  for (const t of excl) console.log(`  ${pad(t.name, w)} ${pad(t.file, 44)} ${t.excluded}`);
  console.log('\n== summary');
  for (const fam of families) {
    const inFam = tests.filter((t) => t.family === fam && !t.excluded);
    console.log(`  ${pad(fam, 12)} ${lpad(inFam.length, 4)} tests  ${lpad(inFam.filter((t) => t.gated).length, 3)} gated`);
  }
  console.log(`  ${pad('excluded', 12)} ${lpad(excl.length, 4)}`);
  console.log(`  ${pad('total', 12)} ${lpad(tests.length, 4)} top-level tests in ${PACKAGES.map((p) => `${SUITE}/${p}`).join(', ')}`);
  if (selected.length !== tests.filter((t) => !t.excluded).length) console.log(`  (listing filtered to ${selected.length} tests)`);
}

// ---------------------------------------------------------------- running

let currentChild = null;
let interrupted = false;
let pathDir = null; // temp dir holding a `weed` symlink, prepended to PATH

function removePathDir() {
  if (pathDir) { try { fs.rmSync(pathDir, { recursive: true, force: true }); } catch { /* ignore */ } pathDir = null; }
}

function killGroup(child, signal) {
  if (!child || !child.pid) return;
  try { process.kill(-child.pid, signal); } catch { /* group already gone */ }
}

function buildWeed(offset) {
  console.log(`building/locating weed (${offset}-byte offsets) via build-weed.sh ...`);
  const r = spawnSync('bash', [path.join(HERE, 'build-weed.sh'), String(offset)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) return { error: `build-weed.sh ${offset} failed (exit ${r.status}${r.signal ? ', ' + r.signal : ''})` };
  const bin = lastLine(r.stdout);
  if (!isExecutable(bin)) return { error: `build-weed.sh printed '${bin}', which is not an executable file` };
  return { bin };
}

function isExecutable(p) {
  try { const st = fs.statSync(p); return st.isFile() && (st.mode & 0o111) !== 0; } catch { return false; }
}

function durationMs(s) {
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s)/g;
  let total = 0; let m; let any = false;
  while ((m = re.exec(s))) { any = true; total += Number(m[1]) * { h: 3600e3, m: 60e3, s: 1e3, ms: 1 }[m[2]]; }
  return any ? total : 40 * 60e3;
}

function tail(lines, n) {
  const text = lines.join('');
  const all = text.split('\n');
  if (all[all.length - 1] === '') all.pop();
  return all.slice(-n);
}

// Failure excerpt: the last lines, but for a panic keep the lines leading up to it
// and the panic header instead of a tail made of goroutine dumps.
function excerpt(chunks, n = FAIL_TAIL_LINES) {
  const all = tail(chunks, Infinity);
  const p = all.findIndex((l) => /^panic: /.test(l));
  if (p < 0) return all.slice(-n);
  const before = all.slice(Math.max(0, p - Math.floor(n / 2)), p);
  const after = all.slice(p, p + (n - before.length));
  const rest = all.length - p - after.length;
  return rest > 0 ? [...before, ...after, `... (${rest} more lines of goroutine dump)`] : [...before, ...after];
}

function crashCause(chunks) {
  const text = chunks.join('');
  const m = /panic: (test timed out after \S+)/.exec(text);
  if (m) return `go test -timeout expired (${m[1]})`;
  if (/^panic: /m.test(text)) return 'test binary panicked';
  if (/\[build failed\]|^# /m.test(text)) return 'build failed';
  return null;
}

function report(t) {
  const secs = `${(t.elapsed || 0).toFixed(2)}s`;
  const tag = `[${t.family}${t.gated ? ', gated' : ''}]`;
  const status = t.status === 'pass' ? 'PASS' : t.status === 'skip' ? 'SKIP' : 'FAIL';
  console.log(`${status} ${t.name} ${secs} ${tag}${t.reason ? ' — ' + t.reason : ''}`);
  if (t.status === 'fail') {
    const lines = excerpt(t.output);
    if (lines.length) console.log(lines.map((l) => `    | ${l}`).join('\n'));
  } else if (t.status === 'skip' && t.gated) {
    console.log(tail(t.output, 4).map((l) => `    | ${l}`).join('\n'));
  }
}

// One `go test` invocation for some tests of one package. Resolves when the
// process (and its process group) is gone.
function runGoTest(ctx, pkg, tests) {
  return new Promise((resolve) => {
    const byName = new Map(tests.map((t) => [t.name, t]));
    const args = ['test', '-json', '-count=1', '-p', '1', '-timeout', GO_TIMEOUT];
    if (ctx.offset === 5) args.push('-tags', '5BytesOffset');
    args.push(`./${SUITE}/${pkg}`, '-run', `^(${tests.map((t) => t.name).join('|')})$`);
    const started = Date.now();
    const child = spawn('go', args, { cwd: ctx.src, env: ctx.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    currentChild = child;
    const inv = { pkg, args, pkgOutput: [], stderr: [], pkgAction: null, exitCode: null, signal: null, watchdog: false };
    const watchdog = setTimeout(() => {
      inv.watchdog = true;
      inv.pkgOutput.push(`run.mjs: watchdog: go test exceeded ${GO_TIMEOUT} + 10m, killing its process group\n`);
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 5000).unref();
    }, durationMs(GO_TIMEOUT) + 10 * 60e3);

    let buf = '';
    const onEvent = (ev) => {
      if (ev.Action === 'build-output' || ev.Action === 'build-fail') {
        if (ev.Output) inv.pkgOutput.push(ev.Output);
        return;
      }
      if (!ev.Test) {
        if (ev.Action === 'output') inv.pkgOutput.push(ev.Output);
        else if (['pass', 'fail', 'skip'].includes(ev.Action)) inv.pkgAction = ev.Action;
        return;
      }
      const top = ev.Test.split('/')[0];
      const t = byName.get(top);
      if (!t) { if (ev.Action === 'output') inv.pkgOutput.push(ev.Output); return; }
      if (ev.Action === 'output') { t.output.push(ev.Output); return; }
      if (ev.Test !== top) return;
      if (ev.Action === 'run') { t.started = true; t.startedAt = Date.parse(ev.Time) || Date.now(); return; }
      if (['pass', 'fail', 'skip'].includes(ev.Action) && !t.status) {
        t.started = true;
        t.status = ev.Action;
        t.elapsed = ev.Elapsed || 0;
        report(t);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        let ev;
        try { ev = JSON.parse(line); } catch { inv.pkgOutput.push(line + '\n'); continue; }
        onEvent(ev);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => inv.stderr.push(chunk));
    child.on('error', (err) => inv.stderr.push(`run.mjs: spawn go: ${err.message}\n`));
    child.on('close', (code, signal) => {
      clearTimeout(watchdog);
      if (buf.trim()) inv.pkgOutput.push(buf);
      inv.exitCode = code; inv.signal = signal;
      inv.durationSec = (Date.now() - started) / 1000;
      killGroup(child, 'SIGKILL'); // reap servers orphaned by a crashed/timed-out test binary
      currentChild = null;
      resolve(inv);
    });
  });
}

async function runPackage(ctx, pkg, tests) {
  const invocations = [];
  let pending = tests.slice();
  for (let round = 1; pending.length && !interrupted; round++) {
    console.log(`\n--- go test ./${SUITE}/${pkg}: ${pending.length} test(s)${round > 1 ? ` (resume #${round - 1} after the previous go test died)` : ''}`);
    const inv = await runGoTest(ctx, pkg, pending);
    invocations.push(summarizeInvocation(inv));
    const pkgTail = excerpt([...inv.pkgOutput, ...inv.stderr]);
    const inFlight = pending.filter((t) => !t.status && t.started);
    const cause = inv.watchdog ? 'runner watchdog killed go test'
      : interrupted ? 'interrupted'
      : inv.signal ? `go test killed by ${inv.signal}`
      : crashCause([...inFlight.flatMap((t) => t.output), ...inv.pkgOutput, ...inv.stderr])
        || (inv.pkgAction === 'fail' || inv.exitCode !== 0 ? `package failed (go test exit ${inv.exitCode})` : 'not reported by go test');
    // a test that started but never finished: the go test died under it
    for (const t of inFlight) {
      t.status = 'fail';
      t.elapsed = t.startedAt ? Math.max(0, (Date.now() - t.startedAt) / 1000) : 0;
      t.reason = `did not finish: ${cause}`;
      t.output.push(...(pkgTail.length ? ['--- package output ---\n', ...pkgTail.map((l) => l + '\n')] : []));
      report(t);
    }
    const notStarted = pending.filter((t) => !t.status);
    const progressed = notStarted.length < pending.length;
    if (!notStarted.length) break;
    if (progressed && !interrupted && !inv.watchdog) { pending = notStarted; continue; }
    for (const t of notStarted) {
      t.status = 'fail';
      t.notRun = true;
      t.reason = `did not run: ${cause}`;
      t.output.push(...pkgTail.map((l) => l + '\n'));
    }
    // print the package tail once, not per test
    console.log(`FAIL ${notStarted.length} test(s) of ${pkg} did not run: ${cause}`);
    for (const t of notStarted) console.log(`FAIL ${t.name} 0.00s [${t.family}${t.gated ? ', gated' : ''}] — did not run`);
    if (pkgTail.length) console.log(pkgTail.map((l) => `    | ${l}`).join('\n'));
    break;
  }
  return invocations;
}

function summarizeInvocation(inv) {
  return {
    package: inv.pkg, command: ['go', ...inv.args].join(' '), exitCode: inv.exitCode, signal: inv.signal,
    packageAction: inv.pkgAction, watchdog: inv.watchdog, durationSec: inv.durationSec,
  };
}

function summaryTable(cls, selected) {
  const rows = [];
  for (const fam of cls.families) {
    const ts = selected.filter((t) => t.family === fam);
    if (!ts.length) continue;
    rows.push({
      fam, total: ts.length,
      pass: ts.filter((t) => t.status === 'pass').length,
      fail: ts.filter((t) => t.status === 'fail').length,
      skip: ts.filter((t) => t.status === 'skip').length,
      gated: ts.filter((t) => t.gated).length,
      gatedPass: ts.filter((t) => t.gated && t.status === 'pass').length,
      failing: ts.filter((t) => t.status === 'fail').map((t) => t.name + (t.notRun ? ' (not run)' : '')),
      skipped: ts.filter((t) => t.status === 'skip').map((t) => t.name),
    });
  }
  return rows;
}

function printSummary(cls, selected, opts) {
  const rows = summaryTable(cls, selected);
  console.log('\n==================== conformance summary ====================');
  console.log(`impl=${opts.impl} offset=${opts.offset} mode=${opts.all ? 'all' : 'gated'}${opts.family ? ' family=' + opts.family : ''}${opts.run ? ' run=/' + opts.run + '/' : ''}`);
  console.log(`${pad('family', 12)} ${lpad('pass', 5)} ${lpad('fail', 5)} ${lpad('skip', 5)} ${lpad('total', 6)}  gated(pass/total)`);
  for (const r of rows) {
    console.log(`${pad(r.fam, 12)} ${lpad(r.pass, 5)} ${lpad(r.fail, 5)} ${lpad(r.skip, 5)} ${lpad(r.total, 6)}  ${r.gatedPass}/${r.gated}`);
  }
  for (const r of rows) {
    if (r.failing.length) console.log(`  ${r.fam} failing: ${r.failing.join(', ')}`);
    if (r.skipped.length) console.log(`  ${r.fam} skipped: ${r.skipped.join(', ')}`);
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const src = locateSource();
  const cls = classify(src);
  for (const w of cls.warnings) process.stderr.write(`warning: ${w}\n`);
  if (opts.family && !cls.families.includes(opts.family)) die(`--family: unknown family '${opts.family}' (one of ${cls.families.join(', ')})`);

  const filtered = cls.tests.filter((t) => !t.excluded
    && (!opts.family || t.family === opts.family)
    && (!opts.runRe || opts.runRe.test(t.name)));

  if (opts.list) {
    printList(cls, filtered);
    if (cls.errors.length) {
      for (const e of cls.errors) process.stderr.write(`error: ${e}\n`);
      process.exit(2);
    }
    return 0;
  }
  if (cls.errors.length) {
    for (const e of cls.errors) process.stderr.write(`error: ${e}\n`);
    die(`${cls.errors.length} classification error(s); fix families.json / excluded.json / gates.json`);
  }

  const selected = filtered.filter((t) => opts.all || t.gated);
  if (!selected.length) {
    die(`no tests selected${opts.all ? '' : ' (only gated tests run without --all)'}${opts.run ? ` for --run /${opts.run}/` : ''}`);
  }
  for (const t of selected) Object.assign(t, { status: null, started: false, elapsed: 0, output: [], reason: null, notRun: false });

  const startedAt = new Date();
  const ctx = { src, offset: opts.offset, env: null };
  const runMeta = { impl: opts.impl, offset: opts.offset, goTimeout: GO_TIMEOUT, src };
  let fatal = null;

  const weed = buildWeed(opts.offset);
  if (weed.error) fatal = weed.error;
  else {
    runMeta.weedBinary = weed.bin;
    const env = { ...process.env, WEED_BINARY: weed.bin, WEED_OFFSET_BYTES: String(opts.offset) };
    delete env.VOLUME_SERVER_IT_KEEP_LOGS;
    // fetch_remote_s3_test.go looks `weed` up on PATH to boot `weed mini` as its S3
    // backend (and skips without it): expose the built weed there.
    pathDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-weed-conformance-'));
    fs.symlinkSync(weed.bin, path.join(pathDir, 'weed'));
    env.PATH = `${pathDir}${path.delimiter}${env.PATH || ''}`;
    if (opts.impl === 'rust') {
      env.VOLUME_SERVER_IMPL = 'rust';
      env.RUST_VOLUME_BINARY = OUR_BINARY;
      if (!isExecutable(OUR_BINARY)) fatal = `${OUR_BINARY} is missing or not executable`;
    } else {
      if (opts.impl === 'go') delete env.VOLUME_SERVER_IMPL; else env.VOLUME_SERVER_IMPL = 'rust';
      env.RUST_VOLUME_BINARY = SHIM;
    }
    runMeta.volumeServerImpl = env.VOLUME_SERVER_IMPL || '(unset: Go)';
    runMeta.volumeBinary = env.RUST_VOLUME_BINARY;
    ctx.env = env;
  }

  console.log(`conformance: ${selected.length} test(s) [${opts.all ? 'all non-excluded' : 'gated'}], impl=${opts.impl}, offset=${opts.offset}, source ${src}`);
  if (ctx.env) console.log(`  VOLUME_SERVER_IMPL=${ctx.env.VOLUME_SERVER_IMPL || '(unset)'} RUST_VOLUME_BINARY=${ctx.env.RUST_VOLUME_BINARY} WEED_BINARY=${ctx.env.WEED_BINARY} WEED_OFFSET_BYTES=${ctx.env.WEED_OFFSET_BYTES}`);

  const invocations = [];
  if (fatal) {
    console.log(`FATAL ${fatal}`);
    for (const t of selected) Object.assign(t, { status: 'fail', notRun: true, reason: `did not run: ${fatal}` });
  } else {
    for (const pkg of PACKAGES) {
      const ts = selected.filter((t) => t.pkg === pkg);
      if (!ts.length) continue;
      if (interrupted) break;
      invocations.push(...await runPackage(ctx, pkg, ts));
    }
    for (const t of selected) {
      if (!t.status) Object.assign(t, { status: 'fail', notRun: true, reason: interrupted ? 'did not run: interrupted' : 'did not run' });
    }
  }

  const gateFailures = selected.filter((t) => t.gated && t.status !== 'pass');
  const passed = selected.filter((t) => t.status === 'pass').length;
  const failed = selected.filter((t) => t.status === 'fail').length;
  const skipped = selected.filter((t) => t.status === 'skip').length;

  writeResults({ opts, cls, selected, invocations, runMeta, startedAt, fatal, gateFailures, passed, failed, skipped });

  printSummary(cls, selected, opts);
  if (gateFailures.length) {
    console.log(`GATE FAILED: ${gateFailures.length} gated test(s) did not pass: ${gateFailures.map((t) => `${t.name} (${t.notRun ? 'not run' : t.status})`).join(', ')}`);
  } else {
    const gatedRun = selected.filter((t) => t.gated).length;
    console.log(gatedRun ? `gate ok: ${gatedRun} gated test(s) passed` : 'gate ok: no gated test selected');
  }
  console.log(`results: ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'last-run.json')) || path.join(RESULTS_DIR, 'last-run.json')}`);
  const excl = cls.tests.filter((t) => t.excluded).length;
  console.log(`excluded: ${excl} tests (start only the Go volume server; never run, never counted — see excluded.json)`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (interrupted) return 130;
  return gateFailures.length || fatal ? 1 : 0;
}

function writeResults({ opts, cls, selected, invocations, runMeta, startedAt, fatal, gateFailures, passed, failed, skipped }) {
  const doc = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: opts.all ? 'all' : 'gated',
    filters: { family: opts.family, run: opts.run },
    ...runMeta,
    interrupted,
    fatal,
    totals: { selected: selected.length, passed, failed, skipped, excluded: cls.tests.filter((t) => t.excluded).length },
    gate: { ok: gateFailures.length === 0, failures: gateFailures.map((t) => t.name) },
    families: Object.fromEntries(summaryTable(cls, selected).map((r) => [r.fam, { pass: r.pass, fail: r.fail, skip: r.skip, total: r.total, gated: r.gated, gatedPass: r.gatedPass, failing: r.failing, skipped: r.skipped }])),
    invocations,
    tests: selected.map((t) => ({
      name: t.name, package: t.pkg, file: t.file, family: t.family, gated: t.gated, status: t.status,
      notRun: t.notRun || undefined, elapsedSec: t.elapsed, reason: t.reason || undefined,
      output: t.status === 'fail' ? excerpt(t.output).join('\n') : undefined,
    })),
    excluded: cls.tests.filter((t) => t.excluded).map((t) => ({ name: t.name, package: t.pkg, file: t.file, family: t.family, helpers: t.helpers, reason: t.excluded })),
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const tmp = path.join(RESULTS_DIR, `.last-run.${process.pid}.json`);
  fs.writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n');
  fs.renameSync(tmp, path.join(RESULTS_DIR, 'last-run.json'));
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) { killGroup(currentChild, 'SIGKILL'); removePathDir(); process.exit(130); }
    interrupted = true;
    process.stderr.write(`\nrun.mjs: ${sig}: stopping go test (process group) ...\n`);
    const child = currentChild;
    killGroup(child, 'SIGTERM');
    if (child) setTimeout(() => killGroup(child, 'SIGKILL'), 3000).unref();
  });
}

main().then((code) => { removePathDir(); process.exitCode = code; }, (err) => {
  killGroup(currentChild, 'SIGKILL');
  removePathDir();
  process.stderr.write(`run.mjs: ${err && err.stack || err}\n`);
  process.exitCode = 2;
});
