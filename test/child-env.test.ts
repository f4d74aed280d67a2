// Secrets in Safehold's environment never reach the programs it starts: a
// plan run through the real CLI, with a webhook secret and header read from
// the environment (one of them from an allow-listed LC_* name), a command
// target's token and the repository password in SAFEHOLD_PASSWORD, runs
// hooks, the target's backup, a purge command and an alert command that all
// print `env`. Their output (the run log, files they wrote) holds the
// allow-listed variables and their own (the target's token for its own
// programs only), and no other secret.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeSandbox, show } from './helpers/cli.ts';

/** Secrets of the alert channel: no child may see them. */
const SECRETS = {
  SAFEHOLD_TEST_SECRET: 'webhook-secret-4f1c9e',
  LC_SAFEHOLD_TEST_KEY: 'header-key-77ab20',
};
/** The command target's credential: its own programs (backup, purge) get it as APP_TOKEN, nothing else does. */
const APP_TOKEN = 'app-token-d3e8a1';

function configYaml(repo: string, dir: string): string {
  const out = (name: string) => path.join(dir, name);
  return `
targets:
  app:
    kind: command
    backup: [sh, -c, "env > '${out('backup.env')}'; echo data"]
    env: { APP_TOKEN: { env: SAFEHOLD_TEST_APP_TOKEN } }
destinations:
  local: { type: repository, path: ${repo}, password: { env: SAFEHOLD_PASSWORD } }
hooks:
  show-env: { command: [sh, -c, env] }
  show-env-and-fail: { command: [sh, -c, 'env; exit 3'] }
alerts:
  channels:
    ops:
      type: webhook
      url: http://127.0.0.1:9/never
      events: [low-space]
      secret: { env: SAFEHOLD_TEST_SECRET }
      headers: { Authorization: { env: LC_SAFEHOLD_TEST_KEY } }
    pager:
      type: command
      events: [run-failed]
      command: [sh, -c, "env > '${out('alert.env')}'"]
      env: { PAGER_ROUTE: ops-team }
plans:
  nightly:
    destination: local
    prePlan: show-env
    activities:
      - { name: save, kind: backup, targets: app, preTask: show-env }
      - { name: tidy, kind: purge, targets: app, purge: { command: [sh, -c, env] } }
  broken:
    destination: local
    prePlan: show-env-and-fail
    activities:
      - { kind: backup, targets: app }
`;
}

/** name=value pairs of `env` output lines. */
function parseEnv(lines: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf('=');
    if (i > 0) m.set(l.slice(0, i), l.slice(i + 1));
  }
  return m;
}

/** The run log lines that start with `prefix`, without it. */
function logged(log: readonly { message: string }[], prefix: string): string[] {
  return log.filter((l) => l.message.startsWith(prefix)).map((l) => l.message.slice(prefix.length));
}

function assertClean(what: string, text: string, password: string): void {
  for (const [name, value] of Object.entries(SECRETS)) assert.ok(!text.includes(value), `${what} shows ${name}`);
  assert.ok(!text.includes(password), `${what} shows SAFEHOLD_PASSWORD`);
  for (const name of [
    'SAFEHOLD_PASSWORD',
    'SAFEHOLD_REPOSITORY',
    'SAFEHOLD_DATA_DIR',
    'UNRELATED_VAR',
    'SAFEHOLD_TEST_APP_TOKEN',
    ...Object.keys(SECRETS),
  ]) {
    assert.ok(!new RegExp(`^${name}=`, 'm').test(text), `${what} has ${name}`);
  }
}

function assertBasics(what: string, env: Map<string, string>): void {
  assert.ok(env.get('PATH'), `${what} has PATH`);
  assert.ok(env.get('HOME'), `${what} has HOME`);
  assert.equal(env.get('TZ'), 'UTC', `${what} has TZ`);
  assert.equal(env.get('LC_TIME'), 'C', `${what} has LC_TIME`);
}

