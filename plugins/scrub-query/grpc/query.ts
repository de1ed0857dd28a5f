// Query (Go: weed/server/volume_grpc_query.go): for each file id, reads the needle (in pieces,
// CRC-checked) and, for JSON input, sends one stripe holding the records of the lines that pass
// the filter (`{score:12}` per line, concatenated). CSV input is accepted and answers nothing, as Go's. A bad fid or a missing
// volume or needle ends the stream with the error; a cookie that does not match ends it quietly
// (Go returns its nil error there), after whatever was already sent.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { plain, send } from '../../../core/grpc/rpc-support.js';
import { parseFid, parseVolumeId } from '../../../core/storage/file-id.js';
import { crc32c, crcMatches } from '../../../core/storage/crc32c.js';
import type { NeedleMeta } from '../../../core/storage/needle.js';
import { CookieMismatchError, CrcMismatchError } from '../../../core/storage/storage-errors.js';
import { needleIdToHex } from '../../../core/storage/types.js';
import type { Volume } from '../../../core/storage/volume.js';
import { ValueStream } from '../query/json-path.js';
import { byteString, queryLine, type JsonFilter } from '../query/json-query.js';

const PIECE = 1024 * 1024;

/** Reads a needle's data in pieces (larger while a value stays open) and verifies its CRC at the end. */
async function readVerified(
  call: { cancelled: boolean },
  v: Volume,
  meta: NeedleMeta,
  onPiece: ((b: Buffer) => void) | undefined,
  pending: () => number,
): Promise<void> {
  if (meta.dataSize === 0) return;
  let crc = 0;
  for (let at = 0; at < meta.dataSize; ) {
    if (call.cancelled) throw plain('context canceled');
    const want = Math.min(Math.max(PIECE, pending()), meta.dataSize - at);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = await v.readDataRange(buf, got, want - got, meta.dataOffset + at + got);
      if (n === 0) throw plain('EOF');
      got += n;
    }
    crc = crc32c(buf, crc);
    onPiece?.(buf);
    at += want;
  }
  if (!crcMatches(meta.storedChecksum >>> 0, crc >>> 0)) {
    throw plain(new CrcMismatchError(needleIdToHex(meta.id), crc >>> 0, meta.storedChecksum >>> 0).message);
  }
}

export function queryRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, logger } = cradle;
  const log = logger.child({ family: 'scrub-query' });
  return {
    Query: async (call: Msg) => {
      const r = call.request;
      const filter: JsonFilter = {
        field: byteString(r.filter?.field ?? ''),
        op: r.filter?.operand ?? '',
        value: byteString(r.filter?.value ?? ''),
      };
      const selections = ((r.selections ?? []) as string[]).map(byteString);
      for (const fid of (r.from_file_ids ?? []) as string[]) {
        const comma = fid.indexOf(',');
        if (comma <= 0) {
          log.info({ fid }, 'volume query failed to parse fid');
          throw plain('Wrong fid format.');
        }
        let vid: number;
        try {
          vid = parseVolumeId(fid.slice(0, comma));
        } catch {
          vid = 0; // Go ignores the volume id's parse error and looks up volume 0
        }
        let idCookie: { id: bigint; cookie: number };
        try {
          idCookie = parseFid(fid.slice(comma + 1));
        } catch (e) {
          log.info({ fid, err: (e as Error).message }, 'volume query failed to parse fid');
          throw plain((e as Error).message);
        }
        const v = store.findVolume(vid);
        if (!v) throw plain(`volume ${vid} not found`);
        let meta: NeedleMeta;
        try {
          meta = await v.readNeedleMeta(idCookie.id, { cookie: idCookie.cookie });
        } catch (e) {
          if (e instanceof CookieMismatchError) {
            log.info({ fid }, 'volume query: cookie mismatch');
            return;
          }
          log.info({ fid, err: (e as Error).message }, 'volume query failed to read fid');
          throw plain((e as Error).message);
        }
        const input = r.input_serialization;
        const records: string[] = [];
        const lines = new ValueStream((line) => {
          const rec = queryLine(line.raw, selections, filter);
          if (rec !== undefined) records.push(rec);
        });
        // The data is read in pieces and checked against its CRC as Go's read does, before
        // anything is sent; only the records and the value open across a piece stay in memory.
        await readVerified(call, v, meta, input?.json_input ? (piece) => lines.push(piece.toString('latin1')) : undefined, () => lines.pending);
        if (!input?.json_input) continue; // CSV (or nothing): no output, as Go
        lines.finish();
        await send(call, { records: Buffer.from(records.join(''), 'latin1') });
      }
    },
  };
}
