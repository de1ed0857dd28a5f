// The admin page's HTML, from one state object. Pure functions without imports: the server renders
// the whole page with them (readable without JavaScript), and the same compiled module is served to
// the browser, which re-renders the live part from /ui/state.json. Every value from the server goes
// through esc(): volume collections, disk paths and job errors are not trusted as HTML.
import type { JobView } from '../../jobs/job-registry.js';

export interface UiVolume {
  id: number;
  collection: string;
  diskType: string;
  size: number;
  fileCount: number;
  deleteCount: number;
  deletedBytes: number;
  /** Deleted bytes over content size, 0..1 (what VacuumVolumeCheck reports). */
  garbageRatio: number;
  readOnly: boolean;
  replication: string;
  ttl: string;
  remote: string;
}

/** A job as the page shows it: the registry's view (a type import, erased: the module still loads nothing). */
export type UiJob = Pick<
  JobView,
  'id' | 'kind' | 'state' | 'vid' | 'detail' | 'bytesDone' | 'totalBytes' | 'percent' | 'bytesPerSecond' | 'etaSeconds' | 'elapsedSeconds' | 'error'
>;

export interface UiState {
  version: string;
  upSeconds: number;
  server: { id: string; publicUrl: string; dataCenter: string; rack: string };
  master: { masters: string[]; current: string; connected: boolean };
  plugins: { name: string; enabled: boolean }[];
  disks: { dir: string; diskType: string; all: number; used: number; free: number; percentUsed: number }[];
  volumes: UiVolume[];
  ec: { vid: number; collection: string; shards: number[] }[];
  requests: {
    total: number;
    /** Per second since the previous sample (about the last poll interval). */
    perSecond: { read: number; write: number; delete: number; other: number };
    inFlightUploadBytes: number;
    inFlightDownloadBytes: number;
  };
  jobs: { running: UiJob[]; recent: UiJob[] };
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(s / 3600);
  return h < 48 ? `${h}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(h / 24)}d${h % 24}h`;
}

