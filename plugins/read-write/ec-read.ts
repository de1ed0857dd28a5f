// Needles of an EC volume mounted here, read through core's EcVolumeAccess (Go's ReadEcShardNeedle,
// weed/storage/store_ec.go): located in the .ecx (a journalled delete is Go's ErrorDeleted, an id
// not there its erasure_coding.NotFoundError), the record's bytes from the shards (peers and
// reconstruction behind readDat), parsed and CRC-checked. Big needles are read as metadata plus a
// data reader, so a download streams instead of holding the whole record.
import type { EcNeedleLocation, EcVolumeAccess } from '../../core/storage/ec-volume-access.js';
import { decodeNeedle, decodeNeedleMeta, META_PREFIX_LENGTH, metaTailLength, parseNeedleHeader, type Needle, type NeedleMeta } from '../../core/storage/needle.js';
import { NeedleDeletedError, NeedleNotFoundError, SizeMismatchError, StorageError } from '../../core/storage/storage-errors.js';
import { actualSize, NEEDLE_HEADER_SIZE, needleIdToHex, type NeedleId, type Size } from '../../core/storage/types.js';
import type { Version } from '../../core/storage/types.js';

/** What an EC needle read carries: the needle and where its record lies. */
export interface EcNeedleRead<N extends Needle = Needle> {
  needle: N;
  offset: number;
  size: Size;
  /** Bytes of the whole record (what Go's ReadEcShardNeedle counts). */
  recordLength: number;
}

/** Go's LocateEcShardNeedle: the index entry, not-found and deleted as typed errors. */
export async function locateEcNeedle(ec: EcVolumeAccess, id: NeedleId): Promise<EcNeedleLocation> {
  const loc = await ec.findNeedle(id);
  if (!loc) throw new NeedleNotFoundError('locate in local ec volume: needle not found');
  if (loc.size < 0) throw new NeedleDeletedError();
  return loc;
}

