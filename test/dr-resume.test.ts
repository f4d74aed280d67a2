// site-failover (examples/dr) killed with kill -9 at every step in turn and
// resumed: after Site 1 is killed while the demo application writes, the
// `safehold runbook run` process is itself killed when a step starts (its
// "running" line; a step that is skipped is killed at its "skipped" line),
// then `safehold runbook resume RUN` carries on, an approval being given only
// when the engine stops at an interrupted step. The end state must be the one
// of an uninterrupted run: Site 2 the writable primary with the application
// writing there, Site 1 down, the same app.ini, aggregates present; and no
// step that is not idempotent ran again without an approval.
// Every step gets a kill in one run killed again and again (the chain); a
// fresh demo per killed step (a copy of stopped servers, not setup.sh again)
// covers the steps that change something, and every step with
// SAFEHOLD_SLOW_TESTS=1.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baseEnv, runCli, show } from './helpers/cli.ts';
import { type DrDemo, createDrDemo, drSkipReason } from './helpers/dr-demo.ts';
import { startCli } from './helpers/spawn.ts';
import { until } from './helpers/wait.ts';

const skip = drSkipReason() ?? false;
const env = baseEnv();
const SLOW = process.env.SAFEHOLD_SLOW_TESTS === '1';
/** The steps that change something: each also killed on a fresh demo in every run of this file. */
const CHANGING = ['fence-site1', 'promote-site2', 'repoint-app', 'start-app', 'reaggregate', 'enable-aggregates'];
const START = ['run', 'site-failover', '--confirm', 'site-failover', '--var', 'approve=false'];

interface StepJson {
  name: string;
  status: string;
  attempt: number;
  idempotent: boolean;
  outputs: Record<string, unknown> | null;
}
interface RunJson {
  id: string;
  status: string;
  steps: StepJson[];
}

/** What one killed-and-resumed run went through. */
interface Journey {
  runId: string;
  /** step → the status its line showed when its process was killed. */
  killedAt: Map<string, string>;
  /** step → approvals given (`--rerun` or `--mark-done`). */
  approvals: Map<string, string[]>;
}

const rb = (demo: DrDemo, ...args: string[]) =>
  runCli(['runbook', ...args, '--config', demo.config], { env, timeoutMs: 120_000 });

/**
 * Runs `safehold runbook ARGS`, following its progress lines on stderr: kills
 * it (SIGKILL) at the first line about `killAt`, and answers a step the engine
 * leaves interrupted with an approval. Resolves when the process has ended.
 */
function drive(demo: DrDemo, args: string[], killAt: string | null, j: Journey): Promise<string> {
  const p = startCli(['runbook', ...args, '--config', demo.config], env);
  let buf = '';
  const pending: Promise<unknown>[] = [];
  p.child.stderr!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const run = /^run (\S+)$/.exec(line);
      if (run && !j.runId) j.runId = run[1]!;
      const m = /^step (\S+): (\S+)/.exec(line);
      if (!m) continue;
      const [, step, status] = m as unknown as [string, string, string];
      if (step === killAt && !j.killedAt.has(step)) {
        p.child.kill('SIGKILL');
        j.killedAt.set(step, status);
      } else if (status === 'interrupted') pending.push(approve(demo, j, step));
    }
  });
  // A run that hangs (say, waiting for an approval that failed) ends the test instead of blocking it.
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 120_000);
  return p.done.then(async (exit) => {
    clearTimeout(timer);
    await Promise.all(pending);
    if (killAt && !j.killedAt.has(killAt)) assert.fail(`step ${killAt} was not reached: ${exit.stderr}`);
    return exit.stderr;
  });
}

/** The approval for a step the engine left interrupted: rerun it, or mark it done when it is known to be done. */
async function approve(demo: DrDemo, j: Journey, step: string): Promise<void> {
  const v = await status(demo, j.runId);
  const s = v.steps.find((x) => x.name === step)!;
  assert.equal(s.idempotent, false, `the engine stops only at a step that is not idempotent (${step})`);
  // Killed while it ran: whether its work was done is not known, so it runs again (after this approval).
  const action = j.killedAt.get(step) === 'succeeded' ? '--mark-done' : '--rerun';
  const r = await rb(demo, 'approve', j.runId, step, action, '--confirm', 'site-failover');
  assert.equal(r.code, 0, show(r));
  j.approvals.set(step, [...(j.approvals.get(step) ?? []), action]);
}

