// Good configuration files: the examples load; defaults are applied;
// durations, sizes, days and paths are compiled; secrets are resolved from
// the file, the environment or a file and never shown by redaction, JSON or
// inspect; the result is frozen all the way down.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { loadConfig } from './load.ts';
import { redactConfig } from './redact.ts';
import { localTimeZone } from './values.ts';
import type { CommandTarget, Config, DeviceTarget, FilesTarget, RepositoryDestination } from './types.ts';

const EXAMPLES = path.resolve(import.meta.dirname, '..', '..', 'examples');
const EXAMPLE_ENV = {
  DPOD_ADAPTER_TOKEN: 'dpod-token-Kq1',
  DPOD_REPO_PASSWORD: 'dpod-pw-Kq2',
  CVP_PGPASSWORD: 'cvp-pg-Kq3',
  CVP_REPO_PASSWORD: 'cvp-pw-Kq4',
  FILES_REPO_PASSWORD: 'files-pw-Kq5',
  SERVER_PGPASSWORD: 'srv-pg-Kq6',
  SERVER_REPO_PASSWORD: 'srv-pw-Kq7',
  SERVER_OFFSITE_PASSWORD: 'srv-off-Kq8',
  SERVER_HOOK_SECRET: 'srv-hook-Kq9',
  SERVER_SMTP_PASSWORD: 'srv-smtp-Kr0',
};

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cfg-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

function load(yaml: string, env: NodeJS.ProcessEnv = {}, setup?: (dir: string) => void): Config {
  const dir = path.join(root, String(++n));
  fs.mkdirSync(dir);
  setup?.(dir);
  const file = path.join(dir, 'safehold.yaml');
  fs.writeFileSync(file, yaml);
  return loadConfig(file, env);
}

/** Every object reachable from `v`, with its path. */
function* objects(v: unknown, at = 'config'): Generator<[string, object]> {
  if (v === null || typeof v !== 'object') return;
  yield [at, v];
  for (const [k, x] of Object.entries(v)) yield* objects(x, `${at}.${k}`);
}

const MINIMAL = `targets:
  QA1:
    kind: device
    adapter:
      http: { url: 'https://qa1.example.com:5554' }
  db:
    kind: command
    backup: [pg_dump, app]
  web:
    kind: files
    units:
      etc: { paths: [/etc] }
destinations:
  local:
    type: repository
    path: repo
    password: inline-pw-Zz0
hooks:
  flush:
    command: [sync]
plans:
  nightly:
    destination: local
    activities:
      - kind: backup
        targets: 'QA*'
        preTask: flush
      - kind: export
        targets: 'TEST[89]'
        units: 'DOMAIN*'
        postTask: flush
`;

