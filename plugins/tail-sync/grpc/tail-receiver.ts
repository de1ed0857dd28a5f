// VolumeTailReceiver: this server follows a volume on a peer (the peer's VolumeTailSender) and
// applies every record it receives to its own copy of the volume, until the peer's stream ends
// (Go's VolumeTailReceiver / operation.TailVolumeFromSource). Records are written through the
// volume's write path (fresh append time, cookie adopted when absent). A tombstone record of a
// needle that is live here is applied as a delete, so the needle reads as deleted (404) here too
// and the .dat and .idx grow by what the source's grew; one already deleted here is skipped.
import type * as grpc from '@grpc/grpc-js';
import type { Cradle } from '../../../core/container.js';
import type { GrpcHandler, Msg } from '../../../core/grpc/handler.js';
import { decodeNeedle, type Needle } from '../../../core/storage/needle.js';
import { CURRENT_VERSION, NEEDLE_HEADER_SIZE, isSupportedVersion, type Version } from '../../../core/storage/types.js';
import type { Volume } from '../../../core/storage/volume.js';
import { checks, messageOf, openServerStream, peerClient, plain, u64, validateReplicaTarget, volumeIdOf } from './common.js';

/** The largest body a record can have (its size field is an int32), plus its tail and padding. */
const MAX_RECORD_BODY = 2 ** 31 + 64;

/** Applies one record received from the source to the local volume. */
export async function applyTailedNeedle(v: Volume, n: Needle): Promise<void> {
  if (n.size === 0 && n.data.length === 0) {
    const cur = v.lookup(n.id);
    if (cur && cur.size > 0) {
      await v.delete(n.id, { cookie: n.cookie, checksum: n.checksum });
      return;
    }
    if (cur && cur.size < 0) return; // already deleted here: replaying it changes nothing
  }
  await v.write(n, { fsync: false, checkCookie: false });
}

/**
 * Reads a VolumeTailSender stream, calling `apply` for each whole record (header + reassembled
 * body). Keep-alive messages (no header) are skipped.
 */
export async function consumeTailStream(
  stream: grpc.ClientReadableStream<Msg>,
  apply: (n: Needle) => Promise<void>,
): Promise<number> {
  let header: Buffer | undefined;
  let parts: Buffer[] = [];
  let version: Version = CURRENT_VERSION;
  let applied = 0;
  let gathered = 0;
  const finish = async () => {
    const record = Buffer.concat([header!, ...parts]);
    header = undefined;
    parts = [];
    await apply(decodeNeedle(record, version));
    applied++;
  };
  for await (const msg of stream as AsyncIterable<Msg>) {
    const h: Buffer = msg.needle_header ?? Buffer.alloc(0);
    if (!header) {
      if (h.length === 0) continue; // keep-alive
      if (h.length !== NEEDLE_HEADER_SIZE) throw new Error(`needle header of ${h.length} bytes from the source`);
      header = Buffer.from(h);
      gathered = 0;
      const ver = Number(msg.version ?? 0);
      version = ver === 0 ? CURRENT_VERSION : isSupportedVersion(ver) ? ver : (() => {
        throw new Error(`unsupported needle version ${ver}`);
      })();
    }
    const part = Buffer.from(msg.needle_body ?? Buffer.alloc(0));
    gathered += part.length;
    if (gathered > MAX_RECORD_BODY) throw new Error(`needle body from the source exceeds ${MAX_RECORD_BODY} bytes`);
    parts.push(part);
    if (msg.is_last_chunk) await finish();
  }
  // The stream ended inside a record: Go applies what it gathered.
  if (header) await finish();
  return applied;
}

export function tailReceiverRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { store, config } = cradle;
  const { admin } = checks(cradle);
  return {
    VolumeTailReceiver: async (call: Msg) => {
      admin(call);
      const r = call.request;
      const source = String(r.source_volume_server ?? '');
      if (!config.allowUntrustedRemoteEndpoints) {
        try {
          await validateReplicaTarget(source);
        } catch (e) {
          throw plain(`invalid source volume server ${source}: ${messageOf(e)}`);
        }
      }
      const id = volumeIdOf(r.volume_id);
      const v = store.findVolume(id);
      if (!v) throw plain(`receiver not found volume id ${id}`);

      const client = peerClient(cradle, source);
      const stream = openServerStream(client, 'VolumeTailSender', {
        volume_id: id,
        since_ns: u64(r.since_ns).toString(),
        idle_timeout_seconds: Number(r.idle_timeout_seconds ?? 0) >>> 0,
      });
      const onCancel = () => stream.cancel();
      call.once('cancelled', onCancel);
      try {
        await consumeTailStream(stream, async (n) => {
          const cur = store.findVolume(id);
          if (!cur) throw new Error(`volume ${id} not found`);
          await applyTailedNeedle(cur, n);
        });
      } catch (e) {
        stream.cancel();
        throw plain(messageOf(e));
      } finally {
        call.off('cancelled', onCancel);
      }
      return {};
    },
  };
}