async function status(demo: DrDemo, id: string): Promise<RunJson> {
  const r = await rb(demo, 'status', id, '--json');
  assert.equal(r.code, 0, show(r));
  return r.json() as RunJson;
}

/** Site 1 killed while the application writes (rows replicated to Site 2 first). */
async function loseSite1(demo: DrDemo): Promise<void> {
  const [s1, s2] = demo.sites;
  await demo.app('start');
  await until(async () => (await rowCount(demo, s2)) > 5, 'rows at Site 2', 20_000, 50);
  await demo.kill9(s1);
}

/** Starts site-failover and kills it at each of `kills` in turn (resuming in between), then resumes it to its end. */
async function failover(demo: DrDemo, kills: string[]): Promise<{ run: RunJson; j: Journey }> {
  const j: Journey = { runId: '', killedAt: new Map(), approvals: new Map() };
  const log: string[] = [];
  log.push(await drive(demo, START, kills[0] ?? null, j));
  for (const k of kills.slice(1)) log.push(await drive(demo, ['resume', j.runId], k, j));
  for (let i = 0; i < 3; i++) {
    const v = await status(demo, j.runId);
    if (v.status === 'succeeded') return { run: v, j };
    assert.ok(kills.length > 0, `an uninterrupted run ended ${v.status}: ${log.join('\n')}`);
    log.push(await drive(demo, ['resume', j.runId], null, j));
  }
  assert.fail(`the run did not succeed after resuming: ${log.join('\n---\n')}`);
}

async function rowCount(demo: DrDemo, site: DrDemo['sites'][number]): Promise<number> {
  return (await demo.sql<{ n: number }>(site, 'SELECT count(*)::int AS n FROM rows'))[0]!.n;
}

/** The end state compared between runs. */
async function endState(demo: DrDemo): Promise<Record<string, unknown>> {
  const [s1, s2] = demo.sites;
  const [w] = await demo.sql<{ writable: boolean }>(
    s2,
    "SELECT NOT pg_is_in_recovery() AND NOT current_setting('transaction_read_only')::bool AS writable",
  );
  const before = await rowCount(demo, s2);
  await until(async () => (await rowCount(demo, s2)) > before, 'the application writing at Site 2', 20_000, 50);
  const [agg] = await demo.sql<{ n: number }>(s2, 'SELECT count(*)::int AS n FROM aggregates');
  return {
    site1: (await demo.reading(s1)) === null ? 'down' : 'answers',
    site2: (await demo.reading(s2))?.standby === false ? 'primary' : 'standby',
    site2Writable: w?.writable,
    appWritesAtSite2: true,
    aggregates: (agg?.n ?? 0) > 0,
    settings: demo.appSettings(),
  };
}

/** No step that is not idempotent has more attempts than its first plus the reruns approved. */
function assertNoUnapprovedRerun(run: RunJson, j: Journey): void {
  for (const s of run.steps) {
    assert.ok(['succeeded', 'skipped'].includes(s.status), `${s.name} ended ${s.status}`);
    if (s.idempotent) continue;
    const reruns = (j.approvals.get(s.name) ?? []).filter((a) => a === '--rerun').length;
    assert.ok(s.attempt <= 1 + reruns, `${s.name} (not idempotent) ran ${s.attempt} times with ${reruns} approvals`);
    if (j.killedAt.get(s.name) === 'running')
      assert.ok((j.approvals.get(s.name) ?? []).length > 0, `${s.name} was re-run or marked done without an approval`);
  }
}

