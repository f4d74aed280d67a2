// The web console end to end: a real server (ServerCore + the control
// server's --listen API serving web/dist) with a files plan, a group plan and
// a repository, a real user (UserStore + scrypt hash), and Debian's Chromium
// driven headless by playwright-core. Logs in (a wrong password first), sees
// the dashboard, runs a plan from the plans page and watches it finish on the
// run page, restores the group into another directory through the wizard
// (and one files snapshot of a unit through its single-unit mode),
// sees the chart page's uPlot charts, and saves a screenshot of every page (and
// of the dashboard on a 390×844 phone viewport) under test-artifacts/screenshots/.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import type { FilesTarget, Group } from '../src/config/types.ts';
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
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
const USER = 'ops';
const PASS = 'console e2e password';

const skip = !fs.existsSync(CHROMIUM)
  ? `no ${CHROMIUM} (apt-get install -y chromium)`
  : !fs.existsSync(path.join(CONSOLE_DIST, 'index.html'))
    ? 'console not built (npm run build)'
    : false;

describe('web console in headless Chromium', { skip, timeout: 90_000 }, () => {
  let w: PlanWorld;
  let core: ServerCore;
  let cs: ControlServer;
  let ctx: BrowserContext;
  let page: Page;
  let base = '';
  let srcDir = '';
  let profile = '';
  const errors: string[] = [];
  const shot = (name: string, p: Page = page) =>
    p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  before(async () => {
    w = await planWorld(
      {},
      { activities: [activity('files', 'backup', 'HOST', '*')], description: 'the files of HOST' },
    );
    srcDir = path.join(w.dir, 'src');
    fs.mkdirSync(path.join(srcDir, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(srcDir, 'docs', 'a.txt'), 'hello console\n');
    fs.writeFileSync(path.join(srcDir, 'docs', 'b.bin'), Buffer.alloc(200_000, 7));
    const host: FilesTarget = {
      kind: 'files',
      name: 'HOST',
      site: null,
      units: { docs: { paths: [path.join(srcDir, 'docs')], exclude: [] } },
    };
    const group: Group = {
      name: 'app',
      mode: 'quiesced',
      members: [{ target: 'HOST', units: ['docs'] }],
      stop: null,
      start: null,
      check: null,
      cleanup: null,
    };
    Object.assign(w.config.targets, { HOST: host });
    Object.assign(w.config, { groups: { app: group } });
    Object.assign(w.config.plans, {
      grp: {
        ...w.config.plans.nightly!,
        name: 'grp',
        description: 'the app group',
        activities: [activity('app', 'backup', '', null, { group: 'app' })],
      },
    });
    w.catalog.users().add({ name: USER, role: 'operator', passwordHash: await hashPassword(PASS) });

    core = new ServerCore({
      config: w.config,
      catalog: w.catalog,
      clock: systemClock,
      alert: (e) => {
        w.catalog.alerts().record(e);
      },
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
      timeout: 30_000,
    });
    ctx.setDefaultTimeout(15_000);
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    await ctx?.close();
    await cs?.close();
    await core?.stop(0);
    await w?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('a wrong password shows an error and no session', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('User name').fill(USER);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    assert.equal(await page.getByRole('alert').textContent(), 'Wrong user name or password.');
    assert.deepEqual(
      (await ctx.cookies()).filter((c) => c.name === 'safehold_session'),
      [],
    );
    await shot('login-error');
  });

  it('logs in and shows the dashboard (plans, protection, counters)', async () => {
    await page.getByLabel('Password').fill(PASS);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    const cookie = (await ctx.cookies()).find((c) => c.name === 'safehold_session')!;
    assert.deepEqual([cookie.httpOnly, cookie.sameSite, cookie.secure], [true, 'Strict', false]);
    await page.locator('#dashboard-plans tbody tr').first().waitFor();
    assert.deepEqual(await page.locator('#dashboard-plans tbody tr td:first-child a').allTextContents(), [
      'nightly',
      'grp',
    ]);
    assert.equal(await page.locator('#stat-failures24h .stat-value').textContent(), '0');
    assert.match((await page.locator('.who').textContent()) ?? '', /ops \(operator\)/);
    await shot('dashboard');
  });

  it('runs a plan from the plans page and watches it finish on the run page', async () => {
    await page.getByRole('link', { name: 'Plans', exact: true }).click();
    await page.locator('[data-plan=nightly]').waitFor();
    await shot('plans');
    await page.locator('[data-plan=nightly] button.run-now').click();
    await page.waitForURL(/\/runs\/[0-9a-f]{16}$/);
    const runId = page.url().split('/').pop()!;
    await page.locator('#run-status[data-status=succeeded]').waitFor({ timeout: 30_000 });
    assert.deepEqual(
      await page.locator('#tasks tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status'))),
      ['succeeded'],
    );
    assert.equal(await page.locator('#tasks tbody tr td:nth-child(3)').textContent(), 'HOST/docs');
    assert.ok((await page.locator('#run-log .log-line').count()) > 2, 'the log was tailed');
    assert.equal(w.catalog.planRuns().getRun(runId)!.status, 'succeeded');
    assert.equal(w.catalog.planRuns().getRun(runId)!.trigger, 'on-demand');
    await shot('run');
    // The group plan too, for the restore below.
    await page.getByRole('link', { name: 'Plans', exact: true }).click();
    await page.locator('[data-plan=grp] button.run-now').click();
    await page.waitForURL(/\/runs\/[0-9a-f]{16}$/);
    await page.locator('#run-status[data-status=succeeded]').waitFor({ timeout: 30_000 });
  });

  it('restores the group into another directory through the wizard', async () => {
    const to = path.join(w.dir, 'restored');
    fs.mkdirSync(to);
    await page.getByRole('link', { name: 'Restore', exact: true }).click();
    await page.locator('input[name=group][value="app@local"]').check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('input[name=snapshot][value=latest]').waitFor();
    assert.equal(await page.locator('#step-snapshot label.choice').count(), 2, 'latest and the one group run');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('input[name=filesTo]').fill(to);
    await shot('restore-target');
    await page.getByRole('button', { name: 'Next' }).click();
    // The API's dry run, before the confirm button: into a new place, no live data, no hook runs.
    await page.locator('#restore-plan').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#restore-plan').getAttribute('data-live'), 'false');
    assert.match((await page.locator('#plan-safety').textContent()) ?? '', /not needed: nothing that exists now/);
    assert.equal(fs.readdirSync(to).length, 0, 'the dry run wrote nothing');
    await shot('restore-confirm');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.locator('#restore-result').waitFor({ timeout: 30_000 });
    assert.equal(
      await page.locator('#restore-result').getAttribute('data-ok'),
      'true',
      (await page.locator('#restore-result').textContent()) ?? '',
    );
    assert.equal(fs.readFileSync(path.join(to, srcDir, 'docs', 'a.txt'), 'utf8'), 'hello console\n');
    assert.equal(await page.locator('#restored tbody tr td:first-child').textContent(), 'HOST/docs');
    // A safety backup was asked for (the default): nothing that existed was overwritten, so none was needed.
    assert.equal(await page.locator('#safety').textContent(), 'not needed: nothing that existed was overwritten');
    await shot('restore-result');
  });

  it('restores one files snapshot of a unit into another directory (single unit mode)', async () => {
    const to = path.join(w.dir, 'restored-unit');
    await page.getByRole('link', { name: 'Restore', exact: true }).click();
    await page.locator('input[name=mode][value=unit]').check();
    await page.locator('input[name=unit][value="HOST/docs@local"]').check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('#step-unit-snapshot').waitFor();
    assert.equal(await page.locator('#step-unit-snapshot label.choice').count(), 2, 'the snapshots of nightly and grp');
    const chosen = await page.locator('input[name=unit-snapshot]:checked').getAttribute('value');
    assert.match(chosen ?? '', /^[0-9a-f]{64}$/);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('input[name=unit-target]').fill(to);
    await shot('restore-unit-place');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.locator('#unit-restore-result').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#unit-restored').textContent(), 'HOST/docs');
    assert.equal(await page.locator('#unit-into').textContent(), to);
    assert.equal(fs.readFileSync(path.join(to, srcDir, 'docs', 'a.txt'), 'utf8'), 'hello console\n');
    assert.equal(fs.readFileSync(path.join(to, srcDir, 'docs', 'b.bin')).length, 200_000);
    await shot('restore-unit-result');
  });

  it('shows the charts of a plan (uPlot canvases with their points)', async () => {
    await page.getByRole('link', { name: 'Charts', exact: true }).click();
    await page.locator('#chart-bytes canvas').first().waitFor();
    assert.equal(
      await page.locator('#chart-bytes figure').getAttribute('data-points'),
      '1',
      'one finished run of nightly',
    );
    assert.equal(await page.locator('#chart-duration figure').getAttribute('data-points'), '1');
    await page.locator('#chart-repo canvas').first().waitFor();
    await shot('charts');
  });

  it('shows snapshots per unit, runs, drills and alerts', async () => {
    await page.getByRole('link', { name: 'Snapshots', exact: true }).click();
    await page.locator('[data-unit="HOST/docs"]').waitFor();
    assert.match(
      (await page.locator('[data-unit="HOST/docs"] h2').textContent()) ?? '',
      /^HOST\/docs 2 snapshots, .+ added$/,
    );
    await shot('snapshots');
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.locator('table tbody tr').nth(1).waitFor();
    await shot('runs');
    await page.getByRole('link', { name: 'Drills', exact: true }).click();
    await page.getByText('No drills yet').waitFor();
    await shot('drills');
    await page.getByRole('link', { name: 'Alerts', exact: true }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    await page.waitForLoadState('networkidle');
    await shot('alerts');
  });

  it('fits a 390×844 phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'menu' }).click();
    await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
    await page.locator('#dashboard-plans tbody tr').first().waitFor();
    const overflow = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    assert.ok(overflow <= 390, `page is ${overflow}px wide`);
    await shot('dashboard-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('a reload keeps the session (SPA fallback), logout ends it', async () => {
    await page.goto(`${base}/plans`);
    await page.locator('[data-plan=grp]').waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    const s = await page.evaluate(async () => (await fetch('/api/session')).status);
    assert.equal(s, 401);
    assert.deepEqual(errors, []);
  });
});
