// The `safehold` step kind against a real repository, catalog and files: a
// plan run into a local repository (run id, status, snapshot count as
// outputs, the run in the catalog), only the plan's copy activity into a
// second repository, a failing plan failing the step with the run's id, the
// dry run describing without running anything, and params naming nothing.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FilesTarget, Group, RepositoryDestination, RestorePlan } from '../../../config/types.ts';
import { systemClock } from '../../../core/clock.ts';
import { isSafeholdError } from '../../../core/errors.ts';
import { Repository } from '../../../repo/repository.ts';
import { LocalBackend } from '../../../repo/backend/local-backend.ts';
import { listSnapshots } from '../../../repo/snapshot.ts';
import { activity, planWorld } from '../../../../test/helpers/plan-fixtures.ts';
import type { PlanWorld } from '../../../../test/helpers/plan-fixtures.ts';
import type { StepContext } from '../step-kind.ts';
import { safeholdStep } from './safehold.ts';

function context(w: PlanWorld, lines: string[]): StepContext {
  return {
    runId: 'runbook-run-1',
    runbook: 'test',
    step: 'backup',
    attempt: 1,
    signal: new AbortController().signal,
    clock: systemClock,
    config: w.config,
    catalog: w.catalog,
    log: (m) => {
      lines.push(m);
    },
    alert: async () => {},
  };
}