describe('child environments', () => {
  it('hooks, a command target, a purge command and an alert command never see a secret of the environment', async (t) => {
    const sb = makeSandbox('safehold-child-env-');
    t.after(() => sb.cleanup());
    await sb.init();
    const file = path.join(sb.dir, 'safehold.yaml');
    fs.writeFileSync(file, configYaml(sb.repo, sb.dir));
    const env = {
      ...SECRETS,
      SAFEHOLD_TEST_APP_TOKEN: APP_TOKEN,
      TZ: 'UTC',
      LC_TIME: 'C',
      UNRELATED_VAR: 'not-for-children',
    };

    const r = await sb.run(['plan', 'run', 'nightly', '--local', '--config', file, '--json'], { env });
    assert.equal(r.code, 0, show(r));
    const runId = r.json().run.id as string;
    const shown = await sb.run(['run', 'show', runId, '--json']);
    assert.equal(shown.code, 0, show(shown));
    const log = shown.json().log as { message: string }[];

    const prePlan = logged(log, 'pre-plan stdout: ');
    const preTask = logged(log, 'pre-task stdout: ');
    const purge = logged(log, 'purge stdout: ');
    assert.ok(
      prePlan.length > 3 && preTask.length > 3 && purge.length > 3,
      `env output is in the run log:\n${shown.stdout}`,
    );
    assertClean('the run log', shown.stdout, sb.password);
    for (const [what, lines] of [
      ['pre-plan', prePlan],
      ['pre-task', preTask],
    ] as const) {
      assert.ok(!lines.join('\n').includes(APP_TOKEN), `the ${what} hook sees the target's credential`);
    }

    const hookEnv = parseEnv(prePlan);
    assertBasics('the pre-plan hook', hookEnv);
    assert.equal(hookEnv.get('SAFEHOLD_PLAN'), 'nightly');
    assert.equal(hookEnv.get('SAFEHOLD_PHASE'), 'pre-plan');
    assert.equal(hookEnv.get('SAFEHOLD_RUN'), runId);
    assert.equal(parseEnv(preTask).get('SAFEHOLD_TARGET'), 'app');

    const purgeEnv = parseEnv(purge);
    assertBasics('the purge command', purgeEnv);
    assert.equal(purgeEnv.get('SAFEHOLD_PLAN'), 'nightly');
    assert.equal(purgeEnv.get('APP_TOKEN'), APP_TOKEN, "the purge gets the command target's own env");

    const backupText = fs.readFileSync(path.join(sb.dir, 'backup.env'), 'utf8');
    const backupEnv = parseEnv(backupText.split('\n'));
    assertBasics('the command target', backupEnv);
    assert.equal(backupEnv.get('SAFEHOLD_UNIT'), 'default');
    assert.equal(backupEnv.get('APP_TOKEN'), APP_TOKEN, 'the target gets its own env');
    assertClean('the command target', backupText, sb.password);

    const failed = await sb.run(['plan', 'run', 'broken', '--local', '--config', file, '--json'], { env });
    assert.equal(failed.code, 1, show(failed));
    const alertText = fs.readFileSync(path.join(sb.dir, 'alert.env'), 'utf8');
    const alertEnv = parseEnv(alertText.split('\n'));
    assertBasics('the alert command', alertEnv);
    assert.equal(alertEnv.get('SAFEHOLD_ALERT_EVENT'), 'run-failed');
    assert.equal(alertEnv.get('PAGER_ROUTE'), 'ops-team');
    assertClean('the alert command', alertText, sb.password);
    assert.ok(!alertText.includes(APP_TOKEN), "the alert command sees the target's credential");
    const failedLog = await sb.run(['run', 'show', failed.json().run.id, '--json']);
    assert.ok(
      logged(failedLog.json().log, 'pre-plan stdout: ').some((l) => l.startsWith('PATH=')),
      show(failedLog),
    );
    assertClean('the failed run log', failedLog.stdout, sb.password);
  });
});
