// Readable logs: glog-like text lines on a terminal, JSON lines otherwise or when asked; and the
// one-line startup failures a newcomer meets (port in use, data directory not writable).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, formatTextLine, resolveLogFormat } from '../../../core/logging.js';
import { startupFailure } from '../../../core/startup-failure.js';

function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  w.isTTY = isTTY;
  w.text = () => text;
  return w;
}

test('log format: text on a terminal, JSON when not, the flag wins either way', () => {
  assert.equal(resolveLogFormat('', { isTTY: true }), 'text');
  assert.equal(resolveLogFormat('', { isTTY: false }), 'json');
  assert.equal(resolveLogFormat('json', { isTTY: true }), 'json');
  assert.equal(resolveLogFormat('text', { isTTY: false }), 'text');
});

test('text lines: level letter, month-day time, message, then key=value fields', async () => {
  const out = sink(true);
  const logger = createLogger({ level: 'info', format: '' }, out);
  logger.warn({ vid: 3, dir: '/data one', err: new Error('disk gone') }, 'mount failed');
  logger.info('plain');
  logger.debug({ x: 1 }, 'hidden at info');
  await new Promise((r) => setImmediate(r));
  const lines = out.text().trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^W\d{4} \d{2}:\d{2}:\d{2}\.\d{3} mount failed {2}vid=3 dir="\/data one" err="disk gone"$/);
  assert.match(lines[1], /^I\d{4} \d{2}:\d{2}:\d{2}\.\d{3} plain$/);
  assert.equal(formatTextLine('not json'), 'not json');
});

test('JSON lines when stdout is not a terminal: object fields and msg as pino writes them', async () => {
  const out = sink(false);
  createLogger({ level: 'info', format: '' }, out).info({ vid: 9 }, 'volume mounted');
  await new Promise((r) => setImmediate(r));
  const o = JSON.parse(out.text()) as Record<string, unknown>;
  assert.deepEqual([o.level, o.vid, o.msg, o.pid], [30, 9, 'volume mounted', process.pid]);
});

test('startup failures: port in use (fastify and grpc-js errors), data directory, anything else', () => {
  const cfg = { port: 8080, dirs: ['/srv/data'] };
  const http = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8080'), { code: 'EADDRINUSE', port: 8080 });
  assert.match(startupFailure(http, cfg).message, /^port 8080 is already in use: stop the other server/);
  const grpc = new Error('No address added out of total 1 resolved errors: [listen EADDRINUSE: address already in use 127.0.0.1:18080]');
  assert.match(startupFailure(grpc, cfg).message, /^port 18080 is already in use/);
  const dir = Object.assign(new Error("EACCES: permission denied, open '/srv/data/1.dat'"), { code: 'EACCES', path: '/srv/data/1.dat' });
  assert.match(startupFailure(dir, cfg).message, /^data directory \/srv\/data is not writable \(EACCES\)/);
  assert.deepEqual(startupFailure(new Error('boom'), cfg), { fields: { err: 'boom' }, message: 'failed to start' });
});