describe('loading configuration files', () => {
  it('every example in examples/ loads', () => {
    const files = fs
      .readdirSync(EXAMPLES)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    assert.deepEqual(files, ['cvp-nightly.yaml', 'dpod.yaml', 'files.yaml', 'server.yaml']);
    for (const f of files) {
      const c = loadConfig(path.join(EXAMPLES, f), EXAMPLE_ENV);
      assert.ok(Object.keys(c.plans).length > 0, f);
      assert.equal(c.file, path.join(EXAMPLES, f));
    }
  });

  it("the DPOD example: QA1-3, TEST8, TEST9; backup 'QA*' then export 'DOMAIN*' on 'TEST[89]'", () => {
    const c = loadConfig(path.join(EXAMPLES, 'dpod.yaml'), EXAMPLE_ENV);
    assert.deepEqual(Object.keys(c.targets), ['QA1', 'QA2', 'QA3', 'TEST8', 'TEST9']);
    assert.ok(Object.values(c.targets).every((t) => t.kind === 'device'));
    const plan = c.plans['dpod-nightly']!;
    assert.deepEqual(
      plan.activities.map((a) => [a.kind, a.targets, a.units, a.quiesce]),
      [
        ['backup', ['QA*'], null, true],
        ['export', ['TEST[89]'], 'DOMAIN*', true],
      ],
    );
    assert.equal(plan.destination, 'store');
    assert.deepEqual(c.destinations.store!.minFree, { fraction: 0.15 });
    assert.equal(c.destinations.store!.requireMount, true);
    assert.equal(plan.prePlan?.name, 'check-store');
    assert.deepEqual(plan.window, {
      type: 'ranges',
      timezone: 'Europe/Berlin',
      ranges: [
        { days: [1, 2, 3, 4, 5], from: '22:00', to: '06:00' },
        { days: [0, 6], from: '00:00', to: '24:00' },
      ],
    });
    const test8 = c.targets.TEST8 as DeviceTarget;
    assert.equal(test8.adapter.type, 'command');
    assert.equal(test8.adapter.type === 'command' && test8.adapter.env.DP_PASSWORD!.value, 'dpod-token-Kq1');
  });

  it('the CVP example: a command target dumped nightly at 02:00 inside 01:00-05:00', () => {
    const c = loadConfig(path.join(EXAMPLES, 'cvp-nightly.yaml'), EXAMPLE_ENV);
    const db = c.targets['cvp-db'] as CommandTarget;
    assert.equal(db.kind, 'command');
    assert.equal(db.timeoutMs, 3 * 3_600_000);
    assert.deepEqual(Object.fromEntries(Object.entries(db.env).map(([k, s]) => [k, s.source])), {
      PGHOST: 'inline',
      PGUSER: 'inline',
      PGPASSWORD: 'env:CVP_PGPASSWORD',
    });
    const plan = c.plans['cvp-nightly']!;
    assert.deepEqual(plan.schedule, { cron: '0 2 * * *', timezone: localTimeZone() });
    assert.deepEqual(plan.window, {
      type: 'ranges',
      timezone: 'America/New_York',
      ranges: [{ days: [0, 1, 2, 3, 4, 5, 6], from: '01:00', to: '05:00' }],
    });
    assert.deepEqual(plan.retention, {
      keepLast: null,
      keepHourly: null,
      keepDaily: 14,
      keepWeekly: 8,
      keepMonthly: 6,
      keepYearly: null,
      keepWithinMs: null,
    });
    assert.deepEqual(c.destinations['nightly-repo']!.minFree, { bytes: 20 * 2 ** 30 });
  });

  it('defaults are applied', () => {
    const c = load(MINIMAL);
    assert.deepEqual(c.settings, {
      backupsEnabled: true,
      dataDir: null,
      quiesceGraceMs: 180_000,
      maxParallelRuns: 2,
      lockMaxAgeMs: 43_200_000,
      lockHeartbeatTimeoutMs: 300_000,
      shutdownGraceMs: 60_000,
      metrics: { enabled: true, protect: false },
    });
    assert.deepEqual(c.sites, {});
    const qa1 = c.targets.QA1 as DeviceTarget;
    assert.deepEqual(qa1.adapter, {
      type: 'http',
      url: 'https://qa1.example.com:5554',
      token: null,
      timeoutMs: 600_000,
    });
    assert.equal(qa1.site, null);
    const db = c.targets.db as CommandTarget;
    assert.deepEqual(
      { ...db },
      {
        kind: 'command',
        name: 'db',
        site: null,
        listUnits: null,
        backup: ['pg_dump', 'app'],
        restore: null,
        probe: null,
        timeoutMs: 3_600_000,
        env: {},
      },
    );
    assert.deepEqual((c.targets.web as FilesTarget).units, { etc: { paths: ['/etc'], exclude: [] } });
    const d = c.destinations.local!;
    assert.equal(d.requireMount, false);
    assert.equal(d.minFree, null);
    assert.equal(d.site, null);
    const p = c.plans.nightly!;
    assert.equal(p.description, '');
    assert.equal(p.schedule, null);
    assert.deepEqual(p.window, { type: 'always' });
    assert.deepEqual(p.retry, {
      scheduled: { intervalMs: 600_000, maxDurationMs: 4 * 3_600_000 },
      purge: { intervalMs: 600_000, maxDurationMs: 6 * 3_600_000 },
      onDemand: null,
    });
    assert.equal(p.timeoutMs, 10 * 3_600_000);
    assert.equal(p.activities[0]!.timeoutMs, 4 * 3_600_000);
    assert.equal(p.retention, null);
    assert.equal(p.prePlan, null);
    assert.equal(p.postPlan, null);
    const [a0, a1] = p.activities;
    assert.deepEqual(
      { ...a0!, preTask: a0!.preTask?.name },
      {
        name: 'backup-1',
        kind: 'backup',
        targets: ['QA*'],
        retention: null,
        units: null,
        quiesce: false,
        quiesceTimeoutMs: 120_000,
        preTask: 'flush',
        postTask: null,
        tags: [],
        purge: null,
        to: null,
        timeoutMs: 4 * 3_600_000,
        group: null,
        allowEmpty: false,
      },
    );
    assert.equal(a1!.name, 'export-2');
    assert.deepEqual(a0!.preTask, {
      name: 'flush',
      command: ['sync'],
      timeoutMs: 300_000,
      failOnError: true,
      always: false,
    });
    assert.equal(a0!.preTask, a1!.postTask, 'one Hook object per hook');
  });

  it('durations, sizes, percentages, days and time zones are compiled', () => {
    const c =
      load(`settings: { backups: disabled, quiesceGrace: 1h30m, maxParallelRuns: 4, lockMaxAge: 6h, lockHeartbeatTimeout: 90s, shutdownGrace: 2m }
destinations:
  a: { type: repository, path: /a, password: pw, minFree: 500MB }
  b: { type: repository, path: /b, password: pw, minFree: 1.5GiB }
  c: { type: repository, path: /c, password: pw, minFree: 12.5% }
plans:
  p:
    destination: a
    schedule: { cron: '0 2 * * *', timezone: Asia/Tokyo }
    window: { cron: '* 22-23,0-5 * * mon-fri' }
    retry: { scheduled: { every: 90s }, purge: { for: 8h }, onDemand: { for: 2d } }
    timeout: 3h
    retention: { keepLast: 3, keepWithin: 1w }
    activities: [{ kind: backup, targets: x, quiesceTimeout: 250ms }]
  q:
    destination: b
    window:
      timezone: UTC
      ranges:
        - { days: fri-mon, from: '20:00', to: '04:00' }
        - { days: [Wednesday, tue, wed], from: '12:00', to: '13:00' }
    activities: [{ kind: backup, targets: x }]
`);
    assert.deepEqual(c.settings, {
      backupsEnabled: false,
      dataDir: null,
      quiesceGraceMs: 5_400_000,
      maxParallelRuns: 4,
      lockMaxAgeMs: 6 * 3_600_000,
      lockHeartbeatTimeoutMs: 90_000,
      shutdownGraceMs: 120_000,
      metrics: { enabled: true, protect: false },
    });
    assert.deepEqual(c.destinations.a!.minFree, { bytes: 500_000_000 });
    assert.deepEqual(c.destinations.b!.minFree, { bytes: 1.5 * 2 ** 30 });
    assert.deepEqual(c.destinations.c!.minFree, { fraction: 0.125 });
    const p = c.plans.p!;
    assert.deepEqual(p.schedule, { cron: '0 2 * * *', timezone: 'Asia/Tokyo' });
    assert.deepEqual(p.window, { type: 'cron', expression: '* 22-23,0-5 * * mon-fri', timezone: localTimeZone() });
    assert.deepEqual(p.retry, {
      scheduled: { intervalMs: 90_000, maxDurationMs: 4 * 3_600_000 },
      purge: { intervalMs: 600_000, maxDurationMs: 8 * 3_600_000 },
      onDemand: { intervalMs: 600_000, maxDurationMs: 2 * 86_400_000 },
    });
    assert.equal(p.timeoutMs, 3 * 3_600_000);
    assert.equal(p.retention!.keepLast, 3);
    assert.equal(p.retention!.keepWithinMs, 7 * 86_400_000);
    assert.equal(p.activities[0]!.quiesceTimeoutMs, 250);
    const w = c.plans.q!.window;
    assert.deepEqual(w.type === 'ranges' && w.ranges.map((r) => r.days), [
      [0, 1, 5, 6],
      [2, 3],
    ]);
  });

  it('relative paths are relative to the file; SAFEHOLD_DATA_DIR overrides settings.dataDir', () => {
    const yaml = `settings: { dataDir: state }
targets:
  web: { kind: files, units: { www: { paths: [site, /srv/abs] } } }
destinations:
  local: { type: repository, path: ../repo, password: pw }
`;
    const c = load(yaml);
    const dir = path.dirname(c.file);
    assert.equal(c.settings.dataDir, path.join(dir, 'state'));
    assert.equal(c.destinations.local!.path, path.join(dir, '..', 'repo'));
    assert.deepEqual((c.targets.web as FilesTarget).units.www!.paths, [path.join(dir, 'site'), '/srv/abs']);
    assert.equal(load(yaml, { SAFEHOLD_DATA_DIR: '/var/lib/sh' }).settings.dataDir, '/var/lib/sh');
  });

  it('secrets: inline, { env }, { file } (first line, relative to the file)', () => {
    const c = load(
      `targets:
  db:
    kind: command
    backup: [pg_dump]
    env:
      A: inline-Qp1
      B: { env: SECRET_B }
      C: { file: secrets/c.txt }
destinations:
  local: { type: repository, path: /r, password: { env: SECRET_B } }
`,
      { SECRET_B: 'env-Qp2' },
      (dir) => {
        fs.mkdirSync(path.join(dir, 'secrets'));
        fs.writeFileSync(path.join(dir, 'secrets', 'c.txt'), 'file-Qp3\r\nsecond line\n');
      },
    );
    const env = (c.targets.db as CommandTarget).env;
    assert.deepEqual({ ...env.A }, { source: 'inline', value: 'inline-Qp1' });
    assert.deepEqual({ ...env.B }, { source: 'env:SECRET_B', value: 'env-Qp2' });
    assert.deepEqual(
      { ...env.C },
      { source: `file:${path.join(path.dirname(c.file), 'secrets', 'c.txt')}`, value: 'file-Qp3' },
    );
    assert.equal((c.destinations.local as RepositoryDestination).password.value, 'env-Qp2');
  });

  it('redaction, JSON and inspect never show a secret value', () => {
    const secrets = ['inline-pw-Zz0', 'tok-Rr1', 'env-Rr2', 'file-Rr3'];
    const c = load(
      `${MINIMAL.replace("http: { url: 'https://qa1.example.com:5554' }", "http: { url: 'https://qa1.example.com:5554', token: { env: TOK } }")}
    retry: {}
  other:
    destination: local
    activities: [{ kind: backup, targets: db }]
`.replace('    backup: [pg_dump, app]', '    backup: [pg_dump, app]\n    env: { X: { env: X }, Y: { file: y.pw } }'),
      { TOK: 'tok-Rr1', X: 'env-Rr2' },
      (dir) => fs.writeFileSync(path.join(dir, 'y.pw'), 'file-Rr3\n'),
    );
    assert.equal(((c.targets.QA1 as DeviceTarget).adapter as { token: { value: string } }).token.value, 'tok-Rr1');
    const red = redactConfig(c) as any;
    assert.equal(red.targets.QA1.adapter.token, '***(env:TOK)');
    assert.equal(red.destinations.local.password, '***(inline)');
    assert.deepEqual(red.targets.db.env, {
      X: '***(env:X)',
      Y: `***(file:${path.join(path.dirname(c.file), 'y.pw')})`,
    });
    assert.equal(red.plans.nightly.activities[0].preTask.name, 'flush');
    for (const text of [
      JSON.stringify(red),
      JSON.stringify(c),
      inspect(c, { depth: null }),
      String(Object.values(c.targets)),
    ]) {
      for (const s of secrets) assert.ok(!text.includes(s), `${s} shown`);
    }
    assert.ok(JSON.stringify(c).includes('***(env:TOK)'));
  });

  it('the result is frozen all the way down', () => {
    const c = load(MINIMAL);
    let count = 0;
    for (const [at, o] of objects(c)) {
      assert.ok(Object.isFrozen(o), `${at} is not frozen`);
      count++;
    }
    assert.ok(count > 30, `walked ${count} objects`);
    assert.throws(() => {
      (c.plans.nightly as { destination: string }).destination = 'x';
    }, TypeError);
    assert.throws(() => {
      (c.plans.nightly!.activities as unknown as string[]).push('x');
    }, TypeError);
    assert.throws(() => {
      (c.settings as { backupsEnabled: boolean }).backupsEnabled = false;
    }, TypeError);
  });

  it('loading twice gives equal, independent results (nothing shared between loads)', () => {
    const dir = path.join(root, 'twice');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'safehold.yaml');
    fs.writeFileSync(file, MINIMAL);
    const a = loadConfig(file, {});
    const b = loadConfig(file, {});
    assert.notEqual(a, b);
    assert.deepEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
  });
});
