// The runbook engine in this process, with a real catalog in a temporary
// directory, real child processes and a ManualClock for what waits (retry
// backoffs, timeouts, approval polling): outputs feeding placeholders,
// `when:`, retries, timeouts, onFailure continue and rollback, approvals and
// roles, destructive confirmation, aborts, alerts, audit, and the dry run.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { AlertEvent } from '../../core/alert-event.ts';
import { ManualClock } from '../../core/clock.ts';
import { Catalog } from '../../catalog/catalog.ts';
import { loadConfig } from '../../config/load.ts';
import { RunbookService } from './runbook-service.ts';
import type { Actor, RunView } from './runbook-service.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-rbeng-'));
const ADMIN: Actor = { id: 'ann', role: 'admin', via: 'cli' };
const OPERATOR: Actor = { id: 'otto', role: 'operator', via: 'api' };
const VIEWER: Actor = { id: 'vera', role: 'viewer', via: 'api' };

const CONFIG = `
runbooks:
  flow:
    vars:
      dir: { default: "${root}" }
      skip: { default: "yes" }
    steps:
      - name: emit
        kind: command
        with: { argv: [sh, -c, 'echo starting; echo "{\\"lsn\\": \\"0/3000060\\", \\"lag\\": 7}"'] }
      - name: use
        kind: command
        with: { argv: [sh, -c, 'echo "\${steps.emit.outputs.lsn} \${run.id}" > "\${vars.dir}/use.txt"'] }
        preconditions:
          - that: "\${steps.emit.outputs.lag} < 10 and \${steps.emit.outputs.exitCode} == 0"
      - name: maybe
        kind: command
        when: "\${vars.skip} != yes"
        with: { argv: [touch, "\${vars.dir}/maybe.txt"] }
  retrying:
    vars: { dir: { default: "${root}" } }
    steps:
      - name: flaky
        kind: command
        retries: { attempts: 3, backoff: 10s }
        with: { argv: [sh, -c, 'echo x >> "\${vars.dir}/flaky.count"; test $(wc -l < "\${vars.dir}/flaky.count") -ge 3'] }
  timing-out:
    steps:
      - name: slow
        kind: command
        timeout: 2s
        onFailure: continue
        with: { argv: [sleep, "30"] }
      - name: after
        kind: notify
        with: { severity: warning, message: "slow was \${steps.slow.status}" }
  rolling-back:
    vars: { dir: { default: "${root}" } }
    steps:
      - name: change
        kind: command
        with: { argv: [sh, -c, 'echo changed > "\${vars.dir}/state.txt"'] }
      - name: break
        kind: command
        onFailure: rollback
        rollback: [undo-1, undo-2]
        with: { argv: [sh, -c, 'echo broken >&2; exit 3'] }
      - name: never
        kind: command
        with: { argv: [touch, "\${vars.dir}/never.txt"] }
    rollbackSteps:
      undo-1: { kind: command, with: { argv: [sh, -c, 'echo undo1 >> "\${vars.dir}/undo.log"'] } }
      undo-2: { kind: command, with: { argv: [sh, -c, 'echo undo2 >> "\${vars.dir}/undo.log"'] } }
  gated:
    steps:
      - name: ok-operator
        kind: approval
        with: { message: go on? }
      - name: ok-admin
        kind: approval
        with: { role: admin }
  dangerous:
    destructive: true
    steps:
      - name: gate
        kind: approval
      - name: done
        kind: notify
        with: { message: done }
  resumable:
    vars: { dir: { default: "${root}" } }
    steps:
      - name: once
        kind: command
        with: { argv: [sh, -c, 'echo run >> "\${vars.dir}/resumable.once"'] }
      - name: next
        kind: command
        with: { argv: [sh, -c, 'echo run >> "\${vars.dir}/resumable.next"'] }
  plans:
    vars: { dir: { default: "${root}" } }
    steps:
      - name: edit
        kind: config-edit
        with: { file: "\${vars.dir}/app.ini", set: { "db.host": site2 } }
      - name: touch
        kind: command
        with: { argv: [touch, "\${vars.dir}/touched"] }
        preconditions:
          - command: [test, -f, "\${vars.dir}/app.ini"]
          - that: "\${steps.edit.outputs.changed} == true"
`;

let catalog: Catalog;
let clock: ManualClock;
let alerts: AlertEvent[];
let service: RunbookService;
let ticker: NodeJS.Timeout;

before(() => {
  fs.writeFileSync(path.join(root, 'safehold.yaml'), `settings: { dataDir: ${root}/data }\n${CONFIG}`);
  const config = loadConfig(path.join(root, 'safehold.yaml'), {});
  clock = new ManualClock();
  catalog = Catalog.open(path.join(root, 'data'), clock);
  alerts = [];
  service = new RunbookService({
    config,
    catalog,
    clock,
    alert: async (e) => {
      alerts.push(e);
    },
  });
  // Time moves 250 ms every few real milliseconds: backoffs, timeouts and approval polls pass quickly.
  ticker = setInterval(() => void clock.advance(250), 3);
});

