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
    assert.equal(r.stdout, `ok: 1 plan (2 activities), 5 targets, 1 destination, 1 site in ${file}\n`);
    assert.equal(r.stderr, '');
    const j = await runCli(['config', 'validate', '--json'], { env: { ...env, SAFEHOLD_CONFIG: file } });
    assert.equal(j.code, 0, show(j));
    assert.deepEqual(j.json(), { ok: true, file, plans: 1, activities: 2, targets: 5, destinations: 1, sites: 1 });
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
      c.plans['dpod-nightly'].activities.map((a: { targets: string; units: string | null }) => [a.targets, a.units]),
      [
        ['QA*', null],
        ['TEST[89]', 'DOMAIN*'],
      ],
    );
    const human = await runCli(['config', 'show', '--config', file], { env });
    assert.equal(human.code, 0, show(human));
    assert.deepEqual(JSON.parse(human.stdout), c);
  });
});
