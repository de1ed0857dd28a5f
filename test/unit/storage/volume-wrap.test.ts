import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxPossibleVolumeSize, wrappedOffset } from '../../../core/storage/types.js';

test('the 4-byte wrap-around retry applies only to 4-byte offsets below MaxPossibleVolumeSize', () => {
  const max4 = maxPossibleVolumeSize(4);
  assert.equal(max4, 32 * 1024 ** 3);
  assert.equal(wrappedOffset(4, 8), 8 + max4);
  assert.equal(wrappedOffset(4, max4 - 8), 2 * max4 - 8);
  assert.equal(wrappedOffset(4, max4), -1, 'an offset past the limit is already unwrapped');
  assert.equal(wrappedOffset(5, 8), -1, '5-byte offsets never wrap');
});
