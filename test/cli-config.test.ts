// safehold config validate|show through the real CLI: the file from --config
// or SAFEHOLD_CONFIG, 'ok: …' and exit 0 for a good file, every problem one
// per line and exit 1 for a bad one, USAGE (exit 2) without a file, and the
// compiled configuration shown with secrets redacted.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { baseEnv, runCli, show } from './helpers/cli.ts';

const EXAMPLES = path.resolve(import.meta.dirname, '..', 'examples');
const SECRETS = { DPOD_ADAPTER_TOKEN: 'cli-token-Hh7', DPOD_REPO_PASSWORD: 'cli-pw-Hh8' };

describe('safehold config', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cli-config-'));
    env = { ...baseEnv(), ...SECRETS, SAFEHOLD_DATA_DIR: path.join(dir, 'data') };
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('validate: ok with counts, from --config and from SAFEHOLD_CONFIG', async () => {
    const file = path.join(EXAMPLES, 'dpod.yaml');
    const r = await runCli(['config', 'validate', '--config', file], { env });
    assert.equal(r.code, 0, show(r));
    // The example's destination is a mount that does not exist here: a warning, exit 0.
    const warning = `warning: ${file}: destinations.store.path: destination store: /srv/safehold/dpod does not exist`;
    assert.equal(r.stdout, `ok: 1 plan (2 activities), 5 targets, 1 destination, 1 site in ${file}\n${warning}\n`);
    assert.equal(r.stderr, '');
    const j = await runCli(['config', 'validate', '--json'], { env: { ...env, SAFEHOLD_CONFIG: file } });
    assert.equal(j.code, 0, show(j));
    assert.deepEqual(j.json(), {
      ok: true,
      file,
      plans: 1,
      activities: 2,
      targets: 5,
      destinations: 1,
      sites: 1,
      warnings: [{ path: 'destinations.store.path', message: 'destination store: /srv/safehold/dpod does not exist' }],
    });
  });

  it('validate: a bad file lists every problem, one per line, exit 1', async () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      file,
      `plans:
  nightly:
    destination: local
    schedul: '0 2 * * *'
    activities:
      - kind: backup
        targets: 'QA*'
      - kind: export
        targets: TEST8
        units: 5
`,
    );
    const r = await runCli(['config', 'validate', '-c', file], { env });
    assert.equal(r.code, 1, show(r));
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      [
        `safehold: ${file}:4:5: plans.nightly: unknown key 'schedul' (did you mean 'schedule'?)`,
        `${file}:10:16: plans.nightly.activities[1].units: expected a glob pattern string (e.g. 'QA*'), got a number`,
        '',
      ].join('\n'),
    );
    const j = await runCli(['config', 'validate', '--json', '--config', file], { env });
    assert.equal(j.code, 1);
    const doc = j.json();
    assert.equal(doc.error.code, 'CONFIG');
    assert.deepEqual(doc.error.details.problems, [
      { line: 4, col: 5, path: 'plans.nightly', message: "unknown key 'schedul' (did you mean 'schedule'?)" },
      {
        line: 10,
        col: 16,
        path: 'plans.nightly.activities[1].units',
        message: "expected a glob pattern string (e.g. 'QA*'), got a number",
      },
    ]);
  });

  it('validate: a reference to an undefined destination and a missing env secret', async () => {
    const file = path.join(dir, 'refs.yaml');
    fs.writeFileSync(
      file,
      `destinations:
  local: { type: repository, path: /srv/repo, password: { env: NOT_SET_ANYWHERE } }
plans:
  nightly:
    destination: offsite
    activities: [{ kind: backup, targets: 'QA*' }]
`,
    );
    const r = await runCli(['config', 'validate', '--config', file], { env });
    assert.equal(r.code, 1, show(r));
    assert.equal(
      r.stderr,
      `safehold: ${file}:2:57: destinations.local.password: environment variable NOT_SET_ANYWHERE is not set\n` +
        `${file}:5:18: plans.nightly.destination: destination 'offsite' is not defined under 'destinations' (defined: local)\n`,
    );
  });

  it('no file: USAGE, exit 2; a missing file: CONFIG, exit 1', async () => {
    const r = await runCli(['config', 'validate', '--json'], { env });
    assert.equal(r.code, 2, show(r));
    assert.deepEqual(r.json().error, {
      code: 'USAGE',
      message: 'no configuration file: use --config FILE or set SAFEHOLD_CONFIG',
    });
    const missing = path.join(dir, 'nope.yaml');
    const m = await runCli(['config', 'validate', '--config', missing], { env });
    assert.equal(m.code, 1, show(m));
    assert.equal(m.stderr, `safehold: cannot read configuration file ${missing}: no such file\n`);
  });

  it('bad subcommands are USAGE errors', async () => {
    const file = path.join(EXAMPLES, 'dpod.yaml');
    for (const [args, message] of [
      [['config'], "config needs a subcommand: 'validate' or 'show'"],
      [['config', 'check'], "unknown subcommand 'config check' (expected 'validate' or 'show')"],
      [['config', 'show', 'extra'], "unexpected argument 'extra' (see 'safehold config --help')"],
    ] as const) {
      const r = await runCli([...args, '--config', file], { env });
      assert.equal(r.code, 2, show(r));
      assert.equal(r.stderr, `safehold: ${message}\n`);
    }
  });

  /** A configuration of four files targets, a group of two, two repositories and one plan every 5 minutes. */
  function planFile(name: string, retention: string): string {
    const d = path.join(dir, name);
    fs.mkdirSync(path.join(d, 'repo'), { recursive: true });
    for (const t of ['web', 'db1', 'db2']) fs.mkdirSync(path.join(d, t), { recursive: true });
    const file = path.join(d, 'safehold.yaml');
    fs.writeFileSync(
      file,
      `targets:
  web: { kind: files, units: { u: { paths: [${d}/web] } } }
  db1: { kind: files, units: { u: { paths: [${d}/db1] } } }
  db2: { kind: files, units: { u: { paths: [${d}/db2] } } }
  other: { kind: files, units: { u: { paths: [${d}/missing] } } }
groups:
  app: { mode: independent, members: [{ target: db1 }, { target: db2 }] }
destinations:
  repo: { type: repository, path: ${d}/repo, password: pw }
  offsite: { type: repository, path: ${d}/offsite, password: pw }
plans:
  often:
    destination: repo
    schedule: '*/5 * * * *'
    retention: ${retention}
    activities:
      - { kind: backup, targets: 'group:app' }
      - { kind: purge, targets: [db1, web] }
      - { kind: copy, to: offsite, targets: '*', retention: { keepLast: 3 } }
`,
    );
    return file;
  }

  it('validate: warns (exit 0) about a plan running more often than its keep rules, a missing path, a missing destination and an uninitialised repository', async () => {
    const file = planFile('often', '{ keepDaily: 7 }');
    const d = path.dirname(file);
    const r = await runCli(['config', 'validate', '--json', '--config', file], { env });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.json().warnings, [
      {
        path: 'plans.often.retention',
        message:
          'plan often runs every 5 minutes but keeps only one snapshot a day: add keepLast, keepHourly or keepWithin to keep recent ones',
      },
      { path: 'targets.other.units.u.paths[0]', message: `${d}/missing does not exist (target other, unit u)` },
      {
        path: 'destinations.repo.path',
        message: `destination repo: no repository at ${d}/repo yet (create it with 'safehold init --config ${file} --destination repo')`,
      },
      { path: 'destinations.offsite.path', message: `destination offsite: ${d}/offsite does not exist` },
    ]);
    const human = await runCli(['config', 'validate', '--config', file], { env });
    assert.equal(human.code, 0, show(human));
    assert.match(
      human.stdout,
      /warning: .*plans\.often\.retention: plan often runs every 5 minutes but keeps only one snapshot a day/,
    );
    // With keepLast the recent snapshots are kept: no retention warning.
    const kept = planFile('kept', '{ keepLast: 12, keepDaily: 7 }');
    const k = await runCli(['config', 'validate', '--json', '--config', kept], { env });
    assert.equal(k.code, 0, show(k));
    assert.deepEqual(
      k.json().warnings.map((w: { path: string }) => w.path),
      ['targets.other.units.u.paths[0]', 'destinations.repo.path', 'destinations.offsite.path'],
    );
  });

  it("show: 'group:NAME' and lists of targets resolve to exactly those targets", async () => {
    const file = planFile('resolved', '{ keepLast: 3 }');
    const r = await runCli(['config', 'show', '--json', '--config', file], { env });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(
      r
        .json()
        .plans.often.activities.map((a: { targets: string[]; resolvedTargets: string[] }) => [
          a.targets,
          a.resolvedTargets,
        ]),
      [
        [
          ['db1', 'db2'],
          ['db1', 'db2'],
        ],
        [
          ['db1', 'web'],
          ['web', 'db1'],
        ],
        [['*'], ['web', 'db1', 'db2', 'other']],
      ],
    );
    // An unknown group is an error naming it.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("'group:app'", "'group:nope'"));
    const bad = await runCli(['config', 'validate', '--config', file], { env });
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, /plans\.often\.activities\[0\]\.targets: .*group 'nope'/);
  });

  it('show --json: the compiled configuration with secrets redacted, never their values', async () => {
    const file = path.join(EXAMPLES, 'dpod.yaml');
    const r = await runCli(['config', 'show', '--json', '--config', file], { env });
    assert.equal(r.code, 0, show(r));
    for (const s of Object.values(SECRETS))
      assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `secret ${s} printed`);
    const c = r.json();
    assert.equal(c.file, file);
    assert.equal(c.settings.dataDir, path.join(dir, 'data'), 'SAFEHOLD_DATA_DIR');
    assert.equal(c.targets.QA1.adapter.token, '***(env:DPOD_ADAPTER_TOKEN)');
    assert.equal(c.destinations.store.password, '***(env:DPOD_REPO_PASSWORD)');
    assert.deepEqual(
      c.plans['dpod-nightly'].activities.map(
        (a: { targets: string[]; units: string | null; resolvedTargets: string[] }) => [
          a.targets,
          a.units,
          a.resolvedTargets,
        ],
      ),
      [
        [['QA*'], null, ['QA1', 'QA2', 'QA3']],
        [['TEST[89]'], 'DOMAIN*', ['TEST8', 'TEST9']],
      ],
    );
    const human = await runCli(['config', 'show', '--config', file], { env });
    assert.equal(human.code, 0, show(human));
    assert.deepEqual(JSON.parse(human.stdout), c);
  });
});