/** Bytes of the logical .dat; a failure that is not a holder's "deleted" reads as Go's ReadEcShardIntervals error. */
async function datBytes(ec: EcVolumeAccess, offset: number, length: number, id: NeedleId, signal?: AbortSignal): Promise<Buffer> {
  try {
    return await ec.readDat(offset, length, { needleId: id, signal });
  } catch (e) {
    if (e instanceof StorageError || signal?.aborted) throw e;
    throw new Error(`ReadEcShardIntervals: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function wrapParseError(ec: EcVolumeAccess, id: NeedleId, loc: EcNeedleLocation, e: unknown): never {
  if (e instanceof StorageError && (e.code === 'NEEDLE_DELETED' || e.code === 'NEEDLE_NOT_FOUND')) throw e;
  const reason = e instanceof Error ? e.message : String(e);
  throw new StorageError('NEEDLE_CORRUPTED', `ec volume ${ec.id} needle ${needleIdToHex(id)} offset ${loc.offset} size ${loc.size}: ${reason}`, { cause: e });
}

/** The whole needle (Go's ReadEcShardNeedle then ReadBytes), CRC verified. */
export async function readEcNeedle(ec: EcVolumeAccess, id: NeedleId, signal?: AbortSignal, loc?: EcNeedleLocation): Promise<EcNeedleRead> {
  const at = loc ?? (await locateEcNeedle(ec, id));
  const version = ec.version as Version;
  const recordLength = actualSize(at.size, version);
  const bytes = await datBytes(ec, at.offset, recordLength, id, signal);
  try {
    return { needle: decodeNeedle(bytes, version, { expectedSize: at.size }), offset: at.offset, size: at.size, recordLength };
  } catch (e) {
    const rebuilt = await rebuildEcNeedle(ec, id, at, recordLength, signal);
    if (rebuilt) return { needle: rebuilt, offset: at.offset, size: at.size, recordLength };
    wrapParseError(ec, id, at, e);
  }
}

/**
 * The small-read fast path's readEcNeedle: the needle when it is in the index, not deleted, of at
 * most `limit` record bytes, every byte on a shard mounted here, and it parses with its CRC, all
 * with synchronous reads. Undefined otherwise (no error is thrown): readEcNeedle then answers.
 */
export function readEcNeedleSync(ec: EcVolumeAccess, id: NeedleId, limit: number): Needle | undefined {
  if (!ec.findNeedleSync || !ec.readDatLocalSync) return undefined;
  try {
    const at = ec.findNeedleSync(id);
    if (!at || at.size <= 0) return undefined;
    const version = ec.version as Version;
    const recordLength = actualSize(at.size, version);
    if (recordLength > limit) return undefined;
    const bytes = ec.readDatLocalSync(at.offset, recordLength);
    if (!bytes) return undefined;
    return decodeNeedle(bytes, version, { expectedSize: at.size });
  } catch {
    return undefined;
  }
}

/**
 * Go's rebuildEcShardNeedle: bytes that failed to parse may come from a silently corrupt shard, so
 * each shard that served an interval is a suspect. With parity enough, one read rebuilds every
 * suspect's intervals from the other shards; when that fails to parse, a second corrupt shard may
 * have fed the rebuild, so each other shard is left out in turn as well (Go's
 * rebuildEcNeedleFromDroppedInputs); last, one suspect at a time is rebuilt. A candidate counts
 * only when it parses, CRC included, as the needle asked for. A holder's "deleted" answer ends the
 * search. At most 1 + total + suspects reads, and only for a needle that failed to parse.
 */
async function rebuildEcNeedle(ec: EcVolumeAccess, id: NeedleId, at: EcNeedleLocation, recordLength: number, signal?: AbortSignal): Promise<Needle | undefined> {
  const suspects = [...new Set(ec.locate(at.offset, recordLength).map((iv) => iv.shardId))];
  const total = ec.dataShards + ec.parityShards;
  const hypotheses: number[][] = [];
  if (suspects.length <= ec.parityShards) hypotheses.push(suspects);
  if (suspects.length < ec.parityShards) {
    for (let d = 0; d < total; d++) if (!suspects.includes(d)) hypotheses.push([...suspects, d]);
  }
  if (suspects.length > 1 || hypotheses.length === 0) for (const s of suspects) hypotheses.push([s]);
  for (const exclude of hypotheses) {
    let bytes: Buffer;
    try {
      bytes = await ec.readDat(at.offset, recordLength, { needleId: id, signal, exclude });
    } catch (e) {
      if ((e instanceof StorageError && e.code === 'NEEDLE_DELETED') || signal?.aborted) throw e;
      continue;
    }
    try {
      const n = decodeNeedle(bytes, ec.version as Version, { expectedSize: at.size });
      if (n.id === id) return n;
    } catch {
      // not this hypothesis
    }
  }
  return undefined;
}

/**
 * The needle without its data (header, DataSize and the fields after the data): `dataOffset` is
 * the data's offset in the logical .dat, to be read with ecDataReader. Version 2/3 only.
 */
export async function readEcNeedleMeta(ec: EcVolumeAccess, id: NeedleId, signal?: AbortSignal, loc?: EcNeedleLocation): Promise<EcNeedleRead<NeedleMeta>> {
  const at = loc ?? (await locateEcNeedle(ec, id));
  const version = ec.version as Version;
  const recordLength = actualSize(at.size, version);
  if (version === 1 || at.size === 0) {
    const whole = await readEcNeedle(ec, id, signal, at);
    const meta = whole.needle as NeedleMeta;
    meta.dataOffset = at.offset + NEEDLE_HEADER_SIZE;
    meta.storedChecksum = meta.checksum;
    return { ...whole, needle: meta };
  }
  const prefix = await datBytes(ec, at.offset, META_PREFIX_LENGTH, id, signal);
  let dataSize: number;
  let tailLen: number;
  try {
    const h = parseNeedleHeader(prefix);
    if (h.size !== at.size) throw new SizeMismatchError();
    dataSize = prefix.readUInt32BE(NEEDLE_HEADER_SIZE);
    tailLen = metaTailLength(at.size, dataSize, version);
    if (tailLen < 0 || tailLen > 128 * 1024) throw new StorageError('NEEDLE_CORRUPTED', `invalid needle meta size ${tailLen}: DataSize=${dataSize}, size=${at.size}`);
  } catch (e) {
    wrapParseError(ec, id, at, e);
  }
  const tail = await datBytes(ec, at.offset + META_PREFIX_LENGTH + dataSize, tailLen, id, signal);
  try {
    return { needle: decodeNeedleMeta(prefix, tail, version, at.offset, at.size), offset: at.offset, size: at.size, recordLength };
  } catch (e) {
    wrapParseError(ec, id, at, e);
  }
}

/** Reads data ranges of a needle from the logical .dat (the shape the streaming download uses). */
export function ecDataReader(ec: EcVolumeAccess, id: NeedleId, signal?: AbortSignal) {
  return {
    async readDataRange(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
      const data = await datBytes(ec, position, length, id, signal);
      buf.set(data, offset);
      return data.length;
    },
  };
}

/**
 * Go's DeleteEcShardNeedle: the needle must be readable (deleted and not-found as typed errors), a
 * non-zero `cookie` must match it, then the volume journals the delete here and on the holder
 * peers read it from. Answers the record's length, what Go counts.
 */
export async function deleteEcNeedle(ec: EcVolumeAccess, id: NeedleId, cookie: number, signal?: AbortSignal): Promise<number> {
  const read = await readEcNeedleMeta(ec, id, signal);
  if (cookie !== 0 && cookie >>> 0 !== read.needle.cookie >>> 0) throw new Error(`unexpected cookie ${(cookie >>> 0).toString(16)}`);
  await ec.deleteNeedle(id);
  return read.recordLength;
}
