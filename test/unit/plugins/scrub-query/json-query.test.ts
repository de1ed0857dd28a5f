// Query's JSON side (plugins/scrub-query/query): the values of a text one after the other, paths,
// Go's filter rules per value type and the record form Go writes (`{score:12}`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValueStream, forEachValue, getPath } from '../../../../plugins/scrub-query/query/json-path.js';
import { byteString, queryLine, type JsonFilter } from '../../../../plugins/scrub-query/query/json-query.js';

/** Runs a query over a whole text as the RPC does, returning the stripe as UTF-8. */
function run(text: string, selections: string[], f: Partial<JsonFilter>): string {
  const filter = { field: byteString(f.field ?? ''), op: f.op ?? '', value: byteString(f.value ?? '') };
  const out: string[] = [];
  forEachValue(Buffer.from(text, 'utf8').toString('latin1'), (line) => {
    const r = queryLine(line.raw, selections.map(byteString), filter);
    if (r !== undefined) out.push(r);
  });
  return Buffer.from(out.join(''), 'latin1').toString('utf8');
}

test('numbers compare as numbers; the record keeps the raw value', () => {
  const lines = '{"score":3}\n{"score":12}\n{"score":18}\n';
  assert.equal(run(lines, ['score'], { field: 'score', op: '>', value: '10' }), '{score:12}{score:18}');
  assert.equal(run(lines, ['score'], { field: 'score', op: '>', value: '100' }), '');
  assert.equal(run(lines, ['score'], { field: 'score', op: '<=', value: '12' }), '{score:3}{score:12}');
  assert.equal(run(lines, ['score'], { field: 'score', op: '=', value: '12.0' }), '{score:12}');
  assert.equal(run(lines, ['score'], { field: 'score', op: '!=', value: '12' }), '{score:3}{score:18}');
  // a value that does not parse as a number compares as 0, as Go's ignored ParseFloat error
  assert.equal(run(lines, ['score'], { field: 'score', op: '>=', value: 'abc' }), '{score:3}{score:12}{score:18}');
  assert.equal(run('{"n":1.5e1}', ['n'], { field: 'n', op: '=', value: '15' }), '{n:1.5e1}');
});

test('strings compare byte-wise (Go string order, not UTF-16 order) after unescaping', () => {
  const lines = '{"v":"9"}\n{"v":"10"}\n{"v":"a\\"b"}\n';
  assert.equal(run(lines, ['v'], { field: 'v', op: '>', value: '10' }), '{v:"9"}{v:"a\\"b"}');
  assert.equal(run(lines, ['v'], { field: 'v', op: '=', value: 'a"b' }), '{v:"a\\"b"}');
  // U+1F600 is F0 9F 98 80 in UTF-8, above U+FFFD's EF BF BD; in UTF-16 it sorts below
  assert.equal(run('{"e":"\u{1F600}"}', ['e'], { field: 'e', op: '>', value: '\uFFFD' }), '{e:"\u{1F600}"}');
  assert.equal(run('{"e":"\\ud83d\\ude00"}', ['e'], { field: 'e', op: '=', value: '\u{1F600}' }), '{e:"\\ud83d\\ude00"}');
  assert.equal(run('{"s":"hello world"}', ['s'], { field: 's', op: '%', value: 'hel*w?rld' }), '{s:"hello world"}');
  assert.equal(run('{"s":"hello world"}', ['s'], { field: 's', op: '!%', value: 'hel*' }), '');
});

