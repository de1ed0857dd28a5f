// ReadAllNeedles: streams the needles of each requested volume in .dat order (Go's
// VolumeFileScanner4ReadAll): a record is sent when the needle map points at it, so an overwritten
// needle appears once, at its newest position. A missing volume aborts the stream after what was
// already sent, as Go.
import type * as grpc from '@grpc/grpc-js';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { crc32c, crcMatches, legacyMaskedCrc } from '../../../core/storage/crc32c.js';
import { decodeNeedle, isCompressed, parseNeedleHeader, type Needle } from '../../../core/storage/needle.js';
import { StorageError } from '../../../core/storage/storage-errors.js';
import { NEEDLE_HEADER_SIZE, NEEDLE_CHECKSUM_SIZE, needleBodyLength, readU32 } from '../../../core/storage/types.js';
import type { Volume } from '../../../core/storage/volume.js';
import { checks, plain, send } from './common.js';

const READ_CHUNK = 4 * 1024 * 1024;

/** Go's n.Checksum after ReadNeedleBody: the computed CRC if it verified, the stored one for no data. */
function scannedChecksum(n: Needle, record: Uint8Array): number {
  const stored = readU32(record, NEEDLE_HEADER_SIZE + n.size);
  if (n.data.length === 0) return stored;
  const crc = crc32c(n.data);
  return crcMatches(stored, crc) ? crc : 0;
}

/**
 * Walks the records of a volume's .dat from the first needle to the current end, calling `visit`
 * with each record and its offset.
 */
export async function scanVolumeRecords(
  v: Volume,
  visit: (record: Buffer, offset: number) => Promise<void>,
): Promise<void> {
  const version = v.version;
  let offset = v.superBlock.blockSize();
  let buf = Buffer.allocUnsafe(READ_CHUNK);
  let bufStart = offset;
  let bufLen = 0;
  const ensure = async (len: number): Promise<boolean> => {
    if (offset >= bufStart && offset + len <= bufStart + bufLen) return true;
    if (len > buf.length) buf = Buffer.allocUnsafe(len);
    bufStart = offset;
    bufLen = await v.readDataRange(buf, 0, buf.length, offset);
    return bufLen >= len;
  };
  for (;;) {
    if (!(await ensure(NEEDLE_HEADER_SIZE))) return; // end of file
    const h = parseNeedleHeader(buf, offset - bufStart);
    const recordSize = NEEDLE_HEADER_SIZE + needleBodyLength(h.size, version);
    if (h.size < 0 || recordSize <= 0) {
      throw new StorageError(
        'NEEDLE_CORRUPTED',
        `${v.fileName('.dat')}: needle header at offset ${offset} has size ${h.size}, record length ${recordSize}: needle data corrupted`,
      );
    }
    if (!(await ensure(recordSize))) return; // a torn record at the tail: nothing more to read
    const start = offset - bufStart;
    await visit(buf.subarray(start, start + recordSize), offset);
    offset += recordSize;
  }
}

async function streamOneVolume(v: Volume, call: grpc.ServerWritableStream<Msg, Msg>): Promise<void> {
  const version = v.version;
  await scanVolumeRecords(v, async (record, offset) => {
    const h = parseNeedleHeader(record);
    const nv = v.lookup(h.id);
    if (!nv || nv.offset !== offset) return;
    let n: Needle;
    try {
      n = decodeNeedle(record, version, { verifyCrc: false });
    } catch {
      return; // unparsable body: Go logs it and sends nothing useful either
    }
    if (record.length < NEEDLE_HEADER_SIZE + n.size + NEEDLE_CHECKSUM_SIZE) return;
    await send(call, {
      volume_id: v.id,
      needle_id: n.id.toString(),
      cookie: n.cookie >>> 0,
      needle_blob: Buffer.from(n.data),
      needle_blob_compressed: isCompressed(n),
      last_modified: n.lastModified,
      crc: legacyMaskedCrc(scannedChecksum(n, record)),
      name: Buffer.from(n.name),
      mime: Buffer.from(n.mime),
    });
  });
}

export function readAllRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  const { admin } = checks(cradle);
  return {
    ReadAllNeedles: async (call: Msg) => {
      admin(call);
      for (const raw of (call.request.volume_ids ?? []) as number[]) {
        const id = raw >>> 0;
        const v = store.findVolume(id);
        if (!v) throw plain(`not found volume id ${id}`);
        await streamOneVolume(v, call);
      }
    },
  };
}
