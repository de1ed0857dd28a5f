// Query (Go: weed/server/volume_grpc_query.go): for each file id, reads the needle and, for JSON
// input, sends one stripe holding the records of the lines that pass the filter (`{score:12}` per
// line, concatenated). CSV input is accepted and answers nothing, as Go's. A bad fid or a missing
// volume or needle ends the stream with the error; a cookie that does not match ends it quietly
// (Go returns its nil error there), after whatever was already sent.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { plain, send } from '../../../core/grpc/rpc-support.js';
import { parseFid, parseVolumeId } from '../../../core/storage/file-id.js';
import type { Needle } from '../../../core/storage/needle.js';
import { CookieMismatchError } from '../../../core/storage/storage-errors.js';
import { forEachValue } from '../query/json-path.js';
import { byteString, queryLine, type JsonFilter } from '../query/json-query.js';

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
        let vid = 0;
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
        let n: Needle;
        try {
          n = await v.readNeedle(idCookie.id, { cookie: idCookie.cookie });
        } catch (e) {
          if (e instanceof CookieMismatchError) {
            log.info({ fid }, 'volume query: cookie mismatch');
            return;
          }
          log.info({ fid, err: (e as Error).message }, 'volume query failed to read fid');
          throw plain((e as Error).message);
        }
        const input = r.input_serialization;
        if (!input?.json_input) continue; // CSV (or nothing): no output, as Go
        const records: string[] = [];
        forEachValue(Buffer.from(n.data).toString('latin1'), (line) => {
          const rec = queryLine(line.raw, selections, filter);
          if (rec !== undefined) records.push(rec);
        });
        await send(call, { records: Buffer.from(records.join(''), 'latin1') });
      }
    },
  };
}
