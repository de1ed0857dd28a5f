// ReadNeedleBlob / WriteNeedleBlob: raw needle records by .dat offset, for replica repair.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { actualSize } from '../../../core/storage/types.js';
import type { Volume } from '../../../core/storage/volume.js';
import { checks, messageOf, plain } from './common.js';

/** Go's needle.ReadNeedleBlob: `actualSize(size)` bytes at `offset`; a short read is EOF. */
export async function readBlob(v: Volume, offset: number, size: number): Promise<Buffer> {
  if (size < 0) throw new Error(`invalid needle size ${size}`);
  if (offset < 0) throw new Error(`readat ${v.fileName('.dat')}: negative offset`);
  const len = actualSize(size, v.version);
  // never allocate for a range the file cannot hold (a bad offset/size pair is just EOF)
  if (offset + len > v.datFileSize()) throw new Error('EOF');
  const buf = Buffer.allocUnsafe(len);
  const got = await v.readDataRange(buf, 0, len, offset);
  if (got < len) throw new Error('EOF');
  return buf;
}

export function needleBlobRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  const { notInMaintenance } = checks(cradle);

  return {
    // No whitelist and no maintenance check, as Go.
    ReadNeedleBlob: async (call: Msg) => {
      const r = call.request;
      const id = r.volume_id >>> 0;
      const v = store.findVolume(id);
      if (!v) throw plain(`not found volume id ${id}`);
      const size = r.size | 0;
      try {
        return { needle_blob: await readBlob(v, Number(r.offset), size) };
      } catch (e) {
        throw plain(`read needle blob offset ${r.offset} size ${size}: ${messageOf(e)}`);
      }
    },

    // Maintenance is checked, the whitelist is not (Go).
    WriteNeedleBlob: async (call: Msg) => {
      notInMaintenance();
      const r = call.request;
      const id = r.volume_id >>> 0;
      const v = store.findVolume(id);
      if (!v) throw plain(`not found volume id ${id}`);
      const size = r.size | 0;
      try {
        await v.writeNeedleBlob(BigInt(r.needle_id), r.needle_blob ?? Buffer.alloc(0), size);
      } catch (e) {
        throw plain(`write blob needle ${r.needle_id} size ${size}: ${messageOf(e)}`);
      }
      return {};
    },
  };
}
