// VolumeTailSender: follows a volume's .dat from since_ns, sending each record's header and body
// (the body in chunks of at most 2 MiB, the last one marked), then polling every 2 s for more.
// With idle_timeout_seconds 0 it follows until the caller leaves; otherwise it stops after that
// many polls found nothing new. A poll that finds nothing sends a keep-alive (is_last_chunk, no
// needle). Go's VolumeTailSender / sendNeedlesSince / VolumeFileScanner4Tailing.
import type * as grpc from '@grpc/grpc-js';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { NEEDLE_CHECKSUM_SIZE, readI32, readU64 } from '../../../core/storage/types.js';
import type { Volume } from '../../../core/storage/volume.js';
import { BUFFER_SIZE_LIMIT, messageOf, plain, send, sleepUnlessCancelled, u64, volumeIdOf } from './common.js';
import { binarySearchByAppendAtNs, scanRecordsFrom } from './volume-index.js';

/** Go's poll interval between two scans of the tail. */
export const TAIL_POLL_MS = 2000;

/**
 * Sends the records appended after `sinceNs`; returns the append time of the last one sent
 * (`sinceNs` itself when there was nothing new, after a keep-alive).
 */
async function sendNeedlesSince(call: grpc.ServerWritableStream<Msg, Msg>, v: Volume, sinceNs: bigint): Promise<bigint> {
  let found: { offset: number; isLast: boolean };
  try {
    found = await binarySearchByAppendAtNs(v, sinceNs);
  } catch (e) {
    throw new Error(`fail to locate by appendAtNs ${sinceNs}: ${messageOf(e)}`, { cause: e });
  }
  const version = v.version;
  if (found.isLast) {
    await send(call, { is_last_chunk: true, version });
    return sinceNs;
  }
  let last = 0n;
  await scanRecordsFrom(v, found.offset, async (header, body) => {
    for (let i = 0; i < body.length; i += BUFFER_SIZE_LIMIT) {
      const stop = Math.min(i + BUFFER_SIZE_LIMIT, body.length);
      await send(call, {
        needle_header: header,
        needle_body: body.subarray(i, stop),
        is_last_chunk: stop >= body.length,
        version,
      });
    }
    if (version === 3) {
      const size = readI32(header, 12);
      last = readU64(body, size + NEEDLE_CHECKSUM_SIZE);
    }
  });
  return last;
}

export function tailSenderRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store } = cradle;
  return {
    VolumeTailSender: async (call: Msg) => {
      const stream = call as grpc.ServerWritableStream<Msg, Msg>;
      const id = volumeIdOf(call.request.volume_id);
      if (!store.findVolume(id)) throw plain(`not found volume id ${id}`);
      const idle = Number(call.request.idle_timeout_seconds ?? 0) >>> 0;
      let lastNs = u64(call.request.since_ns);
      let draining = idle;
      for (;;) {
        if (stream.cancelled) return;
        const v = store.findVolume(id);
        if (!v) throw plain(`streamFollow: not found volume id ${id}`);
        let processed: bigint;
        try {
          processed = await sendNeedlesSince(stream, v, lastNs);
        } catch (e) {
          if (stream.cancelled) return;
          throw plain(`streamFollow: ${messageOf(e)}`);
        }
        await sleepUnlessCancelled(stream, TAIL_POLL_MS);
        if (stream.cancelled) return;
        if (idle === 0) {
          lastNs = processed;
          continue;
        }
        if (processed === lastNs) {
          draining--;
          if (draining <= 0) return;
        } else {
          lastNs = processed;
          draining = idle;
        }
      }
    },
  };
}