after(() => {
  clearInterval(ticker);
  catalog.close();
  fs.rmSync(root, { recursive: true, force: true });
});

function step(v: RunView, name: string) {
  const s = v.steps.find((x) => x.name === name);
  assert.ok(s, `step ${name} in ${JSON.stringify(v.steps.map((x) => x.name))}`);
  return s;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('runbook engine', () => {
  it('feeds outputs (and a JSON last line) to later placeholders and preconditions; skips on when:', async () => {
    const id = await service.start('flow', { vars: {}, actor: OPERATOR });
    const v = await service.runToEnd(id);
    assert.equal(v.status, 'succeeded', JSON.stringify(v));
    assert.equal(step(v, 'emit').outputs!.lsn, '0/3000060');
    assert.equal(step(v, 'emit').outputs!.lag, 7);
    assert.equal(fs.readFileSync(path.join(root, 'use.txt'), 'utf8'), `0/3000060 ${id}\n`);
    assert.equal(step(v, 'maybe').status, 'skipped');
    assert.equal(fs.existsSync(path.join(root, 'maybe.txt')), false);
    const audit = catalog
      .audit()
      .list({ limit: 50 })
      .filter((a) => a.path.includes(id));
    assert.ok(
      audit.some((a) => a.detail?.includes('step emit succeeded') && a.principal === 'otto' && a.role === 'operator'),
    );
    assert.ok(audit.every((a) => a.detail?.endsWith('(via api)')));
  });

  it('retries a failing step with a backoff and succeeds on the third attempt', async () => {
    const t0 = clock.now();
    const v = await service.runToEnd(await service.start('retrying', { vars: {}, actor: ADMIN }));
    assert.equal(v.status, 'succeeded', JSON.stringify(v));
    assert.equal(step(v, 'flaky').attempt, 3);
    assert.equal(fs.readFileSync(path.join(root, 'flaky.count'), 'utf8').split('\n').filter(Boolean).length, 3);
    // Backoffs 10s then 20s, each between half and all of it.
    assert.ok(clock.now() - t0 >= 15_000, `waited ${clock.now() - t0} ms of clock time`);
  });

  it('stops a step at its timeout, and onFailure continue goes on', async () => {
    const started = Date.now();
    const v = await service.runToEnd(await service.start('timing-out', { vars: {}, actor: ADMIN }));
    assert.ok(Date.now() - started < 10_000, 'the sleep was stopped');
    assert.equal(v.status, 'succeeded');
    assert.equal(step(v, 'slow').status, 'failed');
    assert.match(step(v, 'slow').error!, /timed out after 2(\.00)?s/);
    const notice = alerts.find((a) => a.event === 'runbook-notice');
    assert.equal(notice?.summary, 'slow was failed');
    assert.equal(notice?.severity, 'warning');
  });

  it('runs the named rollback steps in order on failure, records them, and alerts', async () => {
    const v = await service.runToEnd(await service.start('rolling-back', { vars: {}, actor: ADMIN }));
    assert.equal(v.status, 'failed');
    assert.match(v.error!, /step break failed: .*exited with status 3: broken; rolled back \(undo-1, undo-2\)/);
    assert.equal(step(v, 'break').status, 'rolled-back');
    assert.deepEqual(
      v.steps.filter((s) => s.phase === 'rollback').map((s) => [s.name, s.status]),
      [
        ['undo-1', 'succeeded'],
        ['undo-2', 'succeeded'],
      ],
    );
    assert.equal(fs.readFileSync(path.join(root, 'undo.log'), 'utf8'), 'undo1\nundo2\n');
    assert.equal(fs.existsSync(path.join(root, 'never.txt')), false);
    assert.equal(step(v, 'never').status, 'pending');
    assert.ok(alerts.some((a) => a.event === 'runbook-failed' && a.details.run === v.id));
  });

  it('waits for approvals from a sufficient role, refusing viewers and lower roles', async () => {
    const id = await service.start('gated', { vars: {}, actor: OPERATOR });
    const done = service.runToEnd(id);
    await until(() => service.get(id).status === 'waiting', 'the first approval');
    assert.deepEqual(step(service.get(id), 'ok-operator').approval, { role: 'operator', needsConfirm: false });
    assert.ok(alerts.some((a) => a.event === 'runbook-approval' && a.details.step === 'ok-operator'));
    assert.throws(() => service.approve(id, 'ok-operator', VIEWER), { code: 'RUNBOOK_FORBIDDEN' });
    assert.throws(() => service.approve(id, 'ok-admin', OPERATOR), { code: 'RUNBOOK_STATE' }, 'not waiting yet');
    service.approve(id, 'ok-operator', OPERATOR);
    await until(() => step(service.get(id), 'ok-admin').status === 'waiting', 'the admin approval');
    assert.throws(() => service.approve(id, 'ok-admin', OPERATOR), { code: 'RUNBOOK_FORBIDDEN' });
    service.approve(id, 'ok-admin', ADMIN);
    const v = await done;
    assert.equal(v.status, 'succeeded');
    assert.equal(step(v, 'ok-operator').outputs!.approvedBy, 'otto');
    assert.equal(step(v, 'ok-admin').outputs!.approvedBy, 'ann');
    const refused = catalog
      .audit()
      .list({ limit: 100 })
      .filter((a) => a.path.includes(id) && a.status === 403);
    assert.deepEqual(refused.map((a) => a.principal).sort(), ['otto', 'vera']);
  });

  it('needs the typed name of a destructive runbook to start it and to approve its steps', async () => {
    await assert.rejects(service.start('dangerous', { vars: {}, actor: ADMIN }), { code: 'RUNBOOK_FORBIDDEN' });
    await assert.rejects(service.start('dangerous', { vars: {}, actor: ADMIN, confirm: 'dangerou' }), {
      code: 'RUNBOOK_FORBIDDEN',
    });
    await assert.rejects(service.start('dangerous', { vars: {}, actor: VIEWER, confirm: 'dangerous' }), {
      code: 'RUNBOOK_FORBIDDEN',
    });
    const id = await service.start('dangerous', { vars: {}, actor: ADMIN, confirm: 'dangerous' });
    await until(() => service.get(id).status === 'waiting', 'the approval');
    assert.equal(step(service.get(id), 'gate').approval?.needsConfirm, true);
    assert.throws(() => service.approve(id, 'gate', ADMIN), { code: 'RUNBOOK_FORBIDDEN' });
    service.approve(id, 'gate', ADMIN, { confirm: 'dangerous' });
    assert.equal((await service.runToEnd(id)).status, 'succeeded');
  });

  it('aborts a waiting run', async () => {
    const id = await service.start('gated', { vars: {}, actor: ADMIN });
    await until(() => service.get(id).status === 'waiting', 'the approval');
    service.abort(id, ADMIN);
    const v = await service.runToEnd(id);
    assert.equal(v.status, 'aborted');
    assert.equal(step(v, 'ok-operator').status, 'failed');
    assert.throws(() => service.approve(id, 'ok-operator', ADMIN), { code: 'RUNBOOK_STATE' });
    await assert.rejects(service.resume(id, ADMIN), { code: 'RUNBOOK_STATE' });
  });

  it('resumes a run whose process died: a non-idempotent step marked done beforehand is not run again', async () => {
    const dead = spawnSync('true').pid!;
    const config = loadConfig(path.join(root, 'safehold.yaml'), {});
    const store = catalog.runbookRuns();
    const id = 'dead-owner';
    store.create({
      id,
      runbook: 'resumable',
      status: 'running',
      dryRun: false,
      vars: { dir: root },
      definition: config.runbooks.resumable,
      startedBy: 'ann',
      startedAt: clock.now(),
      pid: dead,
      hostname: os.hostname(),
    });
    store.addStep({
      runId: id,
      seq: 1,
      name: 'once',
      kind: 'command',
      phase: 'main',
      status: 'running',
      attempt: 1,
      startedAt: clock.now(),
      idempotent: false,
    });
    assert.throws(() => service.approve(id, 'once', ADMIN), /--rerun.*--mark-done/);
    assert.throws(() => service.approve(id, 'next', ADMIN), { code: 'RUNBOOK_STATE' });
    assert.throws(() => service.approve(id, 'once', VIEWER, { action: 'mark-done' }), { code: 'RUNBOOK_FORBIDDEN' });
    service.approve(id, 'once', OPERATOR, { action: 'mark-done' });
    await service.resume(id, OPERATOR);
    const v = await service.runToEnd(id);
    assert.equal(v.status, 'succeeded', JSON.stringify(v));
    assert.deepEqual(step(v, 'once').outputs, { markedDone: true });
    assert.equal(fs.existsSync(path.join(root, 'resumable.once')), false, 'not run again');
    assert.equal(fs.readFileSync(path.join(root, 'resumable.next'), 'utf8'), 'run\n');
  });

  it('dry-runs: resolves values, evaluates preconditions, says what would change, changes nothing', async () => {
    const ini = path.join(root, 'app.ini');
    fs.writeFileSync(ini, '[db]\nhost = site1\n');
    const runsBefore = service.runs().length;
    const plan = await service.dryRun('plans', {});
    assert.equal(fs.readFileSync(ini, 'utf8'), '[db]\nhost = site1\n');
    assert.equal(fs.existsSync(path.join(root, 'touched')), false);
    assert.deepEqual(
      fs.readdirSync(root).filter((f) => f.startsWith('app.ini.bak')),
      [],
    );
    assert.equal(service.runs().length, runsBefore, 'no run recorded');
    assert.deepEqual(plan.steps[0]!.changes, [`${ini}: db.host: "site1" → "site2"`]);
    assert.deepEqual(plan.steps[1]!.params, { argv: ['touch', path.join(root, 'touched')] });
    assert.deepEqual(
      plan.steps[1]!.preconditions.map((p) => p.holds),
      [true, null],
    );
    assert.match(plan.steps[1]!.preconditions[1]!.why, /steps not run yet/);
    await assert.rejects(service.dryRun('flow', { nope: '1' }), { code: 'USAGE' });
  });
});