function table(id: string, heads: string[], rows: string[], empty: string): string {
  if (rows.length === 0) return `<p class="empty" id="${id}">${esc(empty)}</p>`;
  return `<table id="${id}"><thead><tr>${heads.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const td = (v: unknown, cls = '') => `<td${cls ? ` class="${cls}"` : ''}>${esc(v)}</td>`;

function jobRow(j: UiJob): string {
  const pct = j.percent ?? 0;
  const bar =
    j.percent === undefined
      ? esc(bytes(j.bytesDone))
      : `<progress max="100" value="${pct}">${pct}%</progress> ${esc(pct.toFixed(1))}%`;
  const state = j.state === 'failed' ? `failed: ${j.error ?? ''}` : j.state;
  return (
    `<tr class="job-${esc(j.state)}" data-job="${j.id}">` +
    td(j.kind) +
    td(j.vid ?? '') +
    `<td>${bar}</td>` +
    td(`${bytes(j.bytesDone)} / ${j.totalBytes ? bytes(j.totalBytes) : '?'}`, 'num') +
    td(`${bytes(j.bytesPerSecond)}/s`, 'num') +
    td(j.etaSeconds === undefined ? '' : duration(j.etaSeconds), 'num') +
    td(duration(j.elapsedSeconds), 'num') +
    td(state) +
    td(j.detail ?? '') +
    '</tr>'
  );
}

/** The live part of the page: everything under <main>. */
export function renderLive(s: UiState): string {
  const m = s.master;
  const masterLine = m.connected
    ? `<span class="ok">connected</span>, heartbeating to ${esc(m.current)}`
    : `<span class="bad">not connected</span> (masters: ${esc(m.masters.join(', '))}; start one with <code>weed master</code> or run <code>npm run cluster</code>)`;
  const r = s.requests;
  const volumes = s.volumes.map(
    (v) =>
      `<tr data-vid="${v.id}">` +
      td(v.id, 'num') +
      td(v.collection) +
      td(v.diskType) +
      td(bytes(v.size), 'num') +
      td(v.fileCount, 'num') +
      td(v.deleteCount, 'num') +
      td(`${(v.garbageRatio * 100).toFixed(1)}%`, 'num') +
      td(v.readOnly ? 'read-only' : 'writable', v.readOnly ? 'warn' : '') +
      td(v.replication) +
      td(v.ttl) +
      td(v.remote) +
      '</tr>',
  );
  const ec = s.ec.map((e) => `<tr>${td(e.vid, 'num')}${td(e.collection)}${td(e.shards.length, 'num')}${td(e.shards.join(', '))}</tr>`);
  const disks = s.disks.map(
    (d) =>
      `<tr>${td(d.dir)}${td(d.diskType)}${td(bytes(d.all), 'num')}${td(bytes(d.used), 'num')}${td(bytes(d.free), 'num')}` +
      `<td class="num"><meter min="0" max="100" high="90" value="${d.percentUsed}">${esc(d.percentUsed.toFixed(1))}%</meter> ${esc(d.percentUsed.toFixed(1))}%</td></tr>`,
  );
  const jobs = [...s.jobs.running, ...s.jobs.recent].map(jobRow);
  return (
    `<section><h2>Server</h2><p>id ${esc(s.server.id)} &middot; public ${esc(s.server.publicUrl)} &middot; data center ${esc(s.server.dataCenter || '-')}` +
    ` &middot; rack ${esc(s.server.rack || '-')} &middot; up ${esc(duration(s.upSeconds))}</p>` +
    `<p id="master">Master: ${masterLine}</p>` +
    `<p id="plugins">Plugin families: ${s.plugins.map((p) => `<span class="${p.enabled ? 'ok' : 'off'}">${esc(p.name)} ${p.enabled ? 'on' : 'off'}</span>`).join(' ')}</p>` +
    `<p id="requests">Requests: ${r.total} total &middot; ${r.perSecond.read.toFixed(1)} reads/s, ${r.perSecond.write.toFixed(1)} writes/s, ` +
    `${r.perSecond.delete.toFixed(1)} deletes/s, ${r.perSecond.other.toFixed(1)} other/s &middot; in flight: ${esc(bytes(r.inFlightUploadBytes))} up, ` +
    `${esc(bytes(r.inFlightDownloadBytes))} down</p></section>` +
    `<section><h2>Jobs</h2>${table('jobs', ['Kind', 'Volume', 'Progress', 'Bytes', 'Rate', 'ETA', 'Elapsed', 'State', 'Detail'], jobs, 'No long job has run since start.')}</section>` +
    `<section><h2>Volumes (${s.volumes.length})</h2>${table(
      'volumes',
      ['Id', 'Collection', 'Disk', 'Size', 'Files', 'Deletes', 'Garbage', 'State', 'Replication', 'TTL', 'Remote'],
      volumes,
      'No volumes yet: upload a file through the master (curl "http://<master>/dir/assign").',
    )}</section>` +
    `<section><h2>EC volumes (${s.ec.length})</h2>${table('ec', ['Id', 'Collection', 'Shards here', 'Shard ids'], ec, 'No EC shards on this server.')}</section>` +
    `<section><h2>Disks</h2>${table('disks', ['Path', 'Type', 'Total', 'Used', 'Free', 'Usage'], disks, 'No disks.')}</section>`
  );
}

/** The whole page: shell, styles, the live part, and the script that keeps it live. */
export function renderPage(s: UiState): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>SeaweedFS Volume Server ${esc(s.version)}</title>
<link rel="icon" href="/favicon.ico">
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em;display:flex;align-items:center;gap:.5em}
h2{font-size:1.1em;margin:1.2em 0 .4em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#eee}td.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#070}.bad{color:#b00}.off{color:#888}.warn{color:#a60}
.job-failed{background:#fee}.empty{color:#666}span.ok,span.off{margin-right:.6em}#live-status{color:#888;font-size:.85em}
</style></head>
<body>
<h1><img src="/seaweedfsstatic/seaweed50x50.png" alt="" width="50" height="50"> SeaweedFS Volume Server <small>${esc(s.version)}</small></h1>
<p id="live-status">Snapshot at page load; reload for fresh numbers.</p>
<main id="live">${renderLive(s)}</main>
<script type="module" src="/ui/app.js"></script>
</body></html>
`;
}
