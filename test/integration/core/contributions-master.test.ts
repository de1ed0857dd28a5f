// A family's EC shards reach the real Go master through core's heartbeat: the EC heartbeat at
// connect carries what the family reports, and the deltas it announces (Go's NewEcShardsChan /
// DeletedEcShardsChan) change the master's count at once. The family is a contributor of our own
// registered in a real container; the master is the reference weed binary.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../../config/index.js';
import { buildContainer, type Cradle } from '../../../core/container.js';
import type { EcShardInformation } from '../../../core/storage/contributions.js';
import { cleanup, freePort, startMaster, tempDir, waitFor, type Master } from '../../helpers/processes.js';

function shards(id: number, bits: number): EcShardInformation {
  const sizes: string[] = [];
  for (let b = bits; b !== 0; b &= b - 1) sizes.push('1024');
  return {
    id,
    collection: 'ecc',
    ec_index_bits: bits,
    shard_sizes: sizes,
    disk_type: '',
    expire_at_sec: '0',
    disk_id: 0,
    file_count: '1',
    delete_count: '0',
    encode_ts_ns: '0',
  };
}

describe('EC shards contributed by a family reach the Go master', () => {
  let master: Master;
  let cradle: Cradle;
  let port: number;
  const dir = tempDir('ts-weed-contrib-master-');

  /** The EcShards count the master holds for our node (undefined before it registered us). */
  async function masterEcShards(): Promise<number | undefined> {
    const topo = (await (await fetch(`${master.url}/dir/status`)).json()) as {
      Topology: { DataCenters: { Racks: { DataNodes: { Url: string; EcShards: number }[] }[] }[] | null };
    };
    for (const dc of topo.Topology.DataCenters ?? []) {
      for (const rack of dc.Racks ?? []) for (const n of rack.DataNodes ?? []) if (n.Url === `127.0.0.1:${port}`) return n.EcShards;
    }
    return undefined;
  }

  before(async () => {
    master = await startMaster(100);
    port = await freePort();
    const config = loadConfig(['--dir', dir, '--max', '5', '--ip', '127.0.0.1', '--port', String(port), '--master', master.address], { HOME: dir });
    cradle = buildContainer(config, pino({ level: 'silent' })).cradle;
    await cradle.store.loadExistingVolumes();
  });

  after(async () => {
    await cradle?.masterClient.stop();
    await cradle?.store.close();
    cradle?.grpcClients.closeAll();
    await master?.stop('SIGKILL');
    cleanup(dir);
    if (master) cleanup(master.dir);
  });

  test('full EC heartbeat at connect, then new and deleted shard deltas', async () => {
    const mounted = new Map<number, number>([[7, 0b111]]);
    await cradle.contributions.register({
      family: 'ec',
      ecShards: () => [...mounted].map(([id, bits]) => shards(id, bits)),
    });
    cradle.masterClient.start();
    await waitFor(async () => (await masterEcShards()) === 3, 20_000, 'the master counting 3 shards from the EC heartbeat');

    mounted.set(9, 0b1);
    cradle.contributions.announceEcShardsAdded([shards(9, 0b1)]);
    await waitFor(async () => (await masterEcShards()) === 4, 10_000, 'the new_ec_shards delta');

    mounted.delete(7);
    cradle.contributions.announceEcShardsRemoved([shards(7, 0b111)]);
    await waitFor(async () => (await masterEcShards()) === 1, 10_000, 'the deleted_ec_shards delta');
    assert.equal(await masterEcShards(), 1);
  });
});
