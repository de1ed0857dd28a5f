// URL path shapes of the fid routes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseUrlPath } from '../../../../plugins/read-write/http/url-path.js';

test('URL path shapes (Go: weed/server/common.go parseURLPath)', () => {
  assert.deepEqual(parseUrlPath('/3/01637037d6/cat.jpg'), { vid: '3', fid: '01637037d6', filename: 'cat.jpg', ext: '.jpg', volumeIdOnly: false });
  assert.deepEqual(parseUrlPath('/3/01637037d6.jpg'), { vid: '3', fid: '01637037d6', filename: '', ext: '.jpg', volumeIdOnly: false });
  assert.deepEqual(parseUrlPath('/3,01637037d6.jpg'), { vid: '3', fid: '01637037d6', filename: '', ext: '.jpg', volumeIdOnly: false });
  assert.deepEqual(parseUrlPath('/3,01637037d6_2'), { vid: '3', fid: '01637037d6_2', filename: '', ext: '', volumeIdOnly: false });
  assert.deepEqual(parseUrlPath('/metrics'), { vid: 'metrics', fid: '', filename: '', ext: '', volumeIdOnly: true });
  assert.equal(parseUrlPath('/a/b/c/d').vid, '');
});
