// `safehold plan run`, `runs` and `run show` through the real CLI, with a
// YAML configuration whose devices are appliance simulators.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { startAppliance } from './helpers/appliance-server.ts';
import { until } from './helpers/wait.ts';

/** A files target `web` (one unit) in a sandbox, and plans over it written by `plans`. */
function filesConfig(sb: Sandbox, plans: string): string {
  const src = path.join(sb.dir, 'web');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'index.html'), 'hello\n');
  const file = path.join(sb.dir, 'safehold.yaml');
  fs.writeFileSync(
    file,
    `targets:
  web: { kind: files, units: { site: { paths: ['${src}'] } } }
destinations:
  local: { type: repository, path: '${sb.repo}', password: { env: SAFEHOLD_PASSWORD } }
${plans}`,
  );
  return file;
}

describe('plan run on the command line', () => {
  it('runs a DPOD-style plan from YAML: five tasks in order, exit 3 (one skipped), visible in runs and run show', async (t) => {
    const sb = makeSandbox();
    const devices = {
      QA1: await startAppliance({ token: 'tok' }),
      QA2: await startAppliance({ token: 'tok' }),
      TEST8: await startAppliance({ token: 'tok', units: ['DOMAIN1', 'DOMAIN2'] }),
      TEST9: await startAppliance({ token: 'tok', available: false }),
    };
    t.after(async () => {
      await Promise.all(Object.values(devices).map((d) => d.close()));
      sb.cleanup();
    });
    await sb.init();
    const yaml = (backups: string) => `
settings:
  backups: ${backups}
targets:
${Object.entries(devices)
  .map(
    ([n, d]) =>
      `  ${n}:\n    kind: device\n    adapter:\n      http: { url: '${d.url}', token: { env: ADAPTER_TOKEN } }`,
  )
  .join('\n')}
destinations:
  local:
    type: repository
    path: ${sb.repo}
    password: { env: SAFEHOLD_PASSWORD }
plans:
  nightly:
    destination: local
    activities:
      - { name: secure-backup, kind: backup, targets: 'QA*' }
      - { name: export-domains, kind: export, targets: 'TEST[89]', units: 'DOMAIN*' }
`;
    const file = path.join(sb.dir, 'safehold.yaml');
    fs.writeFileSync(file, yaml('enabled'));
    const env = { ADAPTER_TOKEN: 'tok' };
    const r = await sb.run(['plan', 'run', 'nightly', '--config', file, '--json'], { env });
    assert.equal(r.code, 3, show(r));
    const doc = r.json();
    assert.equal(doc.run.status, 'partial');
    assert.equal(doc.run.trigger, 'on-demand', 'a run from the command line is an on-demand run');
    assert.deepEqual(
      doc.tasks.map((x: { target: string; unit: string | null; status: string }) => [x.target, x.unit, x.status]),
      [
        ['QA1', null, 'succeeded'],
        ['QA2', null, 'succeeded'],
        ['TEST8', 'DOMAIN1', 'succeeded'],
        ['TEST8', 'DOMAIN2', 'succeeded'],
        ['TEST9', 'DOMAIN*', 'skipped'],
      ],
    );

    const human = await sb.run(['plan', 'run', 'nightly', '--config', file], { env });
    assert.equal(human.code, 3, show(human));
    assert.match(
      human.stdout,
      /TEST9\s+DOMAIN\*\s+skipped\s+target TEST9 is unavailable: TEST9 answers that it is not available/,
    );

    const runs = await sb.run(['runs', '--json', '--command', 'plan']);
    assert.deepEqual(
      runs.json().map((x: { kind: string; plan: string }) => [x.kind, x.plan]),
      [
        ['plan', 'nightly'],
        ['plan', 'nightly'],
      ],
    );
    const shown = await sb.run(['run', 'show', doc.run.id.slice(0, 10), '--json']);
    assert.equal(shown.code, 0, show(shown));
    assert.equal(shown.json().tasks.length, 5);
    assert.ok(shown.json().log.some((l: { message: string }) => l.message.startsWith('5 task(s) created, 1 skipped')));
    const text = await sb.run(['run', 'show', doc.run.id]);
    assert.match(text.stdout, /backup of QA1 saved as snapshot [0-9a-f]{8}/);

    fs.writeFileSync(file, yaml('disabled'));
    const refused = await sb.run(['plan', 'run', 'nightly', '--config', file, '--json'], { env });
    assert.equal(refused.code, 4, show(refused));
    assert.equal(refused.json().run.reason, 'backups are disabled (settings.backups)');

    const missing = await sb.run(['plan', 'run', 'weekly', '--config', file], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no plan 'weekly'/);
    assert.equal((await sb.run(['plan', 'run', 'nightly'], { env })).code, 2, 'no configuration: usage error');
    // Every run from the command line is on demand: there is no option saying so.
    const flag = await sb.run(['plan', 'run', 'nightly', '--on-demand', '--config', file], { env });
    assert.equal(flag.code, 2, show(flag));
    assert.match(flag.stderr, /unknown option '--on-demand'/i);
    assert.equal((await sb.run(['run', 'show', 'ffffffffff'])).code, 1);
  });

  it("a refusal for a held scope is said once, naming the holder's real activity (a backup, not its plan's purge)", async (t) => {
    const sb = makeSandbox();
    t.after(() => sb.cleanup());
    await sb.init();
    const held = path.join(sb.dir, 'held');
    const release = path.join(sb.dir, 'release');
    const file = filesConfig(
      sb,
      `hooks:
  hold: { command: [sh, -c, 'touch ${held}; while [ ! -e ${release} ]; do sleep 0.1; done'], timeout: 1m }
plans:
  slow:
    destination: local
    retention: { keepLast: 5 }
    prePlan: hold
    activities:
      - { kind: backup, targets: web }
      - { kind: purge, targets: web }
  quick:
    destination: local
    activities:
      - { kind: backup, targets: [web] }
`,
    );
    const holder = sb.run(['plan', 'run', 'slow', '--config', file, '--json']);
    await until(() => fs.existsSync(held), 'the holder to take its locks', 30_000, 50);
    const r = await sb.run(['plan', 'run', 'quick', '--config', file]);
    fs.writeFileSync(release, '');
    assert.equal(r.code, 4, show(r));
    assert.equal(r.stdout.split('is held by').length - 1, 1, `the refusal is printed once:\n${r.stdout}`);
    assert.match(r.stdout, /unit:web\/site is held by run [0-9a-f]{8} \(plan slow: backup of web\/site, pid/);
    assert.doesNotMatch(r.stdout, /\(purge/);
    assert.match(r.stdout, /web\s+site\s+cancelled\s+not run: the run was refused/);
    const h = await holder;
    assert.equal(h.code, 0, show(h));
  });

  it('--ignore-window runs an on-demand backup outside the maintenance window and writes an audit entry; without it the run is refused', async (t) => {
    const sb = makeSandbox();
    t.after(() => sb.cleanup());
    await sb.init();
    // A window open one minute a year (never now, unless the test runs at midnight on New Year's Day).
    const file = filesConfig(
      sb,
      `plans:
  nightly:
    destination: local
    window: { cron: '0 0 1 1 *', timezone: UTC }
    activities:
      - { kind: backup, targets: web }
`,
    );
    const refused = await sb.run(['plan', 'run', 'nightly', '--config', file, '--json']);
    assert.equal(refused.code, 4, show(refused));
    assert.match(refused.json().run.reason, /^outside the maintenance window/);
    assert.deepEqual((await sb.run(['audit', '--json'])).json(), [], 'no audit entry without --ignore-window');

    const r = await sb.run(['plan', 'run', 'nightly', '--ignore-window', '--config', file, '--json']);
    assert.equal(r.code, 0, show(r));
    const doc = r.json();
    assert.equal(doc.run.status, 'succeeded');
    assert.deepEqual(
      doc.tasks.map((x: { target: string; status: string }) => [x.target, x.status]),
      [['web', 'succeeded']],
    );
    const audit = (await sb.run(['audit', '--json'])).json();
    assert.equal(audit.length, 1);
    assert.equal(audit[0].principal, os.userInfo().username);
    assert.equal(audit[0].path, 'plan nightly --ignore-window');
    assert.equal(audit[0].requestId, doc.run.id);
    assert.match(audit[0].detail, /maintenance window ignored \(outside the maintenance window/);
    const shown = (await sb.run(['run', 'show', doc.run.id, '--json'])).json();
    assert.ok(
      shown.log.some((l: { message: string }) =>
        l.message.startsWith(`maintenance window ignored, asked by ${os.userInfo().username}`),
      ),
      'the run record says the window was ignored',
    );
  });
});
