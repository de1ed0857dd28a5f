// Core's own HTTP routes: status, health, stats, the UI page and static assets.
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Cradle } from '../container.js';
import { sendJson } from '../http/json.js';
import { registerUiRoutes } from '../http/ui/ui-routes.js';
import { STATIC_DIR } from '../paths.js';
import type { Store } from '../storage/store.js';
import type { Volume } from '../storage/volume.js';
import { fullVersion } from '../version.js';
import { memoryStatus } from './memory-status.js';

const STATIC_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// Loaded once: the set is small and fixed, and serving only known names rules out path traversal.
function loadStaticAssets(): Map<string, Buffer> {
  const assets = new Map<string, Buffer>();
  for (const name of readdirSync(STATIC_DIR)) assets.set(name, readFileSync(join(STATIC_DIR, name)));
  return assets;
}

export function registerStaticRoutes(app: FastifyInstance): void {
  const assets = loadStaticAssets();
  const serve = (name: string) => assets.get(name);
  app.get('/favicon.ico', async (_req, reply) => {
    return reply.type('image/x-icon').send(serve('favicon.ico'));
  });
  app.get('/seaweedfsstatic/*', async (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    const body = serve(name);
    if (!body) return reply.code(404).send();
    return reply.type(STATIC_TYPES[extname(name)] ?? 'application/octet-stream').send(body);
  });
}

/** One entry of /status "Volumes", shaped like Go's storage.VolumeInfo JSON. */
function statusVolume(store: Store, v: Volume) {
  const rp = v.replicaPlacement;
  const placement: Record<string, number> = {};
  if (rp.sameRackCount) placement.node = rp.sameRackCount;
  if (rp.diffRackCount) placement.rack = rp.diffRackCount;
  if (rp.diffDataCenterCount) placement.dc = rp.diffDataCenterCount;
  const reasons = v.readOnlyReasons();
  const info = store.volumeInformation(v);
  return {
    Collection: v.collection,
    DiskType: v.diskType,
    RemoteStorageName: info.remote_storage_name,
    ReplicaPlacement: placement,
    Ttl: { Count: v.ttl.count, Unit: v.ttl.unit },
    Size: v.contentSize(),
    DeletedByteCount: info.deleted_byte_count,
    ModifiedAtSecond: info.modified_at_second,
    Id: v.id,
    DiskId: v.diskId,
    CompactRevision: info.compact_revision,
    FileCount: info.file_count,
    DeleteCount: info.delete_count,
    Version: info.version,
    ReadOnly: reasons.readOnly || reasons.noWriteOrDelete || reasons.noWriteCanDelete || reasons.diskSpaceLow,
    ReadOnlyCanDelete: reasons.noWriteCanDelete,
  };
}

/** The /status body; EcVolumes are what the families contribute (none: an empty list). */
export function statusBody(cradle: Pick<Cradle, 'store' | 'masterClient'>, version: string): Record<string, unknown> {
  const { store, masterClient } = cradle;
  return {
    Version: version,
    Volumes: store
      .allVolumes()
      .sort((a, b) => a.id - b.id)
      .map((v) => statusVolume(store, v)),
    EcVolumes: store.contributions.ecVolumeStatuses(),
    DiskStatuses: store.diskStatuses(true),
    Master: { connected: masterClient.connected, current: masterClient.currentMaster },
  };
}

export function registerAdminRoutes(app: FastifyInstance, cradle: Cradle): void {
  const { config, store, masterClient, requestCounters } = cradle;
  const version = fullVersion(config.offsetBytes);

  const health = async (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply.code(store.stopping || !masterClient.heartbeating ? 503 : 200).send();
  app.get('/healthz', health);
  app.get('/readyz', health);

  app.get('/status', async (req, reply) => sendJson(req, reply, 200, statusBody(cradle, version)));

  // Long jobs now running and the last ones that ended (core/jobs/job-registry.ts); a key of our
  // own, outside /status whose keys Go clients read.
  app.get('/jobs', async (req, reply) => sendJson(req, reply, 200, cradle.jobs.list()));

  app.get('/stats/counter', async (req, reply) =>
    sendJson(req, reply, 200, { Version: version, Counters: requestCounters.snapshot() }),
  );
  app.get('/stats/memory', async (req, reply) =>
    sendJson(req, reply, 200, { Version: version, Memory: memoryStatus() }),
  );
  app.get('/stats/disk', async (req, reply) =>
    sendJson(req, reply, 200, { Version: version, DiskStatuses: store.diskStatuses(true) }),
  );

  registerUiRoutes(app, cradle, version);
}
