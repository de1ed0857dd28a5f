// A volume tiered without its local .dat is found by the disk scan through its .vif (the core
// change tiering relies on: Go finds volumes by .idx/.vif too); an EC volume's .vif, a .vif naming
// no remote file and a .vif beside a .dat are not counted twice or mistaken for one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DiskLocation } from '../../../../core/storage/disk-location.js';
import { emptyVolumeInfo, formatVolumeInfo } from '../../../../core/storage/volume-info.js';

test('scanVolumes lists .vif-only volumes that name a remote file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-weed-tierscan-'));
  try {
    const remote = emptyVolumeInfo();
    remote.version = 3;
    remote.files.push({ backendType: 's3', backendId: 'default', key: 'k', offset: 0, fileSize: 8, modifiedTime: 1, extension: '.dat' });
    writeFileSync(join(dir, 'c_7.vif'), formatVolumeInfo(remote));
    writeFileSync(join(dir, 'c_7.idx'), '');
    // tiered but the local .dat kept: found once, by its .dat
    writeFileSync(join(dir, '8.vif'), formatVolumeInfo(remote));
    writeFileSync(join(dir, '8.dat'), Buffer.alloc(8));
    // an EC volume's .vif (no remote files) is not a volume of its own
    const plain = emptyVolumeInfo();
    plain.version = 3;
    writeFileSync(join(dir, '9.vif'), formatVolumeInfo(plain));
    writeFileSync(join(dir, '9.ecx'), '');
    // an unreadable .vif is skipped
    writeFileSync(join(dir, '10.vif'), '{ not json');
    const loc = new DiskLocation({ directory: dir, idxDirectory: dir, maxVolumeCount: 8, diskType: '', minFreeSpace: { kind: 'percent', value: 1 }, tags: [], diskId: 0 });
    const found = (await loc.scanVolumes()).sort((a, b) => a.id - b.id);
    assert.deepEqual(found, [
      { collection: 'c', id: 7 },
      { collection: '', id: 8 },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
