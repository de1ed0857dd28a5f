// Small HTTP helpers of core: Go-style JSON and request ids.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goJsonStringify } from '../../../core/http/json.js';
import { newRequestId } from '../../../core/http/request-id.js';

test('Go-style JSON: escapes <>& and indents only when asked', () => {
  assert.equal(goJsonStringify({ a: '<b>&' }, false), '{"a":"\\u003cb\\u003e\\u0026"}');
  assert.equal(goJsonStringify({ a: 1 }, true), '{\n  "a": 1\n}');
});

test('request ids look like Go ones: uppercase hex, at least 16 chars, unique', () => {
  const a = newRequestId();
  const b = newRequestId();
  assert.match(a, /^[0-9A-F]{20,}$/);
  assert.notEqual(a, b);
});
