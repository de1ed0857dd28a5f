// The admin page in a real headless browser (Debian's Chromium driven by playwright-core): it
// loads without console errors, shows a volume after an upload without a reload, shows a vacuum's
// progress while it runs, and is not served when JWT signing is on. Saves a screenshot under
// test-results/. Chromium is required: .ci/run installs it, and its absence fails the test.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../../core/paths.js';
import { drainStream, volumeClient } from '../../helpers/grpc.js';
import { cleanup, startMaster, startVolumeServer, tempDir, type Master } from '../../helpers/processes.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function openBrowser(): Promise<{ context: BrowserContext; profile: string }> {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (.ci/run does) or set CHROMIUM_PATH`);
  const profile = tempDir('ts-weed-chromium-');
  // A persistent context is how playwright takes a fresh --user-data-dir of our choosing.
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 });
  return { context, profile };
}

/** Console errors and uncaught page errors, collected for the whole life of the page. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

describe('admin page in a headless browser', () => {
  let master: Master;
  let context: BrowserContext;
  let profile: string;
  before(async () => {
    ({ context, profile } = await openBrowser());
    master = await startMaster();
  });
  after(async () => {
    await context?.close();
    if (profile) cleanup(profile);
    if (master) {
      await master.stop();
      cleanup(master.dir);
    }
  });

  test('loads without console errors, shows an uploaded volume live, and a vacuum job with progress', async () => {
    // 1 MB/s compaction: the vacuum of the 28 MiB volume below runs for several seconds.
    const vs = await startVolumeServer({ master: master.address, extraArgs: ['--compactionMBps', '1'] });
    const client = volumeClient(vs.grpcAddress);
    const page = await context.newPage();
    const errors = watchErrors(page);
    try {
      const response = await page.goto(`${vs.url}/ui/index.html`);
      assert.equal(response?.status(), 200);
      assert.match(await page.title(), /SeaweedFS Volume Server/);
      await page.waitForFunction(() => document.getElementById('live-status')?.textContent?.startsWith('Live: updated'), undefined, { timeout: 15_000 });
      assert.equal(await page.locator('#volumes tr[data-vid]').count(), 0);

      // Upload through the master; the open page picks the new volume up by itself.
      const assign = (await (await fetch(`${master.url}/dir/assign`)).json()) as { fid: string; url: string };
      const put = await fetch(`http://${assign.url}/${assign.fid}`, { method: 'PUT', body: 'hello admin page' });
      assert.equal(put.status, 201);
      const vid = Number(assign.fid.split(',')[0]);
      const row = page.locator(`#volumes tr[data-vid="${vid}"]`);
      await row.waitFor({ timeout: 15_000 });
      assert.match(await row.innerText(), /writable/);

      // A volume of its own, 21 MiB of live needles and a quarter deleted: garbage, then a vacuum
      // throttled to 1 MB/s.
      const VID = 91;
      await client.call('AllocateVolume', { volume_id: VID, replication: '000', version: 3 });
      const chunk = Buffer.alloc(64 * 1024, 7);
      for (let i = 1; i <= 448; i++) {
        const fid = `${VID},${i.toString(16)}0000abcd`;
        const r = await fetch(`${vs.url}/${fid}`, { method: 'PUT', body: chunk });
        assert.equal(r.status, 201, `upload ${fid}`);
        if (i % 4 === 0) assert.equal((await fetch(`${vs.url}/${fid}`, { method: 'DELETE' })).status, 202, `delete ${fid}`);
      }
      await page.locator(`#volumes tr[data-vid="${VID}"]`).waitFor({ timeout: 15_000 });
      assert.match(await page.locator(`#volumes tr[data-vid="${VID}"]`).innerText(), /\d+\.\d%/);

      const vacuum = drainStream(vs.grpcAddress, 'VacuumVolumeCompact', { volume_id: VID }, 120_000);
      const job = page.locator('#jobs tr.job-running', { hasText: 'vacuum' });
      await job.waitFor({ timeout: 20_000 }).catch(async (e: Error) => {
        // A new error: the stack of the old one already holds its message, so additions would not show.
        throw new Error(`${e.message}\n/jobs: ${await (await fetch(`${vs.url}/jobs`)).text()}\nlog: ${vs.log().slice(-3000)}`, { cause: e });
      });
      // Progress moves while the page watches: a percent above zero and a rate.
      await page.waitForFunction(
        () => {
          const bar = document.querySelector('#jobs tr.job-running progress') as HTMLProgressElement | null;
          return bar !== null && bar.value > 0 && bar.value < 100;
        },
        undefined,
        { timeout: 30_000 },
      );
      const text = await job.innerText();
      assert.match(text, new RegExp(`vacuum\\s+${VID}`));
      assert.match(text, /\d+\.\d%/);
      assert.match(text, /\/s/);
      mkdirSync(join(PROJECT_ROOT, 'test-results'), { recursive: true });
      const shot = join(PROJECT_ROOT, 'test-results', 'admin-page.png');
      writeFileSync(shot, await page.screenshot({ fullPage: true }));
      console.log(`admin page screenshot: ${shot}`);

      const done = await vacuum;
      assert.equal(done.error, undefined, done.error?.message);
      await page.locator('#jobs tr.job-done', { hasText: 'vacuum' }).waitFor({ timeout: 15_000 });
      // The JSON endpoint agrees.
      const jobs = (await (await fetch(`${vs.url}/jobs`)).json()) as { running: unknown[]; recent: { kind: string; vid: number; state: string; percent: number }[] };
      assert.deepEqual(jobs.running, []);
      assert.deepEqual(
        jobs.recent.filter((j) => j.kind === 'vacuum').map((j) => [j.vid, j.state, j.percent]),
        [[VID, 'done', 100]],
      );
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
      client.close();
      await vs.stop();
      cleanup(vs.dir);
    }
  });

  test('is not served when JWT signing is on', async () => {
    const confDir = tempDir('ts-weed-ui-jwt-');
    const file = join(confDir, 'security.toml');
    writeFileSync(file, '[jwt.signing]\nkey = "a-signing-key-for-the-ui-test"\n');
    const vs = await startVolumeServer({ extraArgs: ['--securityFile', file] });
    const page = await context.newPage();
    try {
      for (const path of ['/ui/index.html', '/ui/state.json', '/ui/render.js', '/ui/app.js']) {
        const r = await page.request.get(`${vs.url}${path}`);
        assert.equal(r.status(), 401, path);
        assert.equal(await r.text(), '', path);
      }
      // Chromium shows its own error page for the empty 401: nothing of ours is rendered.
      await assert.rejects(page.goto(`${vs.url}/ui/index.html`), /ERR_HTTP_RESPONSE_CODE_FAILURE/);
      assert.equal(await page.locator('#volumes, #jobs, #live').count(), 0);
    } finally {
      await page.close();
      await vs.stop();
      cleanup(vs.dir, confDir);
    }
  });
});
