// The RPC ownership table and the plugin shape checks of core/plugins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PLUGIN_FAMILIES } from '../../../config/types.js';
import { volumeServerService } from '../../../core/grpc/proto-loader.js';
import { CORE_RPCS, FAMILY_RPCS, rpcOwner } from '../../../core/plugins/families.js';
import { checkPluginRpcs, checkPluginShape, PluginLoadError } from '../../../core/plugins/registry.js';

test('every VolumeServer RPC has exactly one owner and the owners cover all 49', () => {
  const rpcs = Object.keys(volumeServerService());
  assert.equal(rpcs.length, 49);
  for (const rpc of rpcs) assert.notEqual(rpcOwner(rpc), undefined, rpc);
  const owned = [...CORE_RPCS, ...Object.values(FAMILY_RPCS).flat()];
  assert.equal(owned.length, 49);
  assert.equal(new Set(owned).size, 49);
  assert.deepEqual([...owned].sort(), [...rpcs].sort());
});

test('plugin shape and RPC ownership checks reject broken plugins', () => {
  assert.throws(() => checkPluginShape('ec', null), PluginLoadError);
  assert.throws(() => checkPluginShape('ec', { name: 'tiering' }), /expected "ec"/);
  assert.throws(() => checkPluginShape('ec', { name: 'ec', http: 5 }), /http must be a function/);
  assert.equal(checkPluginShape('ec', { name: 'ec' }).name, 'ec');
  assert.throws(() => checkPluginRpcs('ec', { BatchDelete: async () => ({}) }), /does not own/);
  assert.throws(() => checkPluginRpcs('ec', { VolumeEcShardsInfo: 1 }), /not a function/);
  checkPluginRpcs('read-write', { BatchDelete: async () => ({}) });
  for (const f of PLUGIN_FAMILIES) assert.ok(FAMILY_RPCS[f].length > 0, f);
});
