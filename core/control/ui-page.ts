// The /ui/index.html status page: what an operator wants at a glance (version, masters, disks,
// volumes), rendered server-side without a template engine.
import type { DiskStatus } from '../storage/disk-status.js';
import type { VolumeInformation } from '../storage/store.js';

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export interface UiPageInput {
  version: string;
  upSeconds: number;
  masters: string[];
  currentMaster: string;
  connected: boolean;
  disks: DiskStatus[];
  volumes: VolumeInformation[];
}

export function renderUiPage(p: UiPageInput): string {
  const diskRows = p.disks
    .map(
      (d) =>
        `<tr><td>${esc(d.dir)}</td><td>${esc(d.disk_type ?? '')}</td><td>${bytes(d.all)}</td><td>${bytes(d.used)}</td>` +
        `<td>${bytes(d.free)}</td><td>${d.percent_used.toFixed(2)}%</td></tr>`,
    )
    .join('');
  const volumeRows = p.volumes
    .map(
      (v) =>
        `<tr><td>${v.id}</td><td>${esc(v.collection)}</td><td>${esc(v.disk_type || 'hdd')}</td><td>${bytes(v.size)}</td>` +
        `<td>${v.file_count}</td><td>${v.delete_count}/${bytes(v.deleted_byte_count)}</td><td>${v.ttl}</td>` +
        `<td>${v.read_only ? 'read-only' : 'writable'}</td></tr>`,
    )
    .join('');
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>SeaweedFS Volume Server ${esc(p.version)}</title>
<link rel="icon" href="/favicon.ico">
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#eee}</style></head>
<body>
<h1><img src="/seaweedfsstatic/seaweed50x50.png" alt="" width="50" height="50"> SeaweedFS Volume Server</h1>
<p>Version ${esc(p.version)} &middot; up ${Math.floor(p.upSeconds)}s</p>
<h2>Masters</h2>
<p>${p.masters.map(esc).join(', ')} &middot; ${p.connected ? `heartbeating to ${esc(p.currentMaster)}` : 'not connected to a master'}</p>
<h2>Disk Stats</h2>
<table><tr><th>Path</th><th>Disk</th><th>Total</th><th>Used</th><th>Free</th><th>Usage</th></tr>${diskRows}</table>
<h2>Volumes</h2>
<table><tr><th>Id</th><th>Collection</th><th>Disk</th><th>Data Size</th><th>Files</th><th>Trash</th><th>TTL</th><th>State</th></tr>${volumeRows}</table>
</body></html>
`;
}
