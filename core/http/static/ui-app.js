/* global document */
// Keeps the admin page (/ui/index.html) live: polls /ui/state.json every 2 s and re-renders <main>
// with the renderer the server used (/ui/render.js, compiled from core/http/ui/render.ts). Without
// JavaScript the page stays the server-rendered snapshot. No polling while the tab is hidden.
import { renderLive } from '/ui/render.js';

const INTERVAL_MS = 2000;
const live = document.getElementById('live');
const status = document.getElementById('live-status');

async function refresh() {
  if (!document.hidden) {
    try {
      const r = await fetch('/ui/state.json', { cache: 'no-store' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      live.innerHTML = renderLive(await r.json());
      status.textContent = `Live: updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      status.textContent = `Live updates paused: ${e instanceof Error ? e.message : e}`;
    }
  }
  setTimeout(refresh, INTERVAL_MS);
}

status.textContent = 'Live: connecting…';
refresh();
