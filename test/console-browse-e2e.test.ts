// The console's plans page and snapshot file browser end to end in Debian's
// Chromium (playwright-core) against a real server: the schedule in words,
// a run, a refused "Run now" (outside the window) that leaves the plan
// green with a notice, "Run drill now", the run page's snapshot link into
// the file browser, a download, a search and the restore of a selection
// into a new directory. One browser for the file; screenshots under
// test-artifacts/screenshots/.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import type { FilesTarget, Plan } from '../src/config/types.ts';
import { systemClock } from '../src/core/clock.ts';
import { ServerCore } from '../src/scheduler/server-core.ts';
import { startControlServer } from '../src/api/control-server.ts';
import type { ControlServer } from '../src/api/control-server.ts';
import { hashPassword } from '../src/api/auth/index.ts';
import { CONSOLE_DIST } from '../src/api/http/routes-console.ts';
import { activity, planWorld } from './helpers/plan-fixtures.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve(import.meta.dirname, '..', 'test-artifacts', 'screenshots');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];
const USER = 'ops';
const PASS = 'console browse password';

const skip = !fs.existsSync(CHROMIUM)
  ? `no ${CHROMIUM} (apt-get install -y chromium)`
  : !fs.existsSync(path.join(CONSOLE_DIST, 'index.html'))
    ? 'console not built (npm run build)'
    : false;

