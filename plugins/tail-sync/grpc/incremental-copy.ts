// VolumeIncrementalCopy: the .dat bytes appended after since_ns (Go's VolumeIncrementalCopy, the
// since_ns form: `weed backup` appends them to its copy and indexes them by scanning). since_ns 0
// sends every record the published index rows cover, so a record still being written is never
// sent without its row. A compaction during the copy is reported instead of sending a mix.
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { vsError } from '../../../core/errors.js';
import { BUFFER_SIZE_LIMIT, messageOf, plain, send, u64, volumeIdOf } from './common.js';
import { binarySearchByAppendAtNs, datSizeCoveredByIndex } from './volume-index.js';

/** Go's ErrIncrementalCopyDiverged (a FailedPrecondition status in Go). */
const DIVERGED = 'local copy diverged from the replica';

export function incrementalCopyRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  return {
    VolumeIncrementalCopy: async (call: Msg) => {
      const id = volumeIdOf(call.request.volume_id);
      const v = store.findVolume(id);
      if (!v) throw plain(`not found volume id ${id}`);
      const sinceNs = u64(call.request.since_ns);

      const revision = v.superBlock.compactionRevision;
      let stopOffset = v.datFileSize();
      const stopIndex = v.idxFileSize();
      if (sinceNs === 0n) {
        let end: number;
        try {
          end = await datSizeCoveredByIndex(v, stopIndex);
        } catch (e) {
          throw plain(`fail to bound data by covered index: ${messageOf(e)}`);
        }
        if (end > 0 && end < stopOffset) stopOffset = end;
      }

      let found: { offset: number; isLast: boolean };
      try {
        found = await binarySearchByAppendAtNs(v, sinceNs);
      } catch (e) {
        throw plain(`fail to locate by appendAtNs ${sinceNs}: ${messageOf(e)}`);
      }
      if (found.isLast) return;

      const buf = Buffer.allocUnsafe(BUFFER_SIZE_LIMIT);
      for (let pos = found.offset; pos < stopOffset; ) {
        const want = Math.min(buf.length, stopOffset - pos);
        const n = await v.readDataRange(buf, 0, want, pos);
        await send(call, { file_content: Buffer.from(buf.subarray(0, n)) });
        if (n < want) break; // the file ended early (truncated under us)
        pos += n;
      }
      if (v.superBlock.compactionRevision !== revision) throw vsError('VS_ERR_FAILED_PRECONDITION', DIVERGED);
    },
  };
}