test('booleans and null follow Go filterJson', () => {
  const t = '{"ok":true}';
  const f = '{"ok":false}';
  assert.equal(run(t, ['ok'], { field: 'ok', op: '=', value: 'true' }), '{ok:true}');
  assert.equal(run(t, ['ok'], { field: 'ok', op: '>', value: 'false' }), '{ok:true}');
  assert.equal(run(t, ['ok'], { field: 'ok', op: '>=', value: 'anything' }), '{ok:true}');
  assert.equal(run(t, ['ok'], { field: 'ok', op: '<', value: 'true' }), '');
  assert.equal(run(f, ['ok'], { field: 'ok', op: '<', value: 'true' }), '{ok:false}');
  assert.equal(run(f, ['ok'], { field: 'ok', op: '!=', value: 'true' }), '{ok:false}');
  // null exists: it passes an empty operator and no comparison
  assert.equal(run('{"x":null}', ['x'], { field: 'x' }), '{x:null}');
  assert.equal(run('{"x":null}', ['x'], { field: 'x', op: '=', value: 'null' }), '');
  // objects and arrays pass only the empty operator
  assert.equal(run('{"o":{"a":1}}', ['o'], { field: 'o', op: '=', value: '{"a":1}' }), '');
  assert.equal(run('{"o":{"a":1}}', ['o'], { field: 'o' }), '{o:{"a":1}}');
});

test('a missing filter field drops the line; a missing selection is written empty', () => {
  const lines = '{"name":"x","n":1}\n{"n":2}\n';
  assert.equal(run(lines, ['name', 'missing'], { field: 'name' }), '{name:"x",missing:}');
  assert.equal(run(lines, ['n'], {}), ''); // the empty path names no field
  assert.equal(run(lines, [], { field: 'n', op: '>', value: '0' }), '{}{}');
});

test('nested paths, array indexes and lengths, wildcards and escaped dots', () => {
  const doc = '{"a":{"b":{"c":5}},"tags":["x","y",{"k":[1,2,3]}],"a.b":"dotted","name":"n1"}';
  assert.equal(run(doc, ['a.b.c', 'name'], { field: 'a.b.c', op: '>=', value: '5' }), '{a.b.c:5,name:"n1"}');
  assert.equal(getPath(doc, 'tags.1').raw, '"y"');
  assert.equal(getPath(doc, 'tags.#').raw, '3');
  assert.equal(getPath(doc, 'tags.2.k.#').raw, '3');
  assert.equal(getPath(doc, 'tags.2.k.2').raw, '3');
  assert.equal(getPath(doc, 'tags.7').raw, '');
  assert.equal(getPath(doc, 'a\\.b').raw, '"dotted"');
  assert.equal(getPath(doc, 'na*').raw, '"n1"');
  assert.equal(getPath(doc, 'a.b').raw, '{"c":5}');
});

test('values are walked as gjson ForEachLine does: across newlines, skipping separators', () => {
  const text = '\n  {\n "score": 7,\n "s": "a}b" }\n\n{"score":8}, {"score":9}\n"bare"\n42\n';
  assert.equal(run(text, ['score'], { field: 'score', op: '>', value: '0' }), '{score:7}{score:8}{score:9}');
  const seen: string[] = [];
  forEachValue(text, (v) => seen.push(v.type));
  assert.deepEqual(seen, ['json', 'json', 'json', 'string', 'number']);
});

test('values arriving in pieces give the same records wherever the text is cut', () => {
  const text = Buffer.from(
    '{"score":12,"s":"a\\"}b","t":true}\n{"score":7}\n  {"n":null,"score":1e2}\n"str"\n-3.5\n{"score":"x\u{1F600}"}\nfalse\n{"score":44}',
    'utf8',
  ).toString('latin1');
  const collect = (pieces: string[]) => {
    const out: string[] = [];
    const vs = new ValueStream((v) => out.push(`${v.type}:${v.raw}`));
    for (const p of pieces) vs.push(p);
    vs.finish();
    return out;
  };
  const whole = collect([text]);
  assert.equal(whole.length, 8);
  for (let cut = 0; cut <= text.length; cut++) {
    assert.deepEqual(collect([text.slice(0, cut), text.slice(cut)]), whole, `cut at ${cut}`);
  }
  assert.deepEqual(collect(text.split('')), whole);
});
