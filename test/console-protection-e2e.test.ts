// The console's Protection page in Debian's Chromium (playwright-core), on
// real repositories made by the real CLI: one unit on one site only (red,
// with the reason) and one copied to the second site (green); the nav entry;
// a screenshot under test-artifacts/screenshots/protection.png.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { FixedAuthenticator } from './helpers/api-rig.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import { loadConfig } from '../src/config/load.ts';
import { systemClock } from '../src/core/clock.ts';
import { buildApiApp } from '../src/api/http/app.ts';
import type { ApiApp } from '../src/api/http/app.ts';
import { CONSOLE_DIST } from '../src/api/http/routes-console.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve(import.meta.dirname, '..', 'test-artifacts', 'screenshots');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];

/** Whether web/dist was built with the protection page. */
function builtWithPage(): boolean {
  const assets = path.join(CONSOLE_DIST, 'assets');
  if (!fs.existsSync(assets)) return false;
  return fs
    .readdirSync(assets)
    .some((f) => f.endsWith('.js') && fs.readFileSync(path.join(assets, f), 'utf8').includes('No units backed up yet'));
}

const skip = !fs.existsSync(CHROMIUM)
  ? `no ${CHROMIUM} (apt-get install -y chromium)`
  : !builtWithPage()
    ? 'console not built with the protection page (npm run build)'
    : false;

describe('the Protection page in headless Chromium', { skip, timeout: 90_000 }, () => {
  let sb: Sandbox;
  let catalog: Catalog;
  let app: ApiApp;
  let ctx: BrowserContext;
  let page: Page;
  let base = '';
  let profile = '';
  const errors: string[] = [];

  before(async () => {
    sb = makeSandbox('safehold-protection-page-');
    const src = path.join(sb.dir, 'web');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'index.html'), 'hello\n');
    const repo = (name: string, site: string) =>
      `  ${name}: { type: repository, path: '${path.join(sb.dir, name)}', password: { env: SAFEHOLD_PASSWORD }, site: ${site} }`;
    const file = path.join(sb.dir, 'safehold.yaml');
    fs.writeFileSync(
      file,
      `sites: { s1: {}, s2: {} }
targets:
  web: { kind: files, units: { docs: { paths: ['${src}'] } } }
destinations:
${repo('local', 's1')}
${repo('offsite', 's2')}
plans:
  nightly: { destination: local, activities: [{ kind: backup, targets: web }] }
  copy: { destination: local, activities: [{ kind: copy, targets: web, to: offsite }] }
  other: { destination: offsite, activities: [{ kind: backup, targets: web }] }
`,
    );
    for (const args of [
      ['init', '--destination', 'local'],
      ['init', '--destination', 'offsite'],
      ['plan', 'run', 'nightly'],
      ['plan', 'run', 'other'],
      ['plan', 'run', 'copy'],
    ]) {
      const r = await sb.run([...args, '--config', file]);
      assert.equal(r.code, 0, show(r));
    }
    catalog = Catalog.open(sb.data);
    app = await buildApiApp({
      core: null,
      catalog,
      config: loadConfig(file, sb.env),
      auth: new FixedAuthenticator(),
      audit: () => {},
      metrics: { enabled: false, protect: false },
      log: () => {},
      clock: systemClock,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
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
    // The test authenticator's console session (an admin user).
    await ctx.addCookies([{ name: 'safehold_session', value: 'sess-1', url: base }]);
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  });
  after(async () => {
    await ctx?.close();
    await app?.close();
    catalog?.close();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    sb?.cleanup();
  });

  it('shows each unit against each rule, red with the reason or green', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Protection' }).click();
    await page.waitForSelector('table#protection tbody tr');
    assert.equal(new URL(page.url()).pathname, '/protection');
    const rows = page.locator('table#protection tbody tr');
    assert.equal(await rows.count(), 2);
    const bad = page.locator('tr[data-ok="false"]');
    assert.match((await bad.locator('td').first().textContent()) ?? '', /^other$/);
    const sites = bad.locator('td[data-rule="minSites"]');
    assert.equal(await sites.getAttribute('data-ok'), 'false');
    assert.equal(await sites.locator('.chip-bad').textContent(), 'violated');
    assert.match((await sites.textContent()) ?? '', /copies on 1 site \(s2\); 2 needed/);
    const good = page.locator('tr[data-ok="true"]');
    assert.match((await good.locator('td').first().textContent()) ?? '', /^nightly$/);
    assert.equal(await good.locator('.chip-ok').count(), 2, 'minCopies and minSites green');
    assert.match((await page.locator('main').textContent()) ?? '', /1 of 2 unit\(s\) in violation/);
    await page.screenshot({ path: path.join(SHOTS, 'protection.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });
});
