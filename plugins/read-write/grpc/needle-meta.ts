// ReadNeedleMeta: a needle's metadata read at a given .dat offset and index size (no data), the
// CRC in Go's legacy transformed form.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { legacyMaskedCrc } from '../../../core/storage/crc32c.js';
import { META_PREFIX_LENGTH, decodeNeedle, decodeNeedleMeta, hasTtl, parseNeedleHeader, type Needle } from '../../../core/storage/needle.js';
import { SizeMismatchError } from '../../../core/storage/storage-errors.js';
import { NEEDLE_HEADER_SIZE, actualSize, maxPossibleVolumeSize, needleIdToHex, readU32 } from '../../../core/storage/types.js';
import type { Volume } from '../../../core/storage/volume.js';
import { plain } from './common.js';

async function readRange(v: Volume, len: number, position: number): Promise<Buffer> {
  if (position < 0) throw new Error(`readat ${v.fileName('.dat')}: negative offset`);
  if (position + len > v.datFileSize()) throw new Error('EOF');
  const buf = Buffer.allocUnsafe(len);
  if ((await v.readDataRange(buf, 0, len, position)) < len) throw new Error('EOF');
  return buf;
}

/** Go's Needle.ReadNeedleMeta at one offset (size 0 = a tombstone or empty needle). */
async function readMetaOnce(v: Volume, offset: number, size: number): Promise<Needle> {
  if (v.version === 1) {
    const n = decodeNeedle(await readRange(v, actualSize(size, 1), offset), 1, { verifyCrc: false });
    if (n.size !== size) throw new SizeMismatchError();
    return n;
  }
  const prefix = await readRange(v, META_PREFIX_LENGTH, offset);
  const h = parseNeedleHeader(prefix);
  if (h.size !== size) {
    if (v.offsetWidth === 4 && offset < maxPossibleVolumeSize(4)) throw new SizeMismatchError();
    throw new Error(`size mismatch for entry at offset ${offset}: found id ${needleIdToHex(h.id)} size ${h.size}, expected size ${size}`);
  }
  const dataSize = readU32(prefix, NEEDLE_HEADER_SIZE);
  const start = size > 0 ? offset + META_PREFIX_LENGTH + dataSize : offset + NEEDLE_HEADER_SIZE;
  const stop = offset + actualSize(size, v.version);
  const metaSize = stop - start;
  if (metaSize < 0 || metaSize > 128 * 1024) {
    throw new Error(`invalid needle meta size ${metaSize}: DataSize=${dataSize}, size=${size}, offset=${offset}`);
  }
  const tail = await readRange(v, metaSize, start);
  return decodeNeedleMeta(prefix, tail, v.version, offset);
}

export async function readNeedleMetaAt(v: Volume, offset: number, size: number): Promise<Needle> {
  if (size < 0) size = 0; // a deleted entry: read the tombstone's metadata
  try {
    return await readMetaOnce(v, offset, size);
  } catch (e) {
    if (!(e instanceof SizeMismatchError) || v.offsetWidth !== 4) throw e;
    return readMetaOnce(v, offset + maxPossibleVolumeSize(4), size);
  }
}

export function needleMetaRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  return {
    // No whitelist and no maintenance check, as Go.
    ReadNeedleMeta: async (call: Msg) => {
      const r = call.request;
      const id = r.volume_id >>> 0;
      const v = store.findVolume(id);
      if (!v) throw plain(`not found volume id ${id} and read needle metadata at ec shards is not supported`);
      let n: Needle;
      try {
        n = await readNeedleMetaAt(v, Number(r.offset), r.size | 0);
      } catch (e) {
        throw plain((e as Error).message);
      }
      return {
        cookie: n.cookie >>> 0,
        last_modified: n.lastModified,
        crc: legacyMaskedCrc(n.checksum >>> 0),
        ttl: hasTtl(n) ? n.ttl.toString() : '',
        append_at_ns: n.appendAtNs.toString(),
      };
    },
  };
}