describe('console plans page and file browser in headless Chromium', { skip, timeout: 90_000 }, () => {
  let w: PlanWorld;
  let core: ServerCore;
  let cs: ControlServer;
  let ctx: BrowserContext;
  let page: Page;
  let base = '';
  let docs = '';
  let profile = '';
  const errors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  before(async () => {
    w = await planWorld(
      {},
      {
        activities: [activity('files', 'backup', 'HOST', '*'), activity('drill', 'drill', 'HOST', '*')],
        description: 'the files of HOST',
      },
    );
    docs = path.join(w.dir, 'src', 'docs');
    fs.mkdirSync(docs, { recursive: true });
    fs.writeFileSync(path.join(docs, 'a.txt'), 'hello browser\n');
    fs.writeFileSync(path.join(docs, 'b.bin'), Buffer.alloc(50_000, 7));
    const host: FilesTarget = {
      kind: 'files',
      name: 'HOST',
      site: null,
      units: { docs: { paths: [docs], exclude: [] } },
    };
    Object.assign(w.config.targets, { HOST: host });
    Object.assign(w.config.plans, {
      nightly: { ...w.config.plans.nightly!, schedule: { cron: '0 2 * * *', timezone: 'UTC' } } satisfies Plan,
    });
    w.catalog.users().add({ name: USER, role: 'operator', passwordHash: await hashPassword(PASS) });
    core = new ServerCore({
      config: w.config,
      catalog: w.catalog,
      clock: systemClock,
      alert: () => {},
      log: () => {},
      pollMs: 5,
      sweepMs: 3_600_000,
    });
    await core.start();
    cs = await startControlServer(core, w.catalog, {
      socketPath: path.join(w.dir, 's.sock'),
      listen: { host: '127.0.0.1', port: 0 },
      api: { clock: systemClock, log: () => {} },
    });
    base = `http://${cs.listening}`;
    fs.mkdirSync(SHOTS, { recursive: true });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 860 },
      acceptDownloads: true,
      timeout: 30_000,
    });
    ctx.setDefaultTimeout(15_000);
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[013]/.test(m.text())) errors.push(`console: ${m.text()}`);
    });
    await page.goto(`${base}/`);
    await page.getByLabel('User name').fill(USER);
    await page.getByLabel('Password').fill(PASS);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  });

  after(async () => {
    await ctx?.close();
    await cs?.close();
    await core?.stop(0);
    await w?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  const plans = async () => {
    await page.getByRole('link', { name: 'Plans', exact: true }).click();
    await page.locator('[data-plan=nightly]').waitFor();
  };

  it('shows the schedule in words, then runs the plan', async () => {
    await plans();
    assert.equal(await page.locator('[data-plan=nightly] .cron-words').textContent(), 'every day at 02:00');
    assert.match((await page.locator('[data-plan=nightly] .window').textContent()) ?? '', /always/);
    await page.locator('[data-plan=nightly] button.run-now').click();
    await page.waitForURL(/\/runs\/[0-9a-f]{16}$/);
    await page.locator('#run-status[data-status=succeeded]').waitFor({ timeout: 30_000 });
    await page.locator('#tasks a.snapshot-link').first().waitFor();
    assert.match((await page.locator('#tasks a.snapshot-link').first().textContent()) ?? '', /^[0-9a-f]{8}$/);
  });

  it('a refused click leaves the plan green and shows a notice', async () => {
    const plan = w.config.plans.nightly!;
    Object.assign(w.config.plans, { nightly: { ...plan, window: { type: 'ranges', timezone: 'UTC', ranges: [] } } });
    try {
      await plans();
      await page.locator('[data-plan=nightly] button.run-now').click();
      await page.locator('[data-plan=nightly] .refusal').waitFor();
      assert.match((await page.locator('[data-plan=nightly] .refusal').textContent()) ?? '', /maintenance window/);
      assert.equal(new URL(page.url()).pathname, '/plans');
      assert.equal(await page.locator('[data-plan=nightly] .last-run .badge').getAttribute('data-status'), 'succeeded');
      await shot('plans-refused');
    } finally {
      Object.assign(w.config.plans, { nightly: plan });
    }
  });

  it('runs the drill now', async () => {
    await plans();
    await page.locator('[data-plan=nightly] button.drill-now').click();
    await page.waitForURL(/\/runs\/[0-9a-f]{16}$/);
    await page.locator('#run-status[data-status=succeeded]').waitFor({ timeout: 30_000 });
    assert.match((await page.locator('#tasks tbody tr').allTextContents()).join('|'), /drill/);
    assert.equal(await page.locator('#tasks tbody tr').count(), 1);
    const drills = w.catalog.drills().list({ limit: 5 });
    assert.equal(drills[0]?.status, 'passed');
  });

  it('browses the snapshot, downloads a file, searches and restores a selection', async () => {
    await page.getByRole('link', { name: 'Snapshots', exact: true }).click();
    await page.locator('[data-unit="HOST/docs"] td.mono a').first().click();
    await page.waitForURL(/\/browse\?/);
    await page.locator('#entries tbody tr').first().waitFor();
    // Down to the unit's directory, one link at a time.
    for (const part of docs.split('/').filter(Boolean)) {
      await page.locator(`#entries tr[data-type=dir] a.dir`, { hasText: new RegExp(`^${part}/$`) }).click();
      await page.locator(`.crumbs a`, { hasText: new RegExp(`^${part}$`) }).waitFor();
    }
    await page.locator(`#entries tr[data-path="${docs}/a.txt"]`).waitFor();
    await shot('browse');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator(`#entries tr[data-path="${docs}/a.txt"] a.download`).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'a.txt');
    assert.equal(fs.readFileSync((await download.path())!, 'utf8'), 'hello browser\n');

    await page.getByLabel('search by name').fill('B.BI');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator(`#entries tr[data-path="${docs}/b.bin"]`).waitFor();
    assert.equal(await page.locator('#entries tbody tr').count(), 1);
    await page.getByLabel(`select ${docs}/b.bin`).check();
    const to = path.join(w.dir, 'picked');
    await page.getByLabel('restore into directory').fill(to);
    await page.getByRole('button', { name: 'Restore selection' }).click();
    await page.locator('.restored').waitFor({ timeout: 30_000 });
    assert.equal(fs.statSync(path.join(to, docs, 'b.bin')).size, 50_000);
    assert.equal(fs.existsSync(path.join(to, docs, 'a.txt')), false);
    // The same directory again: not empty now, refused with the reason.
    await page.getByLabel(`select ${docs}/b.bin`).check();
    await page.getByLabel('restore into directory').fill(to);
    await page.getByRole('button', { name: 'Restore selection' }).click();
    await page.locator('.restore-selection .error').waitFor();
    assert.match((await page.locator('.restore-selection .error').textContent()) ?? '', /not empty/);
    await shot('browse-restore');
  });

  it('charts show the value under the cursor and zoom by dragging', async () => {
    await page.getByRole('link', { name: 'Charts', exact: true }).click();
    const fig = page.locator('#chart-duration figure');
    await fig.locator('canvas').first().waitFor();
    assert.equal(await fig.getAttribute('data-points'), '2', 'the run and the drill run');
    const over = fig.locator('.u-over');
    const box = (await over.boundingBox())!;
    const y = box.y + box.height / 2;
    // Hovering the first point (at the left edge) shows its value and status in the legend.
    await page.mouse.move(box.x + 2, y);
    const value = fig.locator('.u-legend .u-series:nth-child(2) .u-value');
    await page.waitForFunction(
      (el) => /(ms|s) \(succeeded\)$/.test(el?.textContent ?? ''),
      await value.elementHandle(),
    );
    assert.equal(await fig.getAttribute('data-zoomed'), 'false');
    await page.mouse.move(box.x + box.width * 0.1, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, y, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction((el) => el?.getAttribute('data-zoomed') === 'true', await fig.elementHandle());
    await shot('charts-zoomed');
    await page.mouse.dblclick(box.x + box.width / 2, y);
    await page.waitForFunction((el) => el?.getAttribute('data-zoomed') === 'false', await fig.elementHandle());
    assert.deepEqual(errors, []);
  });
});
