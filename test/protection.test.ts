// The protection report on real repositories and directories made by the
// real CLI (plan runs), the machine's catalog in a temp dir: a unit copied to
// one site only is in violation (minSites), a copy to a destination without
// a site does not help, a copy to the second site does; rpo and drillWithin
// with a ManualClock; the alert fires once on entering and a notice once on
// leaving (alerts in the catalog and deliveries of a command channel);
// `safehold protection --json` (shape and exit code); GET /api/protection and
// the Prometheus gauge; the server's periodic evaluation on the clock.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { FixedAuthenticator, TOKENS } from './helpers/api-rig.ts';
import { until } from './helpers/wait.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import { loadConfig } from '../src/config/load.ts';
import type { Config } from '../src/config/types.ts';
import { ManualClock, systemClock } from '../src/core/clock.ts';
import { alerter } from '../src/alerts/from-config.ts';
import { evaluateProtection } from '../src/plans/protection/evaluate.ts';
import { ProtectionMonitor, recordProtection } from '../src/plans/protection/monitor.ts';
import type { ProtectionReport, UnitProtection } from '../src/plans/protection/report-types.ts';
import { buildApiApp } from '../src/api/http/app.ts';
import { ServerCore } from '../src/scheduler/server-core.ts';
import type { ApiApp } from '../src/api/http/app.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function writeConfig(sb: Sandbox, extra = '', nightlyExtra = ''): string {
  const src = path.join(sb.dir, 'web');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'index.html'), 'hello\n');
  for (const d of ['gen1', 'gen2']) fs.mkdirSync(path.join(sb.dir, d), { recursive: true });
  const repo = (name: string, site: string | null) =>
    `  ${name}: { type: repository, path: '${path.join(sb.dir, name)}', password: { env: SAFEHOLD_PASSWORD }${site ? `, site: ${site}` : ''} }`;
  const file = path.join(sb.dir, extra || nightlyExtra ? 'rules.yaml' : 'safehold.yaml');
  fs.writeFileSync(
    file,
    `sites:
  s1: { description: first site }
  s2: { description: second site }
targets:
  web: { kind: files, units: { docs: { paths: ['${src}'] } } }
destinations:
${repo('local', 's1')}
${repo('offsite', 's2')}
${repo('spare', null)}
  gen1: { type: directory, path: '${path.join(sb.dir, 'gen1')}', site: s1 }
  gen2: { type: directory, path: '${path.join(sb.dir, 'gen2')}', site: s2 }
alerts:
  channels:
    log: { type: command, command: [sh, -c, 'cat >> ${path.join(sb.dir, 'deliveries.jsonl')}'] }
plans:
  nightly:
    destination: local
    activities: [{ kind: backup, targets: web }]
${nightlyExtra}
  offsite:
    destination: local
    activities: [{ kind: copy, targets: web, to: offsite }]
  spare:
    destination: local
    activities: [{ kind: copy, targets: 'w*', to: spare }]
  drill:
    destination: local
    activities: [{ kind: drill, targets: web }]
  files:
    destination: gen1
    activities: [{ kind: backup, targets: web }]
  files-copy:
    destination: gen1
    activities: [{ kind: copy, targets: web, to: gen2 }]
${extra}`,
  );
  return file;
}

const unitOf = (r: ProtectionReport, plan: string) => {
  const u = r.units.find((x) => x.plan === plan && x.target === 'web' && x.unit === 'docs');
  assert.ok(u, `unit ${plan}/web/docs in ${JSON.stringify(r.units.map((x) => [x.plan, x.target, x.unit]))}`);
  return u;
};
const rule = (u: UnitProtection, name: string) => {
  const r = u.rules.find((x) => x.rule === name);
  assert.ok(r, `rule ${name} of ${JSON.stringify(u.rules)}`);
  return r;
};

