// Content-type helpers of the read and upload paths: Go's TypeByExtension (built-ins + host
// database), DetectContentType, FormatMediaType, filepath.Ext/Base, ParseBool, canonical header keys.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contentDisposition, formatMediaType } from '../../plugins/read-write/http/media-type.js';
import {
  buildMimeTable,
  buildWeedMimeTable,
  canonicalHeaderKey,
  detectContentType,
  goBase,
  goExt,
  headerSafe,
  parseGoBool,
  toByteString,
  typeByExtension,
} from '../../plugins/read-write/http/mime.js';

const GLOBS2 = [
  '# comment line',
  '50:text/markdown:*.md',
  '50:text/x-c++src:*.C',
  '50:text/x-csrc:*.c',
  '50:application/x-yaml:*.yaml',
  '50:image/png:*.png', // built-ins win
  '40:text/plain:*.md', // lower weight, already seen: ignored
  '50:application/x-glob:*.[ab]', // glob syntax: ignored
  '50:application/x-core:core', // not *.ext: ignored
].join('\n');

describe('typeByExtension', () => {
  test('built-in table without any host database', () => {
    const t = buildMimeTable(() => undefined);
    assert.equal(typeByExtension('.txt', t), 'text/plain; charset=utf-8');
    assert.equal(typeByExtension('.TXT', t), 'text/plain; charset=utf-8');
    assert.equal(typeByExtension('.jpg', t), 'image/jpeg');
    assert.equal(typeByExtension('.JPG', t), 'image/jpeg');
    assert.equal(typeByExtension('.json', t), 'application/json');
    assert.equal(typeByExtension('.css', t), 'text/css; charset=utf-8');
    assert.equal(typeByExtension('.md', t), '');
    assert.equal(typeByExtension('', t), '');
  });

  test('a globs2 database: first entry wins, text types get utf-8, case-sensitive first', () => {
    const t = buildMimeTable((p) => (p === '/usr/share/mime/globs2' ? GLOBS2 : undefined));
    assert.equal(typeByExtension('.md', t), 'text/markdown; charset=utf-8');
    assert.equal(typeByExtension('.yaml', t), 'application/x-yaml');
    assert.equal(typeByExtension('.png', t), 'image/png');
    assert.equal(typeByExtension('.C', t), 'text/x-c++src; charset=utf-8');
    assert.equal(typeByExtension('.c', t), 'text/x-csrc; charset=utf-8');
    assert.equal(typeByExtension('.a', t), '');
  });

  test("the weed binary's own entries win over the builtin table and the host database", () => {
    const t = buildWeedMimeTable((p) => (p === '/usr/share/mime/globs2' ? GLOBS2 : undefined));
    assert.equal(typeByExtension('.webm', t), 'video/webm');
    assert.equal(typeByExtension('.xml', t), 'application/xml');
    assert.equal(typeByExtension('.js', t), 'application/javascript');
    assert.equal(typeByExtension('.csv', t), 'text/csv; charset=utf-8');
    assert.equal(typeByExtension('.md', t), 'text/markdown; charset=utf-8');
    assert.equal(typeByExtension('.c', t), 'text/x-c; charset=utf-8');
    assert.equal(typeByExtension('.C', t), 'text/x-c++src; charset=utf-8'); // case-sensitive entry first
    assert.equal(typeByExtension('.yaml', t), 'text/yaml; charset=utf-8');
    assert.equal(typeByExtension('.tar', buildWeedMimeTable(() => undefined)), 'application/x-tar');
    assert.equal(typeByExtension('.mp4', buildWeedMimeTable(() => undefined)), 'video/mp4');
  });

  test('mime.types files are used only when no globs2 exists', () => {
    const mimeTypes = 'text/markdown md markdown\napplication/x-tar tar # trailing\n# x/y z\n';
    const t = buildMimeTable((p) => (p === '/etc/mime.types' ? mimeTypes : undefined));
    assert.equal(typeByExtension('.markdown', t), 'text/markdown; charset=utf-8');
    assert.equal(typeByExtension('.tar', t), 'application/x-tar');
    assert.equal(typeByExtension('.z', t), '');
    const both = buildMimeTable((p) => (p === '/etc/mime.types' ? mimeTypes : p === '/usr/share/mime/globs2' ? GLOBS2 : undefined));
    assert.equal(typeByExtension('.tar', both), '');
  });
});

