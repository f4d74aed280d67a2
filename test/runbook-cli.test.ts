// `safehold runbook` as real processes sharing one catalog: an approval given
// by a second process while `runbook run` waits; a destructive runbook's
// typed confirmation; kill -9 of `runbook run` during a non-idempotent
// command, then `resume` waiting for an approval to rerun it (the command's
// side effect counted in a file: it ran a second time only after the
// approval); resume of an idempotent step re-running it without one; a dry
// run changing nothing; a failed run's exit status; errors naming a
// runbooks/*.yaml file and line.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { baseEnv, runCli } from './helpers/cli.ts';
import { startCli } from './helpers/spawn.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-rbcli-'));
const cfg = path.join(root, 'safehold.yaml');
const env = baseEnv();
const count = (name: string) =>
  fs.existsSync(path.join(root, name))
    ? fs.readFileSync(path.join(root, name), 'utf8').split('\n').filter(Boolean).length
    : 0;

before(() => {
  fs.mkdirSync(path.join(root, 'runbooks'));
  fs.writeFileSync(
    cfg,
    `settings: { dataDir: ${root}/data }
runbooks:
  gated:
    steps:
      - name: hello
        kind: command
        with: { argv: [echo, '{"greeting": "hi"}'] }
      - name: gate
        kind: approval
        with: { role: operator, message: proceed? }
      - name: bye
        kind: command
        with: { argv: [echo, "after \${steps.hello.outputs.greeting}"] }
  slow:
    steps:
      - name: sleep
        kind: command
        with: { argv: [sh, -c, 'touch "${root}/slow.started"; sleep 30'] }
  failing:
    steps:
      - name: boom
        kind: command
        with: { argv: [sh, -c, 'echo nope >&2; exit 4'] }
`,
  );
  fs.writeFileSync(
    path.join(root, 'runbooks', 'side-effects.yaml'),
    `description: one non-idempotent command, one idempotent
vars:
  dir: { default: "${root}" }
steps:
  - name: once
    kind: command
    with: { argv: [sh, -c, 'echo run >> "\${vars.dir}/once.count"; touch "\${vars.dir}/once.started"; sleep 4'] }
  - name: again
    kind: command
    idempotent: true
    with: { argv: [sh, -c, 'echo run >> "\${vars.dir}/again.count"; touch "\${vars.dir}/again.started"; sleep 4'] }
  - name: edit
    kind: config-edit
    with: { file: "\${vars.dir}/app.ini", set: { "app.host": site2 } }
`,
  );
  fs.writeFileSync(
    path.join(root, 'runbooks', 'dangerous.yaml'),
    'destructive: true\nsteps:\n  - name: gate\n    kind: approval\n  - name: done\n    kind: notify\n    with: { message: done }\n',
  );
  fs.writeFileSync(path.join(root, 'app.ini'), '[app]\nhost = site1\n');
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

const rb = (...args: string[]) => runCli(['runbook', ...args, '--config', cfg], { env });

async function latestRun(runbook: string): Promise<any> {
  const r = await rb('runs', '--runbook', runbook, '--json');
  assert.equal(r.code, 0, r.stderr);
  return r.json()[0];
}

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>): Promise<T> {
  const end = Date.now() + 30_000;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runState(runbook: string, status: string): Promise<any> {
  return until(`${runbook} ${status}`, async () => {
    const run = await latestRun(runbook);
    return run?.status === status ? run : null;
  });
}

describe('safehold runbook (processes)', () => {
  it('waits in `run` until a second process approves, printing each transition', async () => {
    const running = startCli(['runbook', 'run', 'gated', '--config', cfg], env);
    const run = await runState('gated', 'waiting');
    const gate = run.steps.find((s: any) => s.name === 'gate');
    assert.deepEqual(gate.approval, { role: 'operator', needsConfirm: false });
    const wrong = await rb('approve', run.id, 'bye');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /step bye of run .* is pending|not reached/);
    const ok = await rb('approve', run.id, 'gate');
    assert.equal(ok.code, 0, ok.stderr);
    const exit = await running.done;
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stderr, /step gate: waiting \(needs operator\)/);
    assert.match(exit.stderr, /step bye: succeeded exitCode=0 stdout=after hi/);
    assert.match(exit.stdout, /run .* of gated: succeeded/);
  });

  it('abort from a second process stops a waiting `run` within a few seconds', async () => {
    const running = startCli(['runbook', 'run', 'gated', '--config', cfg], env);
    const run = await runState('gated', 'waiting');
    const t0 = Date.now();
    const r = await rb('abort', run.id);
    assert.equal(r.code, 0, r.stderr);
    const exit = await running.done;
    assert.equal(exit.code, 1);
    assert.ok(Date.now() - t0 < 5000, `stopped after ${Date.now() - t0} ms`);
    assert.match(exit.stdout, /of gated: aborted \(aborted by /);
    const after = await latestRun('gated');
    assert.equal(after.steps.find((s: any) => s.name === 'gate').status, 'failed');
  });

  it('exits non-zero when the run fails, with the step and reason', async () => {
    const r = await rb('run', 'failing');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /failed \(step boom failed: sh exited with status 4: nope\)/);
  });

  it('refuses a destructive runbook without its typed name, at start and at approval', async () => {
    const refused = await rb('run', 'dangerous');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /destructive: confirm by typing its name \(--confirm dangerous\)/);
    const running = startCli(['runbook', 'run', 'dangerous', '--confirm', 'dangerous', '--config', cfg], env);
    const run = await runState('dangerous', 'waiting');
    const noConfirm = await rb('approve', run.id, 'gate');
    assert.equal(noConfirm.code, 1);
    assert.match(noConfirm.stderr, /--confirm dangerous/);
    assert.equal((await rb('approve', run.id, 'gate', '--confirm', 'dangerous')).code, 0);
    assert.equal((await running.done).code, 0);
  });

  it('dry-run evaluates and prints the plan, and changes nothing', async () => {
    const r = await rb('run', 'side-effects', '--dry-run', '--json');
    assert.equal(r.code, 0, r.stderr);
    const plan = r.json();
    assert.deepEqual(
      plan.steps.map((s: any) => s.name),
      ['once', 'again', 'edit'],
    );
    assert.deepEqual(plan.steps[2].changes, [`${path.join(root, 'app.ini')}: app.host: "site1" → "site2"`]);
    assert.equal(count('once.count'), 0);
    assert.equal(count('again.count'), 0);
    assert.equal(fs.readFileSync(path.join(root, 'app.ini'), 'utf8'), '[app]\nhost = site1\n');
    assert.equal(await latestRun('side-effects'), undefined, 'no run recorded');
  });

  it('after kill -9: resume waits for an approval before re-running a non-idempotent step, then re-runs an idempotent one by itself', async () => {
    const first = startCli(['runbook', 'run', 'side-effects', '--config', cfg], env);
    await until('once started', async () => fs.existsSync(path.join(root, 'once.started')));
    first.child.kill('SIGKILL');
    await first.done;
    assert.equal(count('once.count'), 1);
    const run = await latestRun('side-effects');
    assert.equal(run.status, 'running', 'the killed process left it running');

    const resumed = startCli(['runbook', 'resume', run.id, '--config', cfg], env);
    await runState('side-effects', 'interrupted');
    const twice = await rb('resume', run.id);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /is still running \(process \d+\)/);
    const plain = await rb('approve', run.id, 'once');
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /--rerun.*--mark-done/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(count('once.count'), 1, 'not re-run before the approval');

    assert.equal((await rb('approve', run.id, 'once', '--rerun')).code, 0);
    await until('again started', async () => fs.existsSync(path.join(root, 'again.started')));
    assert.equal(count('once.count'), 2, 're-run once after the approval');
    resumed.child.kill('SIGKILL');
    await resumed.done;

    // `again` is idempotent: the next resume re-runs it without asking.
    const last = await rb('resume', run.id);
    assert.equal(last.code, 0, last.stderr + last.stdout);
    assert.equal(count('once.count'), 2);
    assert.equal(count('again.count'), 2);
    const done = await latestRun('side-effects');
    assert.equal(done.status, 'succeeded');
    const once = done.steps.find((s: any) => s.name === 'once');
    assert.equal(once.attempt, 2);
    assert.equal(fs.readFileSync(path.join(root, 'app.ini'), 'utf8'), '[app]\nhost = site2\n');
  });

  it('Ctrl-C leaves the run interrupted (exit 130, the step stopped); abort then ends it', async () => {
    const running = startCli(['runbook', 'run', 'slow', '--config', cfg], env);
    await until('slow started', async () => fs.existsSync(path.join(root, 'slow.started')));
    const t0 = Date.now();
    running.child.kill('SIGINT');
    const exit = await running.done;
    assert.equal(exit.code, 130, exit.stderr);
    assert.ok(Date.now() - t0 < 10_000);
    const run = await latestRun('slow');
    assert.equal(run.status, 'interrupted');
    assert.equal(run.steps[0].status, 'interrupted');
    const aborted = await rb('abort', run.id);
    assert.equal(aborted.code, 0, aborted.stderr);
    assert.equal((await latestRun('slow')).status, 'aborted');
    assert.equal((await rb('resume', run.id)).code, 1);
  });

  it('names the runbooks/*.yaml file and line of a configuration error', async () => {
    const broken = path.join(root, 'runbooks', 'broken.yaml');
    fs.writeFileSync(broken, 'steps:\n  - name: a\n    kind: command\n    with: { argv: [echo, "${vars.missing}"] }\n');
    try {
      const r = await rb('list');
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`${broken}:4:`), r.stderr);
      assert.match(r.stderr, /variable 'missing' is not declared under 'vars'/);
    } finally {
      fs.rmSync(broken);
    }
    const ok = await rb('list', '--json');
    assert.deepEqual(
      ok
        .json()
        .map((x: any) => x.name)
        .sort(),
      ['dangerous', 'failing', 'gated', 'side-effects', 'slow'],
    );
  });
});