describe('safehold step kind', () => {
  let w: PlanWorld;
  let farPath: string;
  const lines: string[] = [];
  before(async () => {
    w = await planWorld(
      {},
      {
        activities: [
          activity('files', 'backup', 'HOST', '*'),
          activity('offsite', 'copy', 'HOST', null, { to: 'far', purge: null }),
          activity('check', 'drill', 'HOST', '*'),
        ],
      },
    );
    const src = path.join(w.dir, 'src');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'runbook step\n');
    const host: FilesTarget = {
      kind: 'files',
      name: 'HOST',
      site: null,
      units: { docs: { paths: [src], exclude: [] } },
    };
    farPath = path.join(w.dir, 'far');
    await Repository.init(new LocalBackend(farPath), 'far pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const far: RepositoryDestination = {
      ...(w.config.destinations.local as RepositoryDestination),
      name: 'far',
      path: farPath,
      location: farPath,
      password: { source: 'inline', value: 'far pw' },
    };
    const missing: FilesTarget = {
      kind: 'files',
      name: 'GONE',
      site: null,
      units: { docs: { paths: [path.join(w.dir, 'no-such-dir')], exclude: [] } },
    };
    Object.assign(w.config.targets, { HOST: host, GONE: missing });
    Object.assign(w.config.destinations, { far });
    Object.assign(w.config.plans, {
      broken: { ...w.config.plans.nightly!, name: 'broken', activities: [activity('files', 'backup', 'GONE', '*')] },
      grp: {
        ...w.config.plans.nightly!,
        name: 'grp',
        activities: [activity('app', 'backup', '', null, { group: 'app' })],
      },
    });
    const group: Group = {
      name: 'app',
      mode: 'quiesced',
      members: [{ target: 'HOST', units: ['docs'] }],
      stop: null,
      start: null,
      check: null,
      cleanup: null,
    };
    const back: RestorePlan = {
      name: 'back',
      group: 'app',
      from: 'local',
      snapshot: 'latest',
      safetyBackup: true,
      intoSuffix: null,
      filesTo: path.join(w.dir, 'restored'),
    };
    Object.assign(w.config, { groups: { app: group }, restorePlans: { back } });
  });
  after(() => w.close());

  it('dry run: says what would run, from the configuration, and runs nothing', async () => {
    const ctx = context(w, lines);
    const plan = await safeholdStep.plan({ plan: 'nightly' }, ctx);
    assert.match(plan[0]!, /^run plan nightly \(destination local, a repository\) and wait for it$/);
    assert.deepEqual(plan.slice(1), [
      '  files: backup of HOST / *',
      '  offsite: copy of HOST to far',
      '  check: drill of HOST / *',
    ]);
    const copy = await safeholdStep.plan({ copy: { plan: 'nightly' } }, ctx);
    assert.match(copy[0]!, /^run the copy activity of plan nightly/);
    assert.equal(copy.length, 2);
    assert.equal(w.catalog.planRuns().listRuns({ limit: 10 }).length, 0, 'no run was recorded');
    assert.equal(
      (await listSnapshots(await Repository.open(new LocalBackend(w.repoPath), 'plan test password'))).length,
      0,
    );
  });

  it('runs a plan into the local repository and returns its run id, status and snapshot count', async () => {
    const out = await safeholdStep.run({ plan: 'nightly' }, context(w, lines));
    assert.equal(out.status, 'succeeded');
    assert.equal(typeof out.runId, 'string');
    const run = w.catalog.planRuns().getRun(out.runId as string);
    assert.equal(run?.status, 'succeeded');
    assert.equal(run?.plan, 'nightly');
    assert.equal(out.snapshots, 2, 'the backup and its copy');
    assert.equal(out.tasks, 3, 'backup, copy, drill');
    assert.equal(out.failedTasks, 0);
    assert.ok(lines.some((l) => l.includes(`run ${out.runId} succeeded`)));
    const snaps = await listSnapshots(await Repository.open(new LocalBackend(w.repoPath), 'plan test password'));
    assert.equal(snaps.length, 1);
  });

  it("runs only the plan's copy activity: a copy run whose tasks are all copies", async () => {
    fs.writeFileSync(path.join(w.dir, 'src', 'b.txt'), 'more\n');
    await safeholdStep.run({ plan: 'nightly' }, context(w, lines));
    const out = await safeholdStep.run({ copy: { plan: 'nightly', activity: 'offsite' } }, context(w, lines));
    assert.equal(out.status, 'succeeded');
    const tasks = w.catalog.planRuns().tasks(out.runId as string);
    assert.deepEqual(
      tasks.map((t) => t.kind),
      ['copy'],
    );
    assert.equal(out.snapshots, 0, 'the new snapshot was already copied by the plan run');
    const far = await listSnapshots(await Repository.open(new LocalBackend(farPath), 'far pw'));
    assert.equal(far.length, 2);
  });

  it("runs only the plan's drill: a drill run whose report passed", async () => {
    const out = await safeholdStep.run({ drill: { plan: 'nightly' } }, context(w, lines));
    assert.equal(out.status, 'succeeded');
    const tasks = w.catalog.planRuns().tasks(out.runId as string);
    assert.deepEqual(
      tasks.map((t) => t.kind),
      ['drill'],
    );
    assert.equal(w.catalog.drills().list({ limit: 5 })[0]?.status, 'passed');
  });

  it('a plan run that fails fails the step, naming the run', async () => {
    await assert.rejects(safeholdStep.run({ plan: 'broken' }, context(w, lines)), (e: unknown) => {
      assert.ok(isSafeholdError(e, 'RUNBOOK_STEP_FAILED'), String(e));
      const m = /run ([0-9a-f]+) failed: 1 task\(s\) failed.*; GONE\/docs: /.exec(e.message);
      assert.ok(m, e.message);
      assert.equal(w.catalog.planRuns().getRun(m[1]!)?.status, 'failed');
      assert.equal(e.retryable, false);
      return true;
    });
  });

  it("restores a group restore plan's latest group backup into new places", async () => {
    const ctx = context(w, lines);
    const plan = await safeholdStep.plan({ restorePlan: 'back' }, ctx);
    assert.match(plan[0]!, /^restore group app \(restore plan back\) from local, snapshot latest, into files under /);
    assert.deepEqual(plan.slice(1), ['  members: HOST/docs']);
    const backup = await safeholdStep.run({ plan: 'grp' }, ctx);
    assert.equal(backup.status, 'succeeded');
    const out = await safeholdStep.run({ restorePlan: 'back' }, ctx);
    assert.equal(out.status, 'succeeded');
    assert.equal(out.snapshots, 1, 'one unit restored');
    assert.match(String(out.runId), /^app\//, 'the group run restored');
    const restored = path.join(w.dir, 'restored', w.dir, 'src', 'a.txt');
    assert.equal(fs.readFileSync(restored, 'utf8'), 'runbook step\n');
  });

  it('params naming no plan, no copy or no drill activity are refused before anything runs', async () => {
    const ctx = context(w, lines);
    await assert.rejects(safeholdStep.plan({ plan: 'nope' }, ctx), /no plan 'nope'/);
    await assert.rejects(safeholdStep.run({ drill: { plan: 'grp' } }, ctx), /has no drill activity/);
    await assert.rejects(
      safeholdStep.run({ copy: { plan: 'nightly', activity: 'files' } }, ctx),
      /no copy activity 'files' \(copy activities: offsite\)/,
    );
    await assert.rejects(safeholdStep.plan({ restorePlan: 'nope' }, ctx), /no restore plan 'nope'/);
  });
});