describe('the protection report', () => {
  let sb: Sandbox;
  let file: string;
  let config: Config;
  let catalog: Catalog;
  const run = async (...args: string[]) => {
    const r = await sb.run([...args, '--config', file]);
    assert.equal(r.code, 0, show(r));
  };
  const cli = () => sb.run(['protection', '--json', '--config', file]);
  /** One evaluation recorded as the server does, alerts sent on the configured channels and awaited. */
  const record = async (clock = systemClock) => {
    const report = await evaluateProtection({ config, catalog, clock });
    const a = alerter(catalog, config.alerts, clock);
    recordProtection(report, catalog, (e) => a.alert(e));
    await a.flush();
    return report;
  };
  const alerts = () => catalog.alerts().list({ event: 'protection-violation' }).reverse();
  const deliveries = () => {
    const f = path.join(sb.dir, 'deliveries.jsonl');
    return fs.existsSync(f)
      ? fs
          .readFileSync(f, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
      : [];
  };

  before(async () => {
    sb = makeSandbox('safehold-protection-');
    file = writeConfig(sb);
    for (const d of ['local', 'offsite', 'spare']) await run('init', '--destination', d);
    config = loadConfig(file, sb.env);
    await run('plan', 'run', 'nightly');
    catalog = Catalog.open(sb.data);
  });
  after(() => {
    catalog?.close();
    sb.cleanup();
  });

  it('one site only: in violation (CLI exit 1, --json shape); one alert on entering, none while it stays', async () => {
    const r = await cli();
    assert.equal(r.code, 1, show(r));
    const doc = r.json<ProtectionReport>();
    assert.deepEqual(Object.keys(doc).sort(), ['destinations', 'evaluatedAt', 'ok', 'units']);
    assert.equal(doc.ok, false);
    const u = unitOf(doc, 'nightly');
    assert.deepEqual(Object.keys(u).sort(), [
      'copies',
      'lastDrill',
      'newest',
      'ok',
      'plan',
      'rules',
      'sites',
      'target',
      'unit',
    ]);
    assert.deepEqual(
      u.copies.map((c) => [c.destination, c.site, c.count, c.error]),
      [
        ['local', 's1', 1, null],
        ['offsite', 's2', 0, null],
        ['spare', null, 0, null],
      ],
    );
    assert.deepEqual(
      u.sites.map((s) => s.site),
      ['s1'],
    );
    assert.deepEqual(
      u.rules.map((x) => [x.rule, x.ok, x.expected, x.actual]),
      [
        ['minCopies', false, 2, 1],
        ['minSites', false, 2, 1],
      ],
    );
    assert.match(rule(u, 'minSites').why, /copies on 1 site \(s1\); 2 needed/);
    const human = await sb.run(['protection', '--config', file]);
    assert.equal(human.code, 1, show(human));
    assert.match(human.stdout, /nightly\/web\/docs\s+minSites\s+VIOLATED\s+copies on 1 site/);

    await record();
    await record();
    const list = alerts();
    assert.equal(list.length, 1, JSON.stringify(list));
    assert.equal(list[0]!.severity, 'critical');
    assert.deepEqual(
      [list[0]!.details.plan, list[0]!.details.target, list[0]!.details.unit],
      ['nightly', 'web', 'docs'],
    );
    assert.deepEqual(
      (list[0]!.details.rules as { rule: string }[]).map((x) => x.rule),
      ['minCopies', 'minSites'],
    );
    assert.equal(deliveries().length, 1, 'delivered once on the command channel');
  });

  it('a copy to a destination without a site does not count for a site', async () => {
    await run('plan', 'run', 'spare');
    const u = unitOf(await record(), 'nightly');
    assert.equal(rule(u, 'minCopies').ok, true);
    assert.equal(rule(u, 'minSites').ok, false);
    assert.match(rule(u, 'minSites').why, /spare has no site and counts for none/);
    assert.equal(alerts().length, 1, 'still in violation: no second alert');
  });

  it('after a copy to the second site it is protected: exit 0, one notice, then nothing', async () => {
    await run('plan', 'run', 'offsite');
    const r = await cli();
    assert.equal(r.code, 0, show(r));
    const u = unitOf(r.json<ProtectionReport>(), 'nightly');
    assert.equal(u.ok, true);
    assert.deepEqual(
      u.sites.map((s) => s.site),
      ['s1', 's2'],
    );
    assert.equal(rule(u, 'minSites').actual, 2);
    await record();
    await record();
    const list = alerts();
    assert.equal(list.length, 2, JSON.stringify(list));
    assert.equal(list[1]!.severity, 'info');
    assert.match(list[1]!.summary, /nightly\/web\/docs is protected again/);
    assert.equal(deliveries().length, 2);
    assert.deepEqual(catalog.protection().violations(), []);
  });

  it('directory destinations: closed generations count, per site', async () => {
    await run('plan', 'run', 'files');
    let u = unitOf(await evaluateProtection({ config, catalog, clock: systemClock }), 'files');
    assert.deepEqual(
      u.copies.map((c) => [c.destination, c.count]),
      [
        ['gen1', 1],
        ['gen2', 0],
      ],
    );
    assert.equal(u.ok, false);
    await run('plan', 'run', 'files-copy');
    u = unitOf(await evaluateProtection({ config, catalog, clock: systemClock }), 'files');
    assert.deepEqual(
      u.copies.map((c) => [c.destination, c.site, c.count]),
      [
        ['gen1', 's1', 1],
        ['gen2', 's2', 1],
      ],
    );
    assert.equal(u.ok, true);
  });

  it('rpo (a plan override of the global rule) and drillWithin, on a ManualClock', async () => {
    const rules = loadConfig(
      writeConfig(sb, 'protection: { rpo: 26h, drillWithin: 30d }', '    protection: { rpo: 2h }'),
      sb.env,
    );
    const newest = unitOf(await evaluateProtection({ config, catalog, clock: systemClock }), 'nightly').newest!;
    const at = async (ms: number) =>
      unitOf(await evaluateProtection({ config: rules, catalog, clock: new ManualClock(ms) }), 'nightly');
    let u = await at(newest + HOUR);
    assert.deepEqual([rule(u, 'rpo').ok, rule(u, 'rpo').expected], [true, 2 * HOUR]);
    assert.equal(rule(u, 'drillWithin').ok, false);
    assert.match(rule(u, 'drillWithin').why, /no passed restore drill recorded; one within 30d needed/);
    u = await at(newest + 3 * HOUR);
    assert.deepEqual([rule(u, 'rpo').ok, rule(u, 'rpo').actual], [false, 3 * HOUR]);
    assert.match(rule(u, 'rpo').why, /is 3h old; more than the 2h allowed/);
    const other = unitOf(
      await evaluateProtection({ config: rules, catalog, clock: new ManualClock(newest + 3 * HOUR) }),
      'files',
    );
    assert.equal(rule(other, 'rpo').expected, 26 * HOUR, 'other plans keep the global rpo');

    await run('plan', 'run', 'drill');
    const drilled = catalog.drills().list({ target: 'web' })[0]!;
    assert.equal(drilled.status, 'passed');
    u = await at(drilled.finishedAt + HOUR);
    assert.equal(rule(u, 'drillWithin').ok, true);
    assert.equal(u.lastDrill, drilled.finishedAt);
    u = await at(drilled.finishedAt + 31 * DAY);
    assert.equal(rule(u, 'drillWithin').ok, false);
    assert.match(rule(u, 'drillWithin').why, /was 31d ago; one within 30d was needed/);
  });

  it('GET /api/protection (viewer) and the safehold_protection_ok gauge', async () => {
    const app: ApiApp = await buildApiApp({
      core: null,
      catalog,
      config,
      auth: new FixedAuthenticator(),
      audit: () => {},
      metrics: { enabled: true, protect: false },
      log: () => {},
      clock: systemClock,
    });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const get = (p: string, token?: string) =>
        fetch(base + p, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      assert.equal((await get('/api/protection')).status, 401);
      const res = await get('/api/protection', TOKENS.viewer);
      assert.equal(res.status, 200);
      const { report } = (await res.json()) as { report: ProtectionReport };
      assert.equal(unitOf(report, 'nightly').ok, true);
      assert.deepEqual(
        report.destinations.map((d) => [d.name, d.site, d.error]),
        [
          ['local', 's1', null],
          ['offsite', 's2', null],
          ['spare', null, null],
          ['gen1', 's1', null],
          ['gen2', 's2', null],
        ],
      );
      const cached = (await (await get('/api/protection?cached=true', TOKENS.viewer)).json()) as {
        report: ProtectionReport;
      };
      assert.equal(cached.report.evaluatedAt, catalog.protection().lastReport<ProtectionReport>()!.evaluatedAt);
      const metrics = await (await get('/metrics')).text();
      assert.match(metrics, /^# TYPE safehold_protection_ok gauge$/m);
      assert.match(metrics, /^safehold_protection_ok\{plan="nightly",target="web",unit="docs",rule="minSites"\} 1$/m);
    } finally {
      await app.close();
    }
  });

  it('an unreadable destination is reported with the reason and holds nothing', async () => {
    const moved = path.join(sb.dir, 'offsite-away');
    fs.renameSync(path.join(sb.dir, 'offsite'), moved);
    try {
      const r = await evaluateProtection({ config, catalog, clock: systemClock });
      const d = r.destinations.find((x) => x.name === 'offsite')!;
      assert.match(d.error ?? '', /offsite/);
      const u = unitOf(r, 'nightly');
      assert.equal(u.copies.find((c) => c.destination === 'offsite')!.count, 0);
      assert.equal(rule(u, 'minSites').ok, false);
      assert.match(rule(u, 'minSites').why, /offsite could not be read/);
    } finally {
      fs.renameSync(moved, path.join(sb.dir, 'offsite'));
    }
  });

  it('covers only units a plan still backs up; the protection section is validated with the file', async () => {
    const nightly = config.plans.nightly!;
    const changed: Config = {
      ...config,
      plans: { ...config.plans, nightly: { ...nightly, activities: [{ ...nightly.activities[0]!, units: 'other*' }] } },
    };
    const r = await evaluateProtection({ config: changed, catalog, clock: systemClock });
    assert.deepEqual(
      r.units.map((u) => u.plan),
      ['files'],
      'nightly no longer backs up web/docs',
    );
    const bad = path.join(sb.dir, 'bad.yaml');
    fs.writeFileSync(bad, 'protection:\n  minSite: 2\n  rpo: soon\n');
    assert.throws(
      () => loadConfig(bad, sb.env),
      (e: Error) =>
        /bad\.yaml:2:\d+.*minSite.*did you mean 'minSites'|minSites/s.test(e.message) &&
        /bad\.yaml:3:\d+.*rpo/s.test(e.message),
    );
  });

  it('the server evaluates every checkEvery on its clock, only with sites or a protection section', async () => {
    const clock = new ManualClock(Date.now());
    const core = new ServerCore({ config, catalog, clock, alert: () => {}, log: () => {} });
    await core.start();
    try {
      const at = () => catalog.protection().lastReport<ProtectionReport>()?.evaluatedAt;
      const t0 = clock.now();
      await until(() => at() === t0, 'the first evaluation');
      await until(() => clock.waiting >= 2, 'the server to sleep');
      await clock.advance(15 * 60_000 - 1);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(at(), t0, 'not before checkEvery');
      await clock.advance(1);
      await until(() => at() === t0 + 15 * 60_000, 'the second evaluation, 15m later');
    } finally {
      await core.stop(0);
    }
    const bare = path.join(sb.dir, 'bare.yaml');
    fs.writeFileSync(
      bare,
      `destinations:
  local: { type: repository, path: '${path.join(sb.dir, 'local')}', password: { env: SAFEHOLD_PASSWORD } }
targets:
  web: { kind: files, units: { docs: { paths: ['${path.join(sb.dir, 'web')}'] } } }
plans:
  nightly: { destination: local, activities: [{ kind: backup, targets: web }] }
`,
    );
    const plain = loadConfig(bare, sb.env);
    assert.equal(ProtectionMonitor.wanted(config), true);
    assert.equal(ProtectionMonitor.wanted(plain), false);
    const idle = new ProtectionMonitor({ config: () => plain, catalog, clock, alert: () => {}, log: () => {} });
    assert.equal(await idle.tick(), null, 'no evaluation without sites or a protection section');
  });
});