describe('site-failover killed at every step and resumed', { skip }, () => {
  let demo: DrDemo;
  let steps: string[] = [];
  let expected: Record<string, unknown>;

  before(async () => {
    demo = await createDrDemo();
    await demo.saveTemplate();
  });

  after(async () => {
    await demo?.remove();
  });

  it('an uninterrupted run: the end state every resumed run must reach', async () => {
    const t0 = Date.now();
    await loseSite1(demo);
    const { run, j } = await failover(demo, []);
    steps = run.steps.map((s) => s.name);
    expected = await endState(demo);
    assert.deepEqual(
      { ...expected, settings: undefined },
      {
        site1: 'down',
        site2: 'primary',
        site2Writable: true,
        appWritesAtSite2: true,
        aggregates: true,
        settings: undefined,
      },
    );
    const settings = expected.settings as Record<string, string>;
    assert.equal(settings['app.port'], String(demo.sites[1].port));
    assert.equal(settings['schedule.run-scheduler'], 'true');
    assert.equal(settings['schedule.run-aggregates'], 'true');
    assertNoUnapprovedRerun(run, j);
    const kinds = run.steps.map((s) => `${s.name}${s.idempotent ? '' : ' (not idempotent)'}`);
    console.log(`uninterrupted site-failover: ${((Date.now() - t0) / 1000).toFixed(1)} s; steps: ${kinds.join(', ')}`);
  });

  it('one run killed at the start of every step in turn reaches the same end state', async () => {
    assert.ok(steps.length > 10, 'the step list is known');
    const t0 = Date.now();
    await demo.reset();
    await loseSite1(demo);
    const { run, j } = await failover(demo, steps);
    assert.deepEqual([...j.killedAt.keys()], steps, 'killed once at every step');
    assert.deepEqual(await endState(demo), expected);
    assertNoUnapprovedRerun(run, j);
    console.log(
      `chain: ${steps.length} kills in ${((Date.now() - t0) / 1000).toFixed(1)} s; killed at ${[...j.killedAt].map(([s, st]) => `${s} (${st})`).join(', ')}; ` +
        `approvals: ${[...j.approvals].map(([s, a]) => `${s} ${a.join(' ')}`).join(', ') || 'none needed'}`,
    );
  });

  it(`a fresh demo killed at each ${SLOW ? '' : 'changing '}step, then resumed, reaches the same end state`, async () => {
    for (const step of SLOW ? steps : CHANGING) {
      assert.ok(steps.includes(step), `site-failover has a step ${step}`);
      const t0 = Date.now();
      await demo.reset();
      await loseSite1(demo);
      const { run, j } = await failover(demo, [step]);
      assert.deepEqual(await endState(demo), expected, `killed at ${step}`);
      assertNoUnapprovedRerun(run, j);
      const s = run.steps.find((x) => x.name === step)!;
      console.log(
        `killed at ${step} (${j.killedAt.get(step)}), resumed: same end state in ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
          `${step} attempts ${s.attempt}${s.idempotent ? '' : ` (not idempotent; approvals ${j.approvals.get(step)?.join(' ') ?? 'none'})`}`,
      );
    }
  });

  it('a step declared not idempotent is run again only after the approval to rerun it', async () => {
    await demo.reset();
    // Every step of the shipped runbook is idempotent: here start-app is declared not to be (this copy only).
    const file = path.join(path.dirname(demo.config), 'runbooks', 'site-failover.yaml');
    const text = fs.readFileSync(file, 'utf8');
    const changed = text.replace(/(- name: start-app\n(?: {4}.*\n)*? {4}idempotent: )true/, '$1false');
    assert.notEqual(changed, text);
    fs.writeFileSync(file, changed);
    await loseSite1(demo);
    const { run, j } = await failover(demo, ['start-app']);
    const s = run.steps.find((x) => x.name === 'start-app')!;
    assert.equal(s.idempotent, false);
    assert.equal(j.killedAt.get('start-app'), 'running');
    assert.deepEqual(j.approvals.get('start-app'), ['--rerun'], 'resume stopped at start-app for an approval');
    assert.equal(s.attempt, 2, 'run once before the kill, once after the approval');
    assert.deepEqual(await endState(demo), expected);
    assertNoUnapprovedRerun(run, j);
  });
});
