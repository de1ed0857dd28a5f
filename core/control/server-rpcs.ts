// Core's server-level RPCs: state, status, leave and ping.
import type { Cradle } from '../container.js';
import { vsError } from '../errors.js';
import type { GrpcHandler, Msg } from '../grpc/handler.js';
import { fullVersion } from '../version.js';
import { memoryStatus } from './memory-status.js';

const nowNs = () => (BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000)).toString();

export function serverRpcs(cradle: Cradle): Record<string, GrpcHandler> {
  const { config, store, serverState, guard, masterClient } = cradle;
  const version = fullVersion(config.offsetBytes);

  return {
    GetState: async () => ({ state: serverState.get() }),

    SetState: async (call: Msg) => {
      guard.checkPeer(call.getPeer());
      const req = call.request;
      // proto-loader fills absent messages with null; Go treats a missing state as a no-op.
      return { state: serverState.update(req.state ?? null) };
    },

    VolumeServerStatus: async () => ({
      disk_statuses: store.diskStatuses(false),
      memory_status: memoryStatus(),
      version,
      data_center: config.dataCenter,
      rack: config.rack,
      state: serverState.get(),
    }),

    VolumeServerLeave: async (call: Msg) => {
      guard.checkPeer(call.getPeer());
      await masterClient.stop();
      return {};
    },

    Ping: async (call: Msg) => {
      const req = call.request as { target: string; target_type: string };
      const start = nowNs();
      // An empty target is a self-liveness probe. Otherwise, like Go, only our own masters are
      // admitted, so the RPC cannot be used to probe arbitrary hosts from inside the cluster.
      if (req.target === '') return { start_time_ns: start, remote_time_ns: '0', stop_time_ns: nowNs() };
      if (req.target_type !== 'master' || !masterClient.isKnownMaster(req.target)) {
        throw vsError('VS_ERR_PING_UNKNOWN_TARGET', req.target, req.target_type);
      }
      let remote: string;
      try {
        remote = await masterClient.pingMaster(req.target);
      } catch (e) {
        throw vsError('VS_ERR_PING_FAILED', req.target_type, req.target, (e as { details?: string }).details || (e as Error).message);
      }
      return { start_time_ns: start, remote_time_ns: remote, stop_time_ns: nowNs() };
    },
  };
}
