// The console's runbook pages end to end: a real server (ServerCore + the
// control server's --listen API serving web/dist) whose configuration file
// holds a destructive runbook of command, safehold (a real plan run) and
// approval steps, real users, and Debian's Chromium driven headless by
// playwright-core. An operator sees the runbook, its dry run (nothing
// changes), starts it only after typing its name, watches the steps on the
// run page until the approval waits; a viewer's approval is refused with the
// reason; the operator approves (typing the name) and the run succeeds.
// Screenshots go under test-artifacts/screenshots/.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { Catalog } from '../src/catalog/catalog.ts';
import { loadConfig } from '../src/config/load.ts';
import { systemClock } from '../src/core/clock.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { ServerCore } from '../src/scheduler/server-core.ts';
import { startControlServer } from '../src/api/control-server.ts';
import type { ControlServer } from '../src/api/control-server.ts';
import { hashPassword } from '../src/api/auth/index.ts';
import { CONSOLE_DIST } from '../src/api/http/routes-console.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve(import.meta.dirname, '..', 'test-artifacts', 'screenshots');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];
const PASS = 'runbook console password';

const skip = !fs.existsSync(CHROMIUM)
  ? `no ${CHROMIUM} (apt-get install -y chromium)`
  : !fs.existsSync(path.join(CONSOLE_DIST, 'index.html'))
    ? 'console not built (npm run build)'
    : false;

function configText(dir: string): string {
  return `settings: { dataDir: ${dir}/data }
targets:
  app: { kind: files, units: { docs: { paths: [${dir}/src] } } }
destinations:
  local: { type: repository, path: ${dir}/repo, password: "${PASS}" }
plans:
  nightly: { destination: local, activities: [{ kind: backup, targets: app }] }
runbooks:
  failover:
    description: Fail the app over (console test)
    destructive: true
    vars:
      marker: { default: ${dir}/marker }
      who: { description: who asks }
    steps:
      - name: before
        kind: command
        with: { argv: [sh, -c, "echo before-\${vars.who} > \${vars.marker}"] }
      - name: backup
        kind: safehold
        with: { plan: nightly }
      - name: go-ahead
        kind: approval
        with: { role: operator, message: Go ahead? }
      - name: after
        kind: command
        with: { argv: [sh, -c, "echo after >> \${vars.marker}"] }
`;
}

describe('runbook pages in headless Chromium', { skip, timeout: 120_000 }, () => {
  let dir = '';
  let catalog: Catalog;
  let core: ServerCore;
  let cs: ControlServer;
  let ctx: BrowserContext;
  let page: Page;
  let base = '';
  let profile = '';
  let runUrl = '';
  const errors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const login = async (user: string) => {
    await page.goto(`${base}/`);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(PASS);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  };
  const logout = async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-console-runbooks-'));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'a.txt'), 'hello\n');
    await Repository.init(new LocalBackend(path.join(dir, 'repo')), PASS, { kdf: { N: 1024, r: 8, p: 1 } });
    fs.writeFileSync(path.join(dir, 'safehold.yaml'), configText(dir));
    const config = loadConfig(path.join(dir, 'safehold.yaml'), {});
    catalog = Catalog.open(path.join(dir, 'data'));
    catalog.users().add({ name: 'ops', role: 'operator', passwordHash: await hashPassword(PASS) });
    catalog.users().add({ name: 'eve', role: 'viewer', passwordHash: await hashPassword(PASS) });
    core = new ServerCore({
      config,
      catalog,
      clock: systemClock,
      alert: (e) => {
        catalog.alerts().record(e);
      },
      log: () => {},
      pollMs: 5,
      sweepMs: 3_600_000,
    });
    await core.start();
    cs = await startControlServer(core, catalog, {
      socketPath: path.join(dir, 's.sock'),
      listen: { host: '127.0.0.1', port: 0 },
      api: {
        clock: systemClock,
        log: () => {},
        alert: (e) => {
          catalog.alerts().record(e);
        },
      },
    });
    base = `http://${cs.listening}`;
    fs.mkdirSync(SHOTS, { recursive: true });
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 900 },
      timeout: 30_000,
    });
    ctx.setDefaultTimeout(15_000);
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // 401 before login, 403 of the viewer's refused approval: expected.
      if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) errors.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    await ctx?.close();
    await cs?.close();
    await core?.stop(0);
    catalog?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an operator sees the runbook and its dry run, which changes nothing', async () => {
    await login('ops');
    await page.getByRole('link', { name: 'Runbooks', exact: true }).click();
    const card = page.locator('[data-runbook=failover]');
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', /Fail the app over \(console test\)/);
    assert.match((await card.textContent()) ?? '', /destructive/);
    await card.locator('button.open-runbook').click();
    await card.locator('input[name=var-who]').fill('alice');
    await card.locator('button.dry-run').click();
    await page.locator('#dry-run-plan').waitFor({ timeout: 30_000 });
    assert.match((await page.locator('#dry-run-plan').textContent()) ?? '', /run plan nightly/);
    assert.equal(fs.existsSync(path.join(dir, 'marker')), false, 'the dry run ran nothing');
    await shot('runbooks');
  });

  it('starts it only after its name is typed, and follows the steps until the approval waits', async () => {
    const card = page.locator('[data-runbook=failover]');
    assert.equal(await card.locator('button.start').isDisabled(), true, 'destructive: the name first');
    await card.locator('input[name=confirm]').fill('failover');
    await card.locator('button.start').click();
    await page.waitForURL(/\/runbooks\/runs\/[^/]+$/);
    runUrl = page.url();
    await page.locator('tr[data-step=go-ahead][data-status=waiting]').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('tr[data-step=before]').getAttribute('data-status'), 'succeeded');
    assert.equal(await page.locator('tr[data-step=backup]').getAttribute('data-status'), 'succeeded');
    assert.match((await page.locator('tr[data-step=backup] .outputs').textContent()) ?? '', /status=succeeded/);
    const planRun = page.locator('tr[data-step=backup] .outputs a');
    assert.match(
      (await planRun.getAttribute('href')) ?? '',
      /^\/runs\/[0-9a-f]{16}$/,
      'the plan run links to its page',
    );
    assert.equal(fs.readFileSync(path.join(dir, 'marker'), 'utf8'), 'before-alice\n');
    await shot('runbook-run-waiting');
  });

  it("a viewer's approval is refused, with the reason", async () => {
    await logout();
    await login('eve');
    await page.goto(runUrl);
    const row = page.locator('tr[data-step=go-ahead]');
    await row.locator('button.approve').waitFor();
    assert.equal(await row.locator('button.approve').isDisabled(), true, 'the name first');
    await row.locator('input[name=confirm-go-ahead]').fill('failover');
    await row.locator('button.approve').click();
    await page.getByRole('alert').waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /operator/);
    assert.equal(await row.getAttribute('data-status'), 'waiting');
    await logout();
  });

  it('the operator approves (typing the name) and the run succeeds', async () => {
    await login('ops');
    await page.goto(runUrl);
    const row = page.locator('tr[data-step=go-ahead]');
    await row.locator('input[name=confirm-go-ahead]').fill('failover');
    await row.locator('button.approve').click();
    await page.locator('#runbook-run-status [data-status=succeeded]').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('tr[data-step=after]').getAttribute('data-status'), 'succeeded');
    assert.equal(fs.readFileSync(path.join(dir, 'marker'), 'utf8'), 'before-alice\nafter\n');
    await shot('runbook-run-done');
    assert.deepEqual(errors, []);
  });
});
