// The admin page (/ui/index.html), its live data (/ui/state.json) and its two scripts. Only safe
// environments see any of them: no JWT signing key, or an explicit [access] ui = true (Go's
// volume_server.go); otherwise each answers 401 as Go's gated page does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PLUGIN_FAMILIES } from '../../../config/types.js';
import type { Cradle } from '../../container.js';
import { STATIC_DIR } from '../../paths.js';
import { garbageLevel } from '../../storage/vacuum.js';
import { ReplicaPlacement, Ttl } from '../../storage/types.js';
import { sendJson } from '../json.js';
import { renderPage, type UiState } from './render.js';

// The page runs no inline script and loads nothing from elsewhere.
const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Request counts sampled at most once a second, for per-second rates across polls. */
class RateSampler {
  private prev: { t: number; c: number[] } | undefined;
  private last: { t: number; c: number[] } | undefined;

  rates(counts: number[], now: number): number[] {
    if (!this.last || now - this.last.t >= 1000) {
      this.prev = this.last;
      this.last = { t: now, c: counts };
    }
    if (!this.prev) return counts.map(() => 0);
    const secs = (this.last.t - this.prev.t) / 1000;
    return this.last.c.map((c, i) => (c - this.prev!.c[i]) / secs);
  }
}

function uiState(cradle: Cradle, version: string, startedAt: number, sampler: RateSampler): UiState {
  const { config, store, masterClient, requestCounters: rc, metrics, jobs } = cradle;
  const now = Date.now();
  const [read, write, del, other] = sampler.rates([rc.readRequests, rc.writeRequests, rc.deleteRequests, rc.otherRequests], now);
  const infos = new Map(store.volumeInformations().map((i) => [i.id, i]));
  return {
    version,
    upSeconds: (now - startedAt) / 1000,
    server: { id: config.id, publicUrl: config.publicUrl, dataCenter: config.dataCenter, rack: config.rack },
    master: { masters: config.masters, current: masterClient.currentMaster, connected: masterClient.connected },
    plugins: PLUGIN_FAMILIES.map((name) => ({ name, enabled: config.plugins[name].enabled })),
    disks: store.diskStatuses(true).map((d) => ({
      dir: d.dir,
      diskType: d.disk_type || 'hdd',
      all: d.all,
      used: d.used,
      free: d.free,
      percentUsed: d.percent_used,
    })),
    volumes: store
      .allVolumes()
      .sort((a, b) => a.id - b.id)
      .flatMap((v) => {
        const i = infos.get(v.id);
        if (!i) return [];
        return [
          {
            id: v.id,
            collection: i.collection,
            diskType: i.disk_type || 'hdd',
            size: i.size,
            fileCount: i.file_count,
            deleteCount: i.delete_count,
            deletedBytes: i.deleted_byte_count,
            garbageRatio: garbageLevel(v),
            readOnly: i.read_only,
            replication: ReplicaPlacement.fromByte(i.replica_placement).toString(),
            ttl: Ttl.fromUint32(i.ttl).toString(),
            remote: i.remote_storage_name,
          },
        ];
      }),
    ec: store.contributions.ecVolumeStatuses().map((e) => ({
      vid: e.VolumeId,
      collection: e.Collection,
      shards: e.Shards.map((s) => s.ShardId).sort((a, b) => a - b),
    })),
    requests: {
      total: rc.requests,
      perSecond: { read, write, delete: del, other },
      inFlightUploadBytes: metrics.inFlightBytes.upload(),
      inFlightDownloadBytes: metrics.inFlightBytes.download(),
    },
    jobs: jobs.list(),
  };
}

/** The compiled renderer (render.js beside this module), without its source-map comment. */
function loadRendererScript(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return readFileSync(join(here, 'render.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
}

export function registerUiRoutes(app: FastifyInstance, cradle: Cradle, version: string): void {
  const { config } = cradle;
  const paths = ['/ui/index.html', '/ui/state.json', '/ui/render.js', '/ui/app.js'];
  if (config.security.jwtSigning.key && !config.security.accessUi) {
    for (const p of paths) app.get(p, async (_req, reply) => reply.code(401).send());
    return;
  }
  const startedAt = Date.now();
  const sampler = new RateSampler();
  const renderer = loadRendererScript();
  const appScript = readFileSync(join(STATIC_DIR, 'ui-app.js'), 'utf8');
  const script = (reply: FastifyReply, body: string) =>
    reply.header('Cache-Control', 'no-cache').type('text/javascript; charset=utf-8').send(body);

  app.get('/ui/index.html', async (_req, reply) =>
    reply
      .header('Content-Security-Policy', CSP)
      .header('Cache-Control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(renderPage(uiState(cradle, version, startedAt, sampler))),
  );
  app.get('/ui/state.json', async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    return sendJson(req, reply, 200, uiState(cradle, version, startedAt, sampler));
  });
  app.get('/ui/render.js', async (_req, reply) => script(reply, renderer));
  app.get('/ui/app.js', async (_req, reply) => script(reply, appScript));
}