describe('detectContentType (values from Go http.DetectContentType)', () => {
  const cases: [string, string][] = [
    ['hello world', 'text/plain; charset=utf-8'],
    ['<html><body>', 'text/html; charset=utf-8'],
    ['  <!DOCTYPE html>x', 'text/html; charset=utf-8'],
    ['<?xml version', 'text/xml; charset=utf-8'],
    ['%PDF-1.4', 'application/pdf'],
    ['\x89PNG\r\n\x1a\nxxxx', 'image/png'],
    ['\xff\xd8\xff\xe0', 'image/jpeg'],
    ['GIF89a...', 'image/gif'],
    ['\x1f\x8b\x08\x00', 'application/x-gzip'],
    ['PK\x03\x04', 'application/zip'],
    ['\x00\x01\x02', 'application/octet-stream'],
    ['RIFF\x00\x00\x00\x00WEBPVP8 ', 'image/webp'],
    ['\xef\xbb\xbfabc', 'text/plain; charset=utf-8'],
    ['{"a":1}', 'text/plain; charset=utf-8'],
    ['<p>hi</p>', 'text/html; charset=utf-8'],
    ['<pb', 'text/plain; charset=utf-8'],
    ['\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom', 'video/mp4'],
    ['ID3\x03', 'audio/mpeg'],
    ['OggS\x00', 'application/ogg'],
    ['\x00asm\x01', 'application/wasm'],
  ];
  for (const [input, want] of cases) {
    test(JSON.stringify(input), () => assert.equal(detectContentType(Buffer.from(input, 'latin1')), want));
  }

  test('only the first 512 bytes count', () => {
    const data = Buffer.alloc(600, 0x61);
    data[550] = 0;
    assert.equal(detectContentType(data), 'text/plain; charset=utf-8');
    data[100] = 0;
    assert.equal(detectContentType(data), 'application/octet-stream');
  });
});

describe('formatMediaType (values from Go mime.FormatMediaType)', () => {
  const cases: [string, string][] = [
    ['hello.txt', 'inline; filename=hello.txt'],
    ['my file.txt', 'inline; filename="my file.txt"'],
    ['a,b', 'inline; filename="a,b"'],
    [toByteString('文件.txt'), "inline; filename*=utf-8''%E6%96%87%E4%BB%B6.txt"],
    ['q"uote', 'inline; filename="q\\"uote"'],
    ['back\\slash', 'inline; filename="back\\\\slash"'],
    ['tab\tx', 'inline; filename="tab\tx"'],
    ['3,01637037d6', 'inline; filename="3,01637037d6"'],
    ['a*b', 'inline; filename=a*b'],
    ["a'b", "inline; filename=a'b"],
    ['a%b', 'inline; filename=a%b'],
  ];
  for (const [name, want] of cases) {
    test(JSON.stringify(name), () => assert.equal(formatMediaType('inline', { filename: name }), want));
  }

  test('contentDisposition agrees with formatMediaType', () => {
    for (const [name] of cases) {
      assert.equal(contentDisposition('inline', name), formatMediaType('inline', { filename: name }), name);
      assert.equal(contentDisposition('attachment', name), formatMediaType('attachment', { filename: name }), name);
    }
  });

  test('attachment, sorted params, bad type', () => {
    assert.equal(formatMediaType('Attachment', { filename: 'x.bin' }), 'attachment; filename=x.bin');
    assert.equal(formatMediaType('text/plain', { charset: 'utf-8', b: 'c' }), 'text/plain; b=c; charset=utf-8');
    assert.equal(formatMediaType('in line', { filename: 'x' }), '');
  });
});

describe('small Go helpers', () => {
  test('filepath.Ext', () => {
    assert.equal(goExt('cat.jpg'), '.jpg');
    assert.equal(goExt('archive.tar.gz'), '.gz');
    assert.equal(goExt('.bashrc'), '.bashrc');
    assert.equal(goExt('noext'), '');
    assert.equal(goExt('dir.d/file'), '');
    assert.equal(goExt('file.'), '.');
  });

  test('path.Base', () => {
    for (const [p, want] of [['', '.'], ['/', '/'], ['//', '/'], ['a', 'a'], ['a/b', 'b'], ['a/b//', 'b'], ['/x.jpg', 'x.jpg'], ['a\\b', 'a\\b']]) {
      assert.equal(goBase(p), want, p);
    }
  });

  test('strconv.ParseBool', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(t), true, t);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(f), false, f);
    for (const x of ['', 'yes', 'tRUE', '2']) assert.equal(parseGoBool(x), undefined, x);
  });

  test('canonical header keys', () => {
    assert.equal(canonicalHeaderKey('foo-bar'), 'Foo-Bar');
    assert.equal(canonicalHeaderKey('X-AMZ-META-x'), 'X-Amz-Meta-X');
    assert.equal(canonicalHeaderKey('content-md5'), 'Content-Md5');
    assert.equal(canonicalHeaderKey('bad key'), 'bad key');
  });

  test('byte strings and header-safe values', () => {
    assert.equal(toByteString('abc'), 'abc');
    assert.equal(toByteString('é'), '\xc3\xa9');
    assert.equal(headerSafe('a\r\nb'), 'a  b');
    assert.equal(headerSafe('tab\tok'), 'tab\tok');
  });
});
