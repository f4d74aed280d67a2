// Consistency groups (S6) and the safe restore (S7) with files members: the
// stop hook, every member, the start hook (always); the restore in the
// manual's order with a safety backup, refusal while the application runs,
// a failing step that names itself and the rollback that undoes it.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runPlan } from '../src/plans/run/runner.ts';
import { restoreGroup } from '../src/plans/restore/restore-flow.ts';
import type { RestoreStep } from '../src/plans/restore/restore-flow.ts';
import { buildTargets } from '../src/drivers/target/targets.ts';
import type { FilesTarget, Group } from '../src/config/types.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { activity, hook, openRepo, planWorld } from './helpers/plan-fixtures.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';
import { systemClock } from '../src/core/clock.ts';

async function world(t: { after(fn: () => Promise<void> | void): void }, over: Partial<Group> = {}) {
  const w = await planWorld({}, { activities: [activity('app', 'backup', '', null, { group: 'app' })] });
  t.after(() => w.close());
  const log = path.join(w.dir, 'hooks.log');
  const conf = path.join(w.dir, 'app', 'conf');
  const data = path.join(w.dir, 'app', 'data');
  fs.mkdirSync(conf, { recursive: true });
  fs.mkdirSync(data, { recursive: true });
  fs.writeFileSync(path.join(conf, 'app.ini'), 'mode = v1\n');
  fs.writeFileSync(path.join(data, 'work.db'), 'work v1\n');
  const host: FilesTarget = {
    kind: 'files',
    name: 'HOST',
    site: null,
    units: { conf: { paths: [conf], exclude: [] }, data: { paths: [data], exclude: [] } },
  };
  const mark = (name: string) => hook(name, `echo ${name} >> ${log}`);
  const group: Group = {
    name: 'app',
    mode: 'quiesced',
    members: [{ target: 'HOST', units: ['data', 'conf'] }],
    stop: mark('stop'),
    start: hook('start', `echo start >> ${log}`, { always: true }),
    check: hook('check', `test ! -e ${path.join(w.dir, 'running')}`),
    cleanup: mark('cleanup'),
    ...over,
  };
  Object.assign(w.config.targets, { HOST: host });
  Object.assign(w.config, { groups: { app: group } });
  const hooks = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []);
  return { w, conf, data, hooks, log };
}

function restore(w: PlanWorld, over: Partial<Parameters<typeof restoreGroup>[0]> = {}) {
  const steps: [RestoreStep, string][] = [];
  const p = restoreGroup({
    config: w.config,
    group: 'app',
    from: 'local',
    snapshot: 'latest',
    safetyBackup: true,
    intoSuffix: null,
    filesTo: null,
    force: false,
    allowLive: true,
    targets: buildTargets(w.config),
    clock: systemClock,
    log: (step, msg) => steps.push([step, msg]),
    ...over,
  });
  return { p, steps };
}

describe('consistency groups: backup (S6)', () => {
  it('stop hook, every member, start hook; the snapshots share one group run', async (t) => {
    const { w, hooks } = await world(t);
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'succeeded', JSON.stringify(r.tasks));
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.unit, x.status]),
      [
        ['HOST', 'data', 'succeeded'],
        ['HOST', 'conf', 'succeeded'],
      ],
    );
    assert.deepEqual(hooks(), ['stop', 'start']);
    const snaps = await listSnapshots(await openRepo(w));
    assert.equal(snaps.length, 2);
    assert.deepEqual([...new Set(snaps.map((s) => s.meta?.group))], [`app/${r.id}`]);
    assert.ok(
      snaps.every((s) => s.meta?.online === false && s.meta?.consistent === true),
      'a quiesced group is an offline, consistent backup',
    );
    const log = w.catalog
      .planRuns()
      .logLines(r.id)
      .map((l) => l.message);
    const at = (prefix: string) => {
      const i = log.findIndex((m) => m.startsWith(prefix));
      assert.ok(i >= 0, `${prefix} is logged`);
      return i;
    };
    assert.ok(at('group app: group-stop hook stop succeeded') < at('task 1: '));
    assert.ok(at('group app: group-start hook start succeeded') > at('task 2: '));
  });

  it('a failing stop hook fails every member without backing up, and the start hook still runs', async (t) => {
    const { w, hooks } = await world(t, { stop: hook('stop', 'echo app will not stop >&2; exit 3') });
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'failed');
    assert.deepEqual(
      r.tasks.map((x) => x.status),
      ['failed', 'failed'],
    );
    assert.match(r.tasks[0]!.reason!, /^the group's stop hook failed: .*exited with 3/);
    assert.deepEqual(hooks(), ['start']);
    assert.deepEqual(await listSnapshots(await openRepo(w)), []);
  });
});

describe('safe restore of a group (S7)', () => {
  it('stop, check, safety backup, files, start — in that order; the files are back as they were', async (t) => {
    const { w, conf, data, hooks } = await world(t);
    assert.equal(
      (await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog })).status,
      'succeeded',
    );
    fs.writeFileSync(path.join(conf, 'app.ini'), 'mode = v2 (broken)\n');
    fs.writeFileSync(path.join(data, 'stray.tmp'), 'left by v2\n');
    const { p, steps } = restore(w);
    const r = await p;
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.deepEqual(hooks(), ['stop', 'start', 'stop', 'start'], 'no cleanup hook: the backup was offline');
    const order = [...new Set(steps.map(([s]) => s))];
    assert.deepEqual(order, ['select', 'stop', 'check', 'safety-backup', 'files', 'start']);
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'mode = v1\n');
    assert.ok(!fs.existsSync(path.join(data, 'stray.tmp')), 'the folder was emptied before the restore');
    assert.ok(r.safety && r.safety.snapshots.length === 2, 'the v2 state was saved first');
    const safety = (await listSnapshots(await openRepo(w))).filter((s) => s.tags.includes('safety'));
    assert.deepEqual(
      safety.map((s) => s.meta?.group).filter((g, i, a) => a.indexOf(g) === i),
      [r.safety.groupRun],
    );
    // Rolling back to the safety backup brings v2 back.
    const back = await restore(w, { snapshot: r.safety.groupRun }).p;
    assert.equal(back.ok, true);
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'mode = v2 (broken)\n');
  });

  it('refuses while the application runs (check hook), unless forced; nothing is touched', async (t) => {
    const { w, conf } = await world(t);
    assert.equal(
      (await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog })).status,
      'succeeded',
    );
    fs.writeFileSync(path.join(conf, 'app.ini'), 'mode = v2\n');
    fs.writeFileSync(path.join(w.dir, 'running'), '');
    const r = await restore(w).p;
    assert.equal(r.ok, false);
    assert.equal(r.failedStep, 'check');
    assert.match(
      r.reason!,
      /^the application is still running \(restore-check hook check exited with 1\); stop it, or restore anyway with --force$/,
    );
    assert.equal(r.safety, null);
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'mode = v2\n');
    const forced = await restore(w, { force: true }).p;
    assert.equal(forced.ok, true);
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'mode = v1\n');
  });

  it('a failing step stops there, says which, leaves the app stopped, and names the safety backup to roll back to', async (t) => {
    const { w, conf, hooks } = await world(t, { start: hook('start', 'exit 9') });
    assert.equal(
      (await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog })).status,
      'succeeded',
    );
    fs.writeFileSync(path.join(conf, 'app.ini'), 'mode = v2\n');
    const r = await restore(w).p;
    assert.equal(r.ok, false);
    assert.equal(r.failedStep, 'start');
    assert.match(r.reason!, /start exited with 9/);
    assert.ok(r.safety);
    assert.equal(
      r.rollback,
      `safehold restore --group app --from local --snapshot ${r.safety.groupRun} --config ${w.config.file}`,
    );
    assert.ok(hooks().length >= 2);
  });

  it('restores into another place for tests (--files-to), leaving the originals alone', async (t) => {
    const { w, conf } = await world(t);
    assert.equal(
      (await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog })).status,
      'succeeded',
    );
    fs.writeFileSync(path.join(conf, 'app.ini'), 'mode = v2\n');
    const elsewhere = path.join(w.dir, 'elsewhere');
    const r = await restore(w, { filesTo: elsewhere }).p;
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.safety, null, 'nothing existed there to save');
    assert.equal(fs.readFileSync(path.join(elsewhere, conf, 'app.ini'), 'utf8'), 'mode = v1\n');
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'mode = v2\n');
  });
});

describe('group restore: the plan, the dry run, live data and the hooks', () => {
  it('a dry run changes nothing (files, hooks, repository) and lists what the real run then does', async (t) => {
    const { w, conf, data, hooks } = await world(t);
    assert.equal(
      (await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog })).status,
      'succeeded',
    );
    fs.writeFileSync(path.join(conf, 'app.ini'), 'mode = v2\n');
    fs.mkdirSync(path.join(data, 'cache'));
    fs.writeFileSync(path.join(data, 'cache', 'x.tmp'), 'x');
    fs.writeFileSync(path.join(data, 'stray.tmp'), 'left by v2\n');
    const hooksBefore = hooks();
    const snapsBefore = (await listSnapshots(await openRepo(w))).length;
    let asked = 0;
    const dry = await restore(w, {
      dryRun: true,
      confirm: async () => {
        asked++;
        return true;
      },
    }).p;
    assert.equal(dry.ok, true, JSON.stringify(dry));
    assert.equal(dry.dryRun, true);
    assert.equal(asked, 0, 'a dry run asks nothing');
    assert.deepEqual(hooks(), hooksBefore, 'no hook ran');
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'mode = v2\n');
    assert.ok(fs.existsSync(path.join(data, 'stray.tmp')) && fs.existsSync(path.join(data, 'cache', 'x.tmp')));
    assert.equal((await listSnapshots(await openRepo(w))).length, snapsBefore, 'no safety backup was taken');
    assert.deepEqual([dry.safety, dry.safetyState, dry.restored], [null, 'not-reached', []]);
    const plan = dry.plan!;
    assert.equal(plan.touchesLive, true);
    assert.equal(plan.refusal, null);
    assert.deepEqual(
      plan.hooks.map((h) => [h.step, h.hook, h.runs]),
      [
        ['stop', 'stop', true],
        ['check', 'check', true],
        ['cleanup', 'cleanup', false],
        ['start', 'start', true],
      ],
    );
    assert.match(plan.hooks[2]!.why, /taken offline/);
    assert.deepEqual([plan.safetyBackup.runs, [...plan.safetyBackup.saves].sort()], [true, [conf, data].sort()]);
    const byUnit = Object.fromEntries(plan.files.map((f) => [f.unit, f]));
    assert.deepEqual(byUnit.conf!.places, [conf]);
    assert.deepEqual([byUnit.conf!.deleteCount, byUnit.conf!.replaces], [0, 2], 'conf/ and app.ini replaced');
    assert.deepEqual(byUnit.data!.deletes, [path.join(data, 'cache/'), path.join(data, 'stray.tmp')]);
    assert.equal(byUnit.data!.deleteCount, 3, 'cache/, cache/x.tmp and stray.tmp');
    // The real run follows the same plan.
    const real = await restore(w, { confirm: async () => true }).p;
    assert.equal(real.ok, true, JSON.stringify(real));
    assert.deepEqual(real.plan, plan);
    assert.equal(real.safetyState, 'taken');
    assert.ok(!fs.existsSync(path.join(data, 'stray.tmp')) && !fs.existsSync(path.join(data, 'cache')));
  });

  it('over live data the caller is asked first: a "no" stops with nothing changed; a dry run by a caller who may not is refused in the plan', async (t) => {
    const { w, conf, hooks } = await world(t);
    assert.equal(
      (await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog })).status,
      'succeeded',
    );
    fs.writeFileSync(path.join(conf, 'app.ini'), 'mode = v2\n');
    const hooksBefore = hooks();
    let seen: string[] = [];
    await assert.rejects(
      restore(w, {
        confirm: async (p) => {
          seen = p.overLiveData;
          return false;
        },
      }).p,
      (e: Error & { code?: string }) => e.code === 'CANCELLED' && /not confirmed: nothing was changed/.test(e.message),
    );
    assert.ok(
      seen.some((h) => h.includes('files of HOST/conf')),
      seen.join(),
    );
    assert.deepEqual(hooks(), hooksBefore);
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'mode = v2\n');
    const dry = await restore(w, { dryRun: true, allowLive: false }).p;
    assert.equal(dry.ok, false);
    assert.match(dry.plan!.refusal!, /would overwrite live data .*needs the admin role/);
    await assert.rejects(restore(w, { allowLive: false }).p, /needs the admin role/);
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'mode = v2\n');
  });

  it('into new places (--files-to) no hook runs and nobody is asked; the plan and the log say why; no safety backup needed', async (t) => {
    const { w, conf, hooks } = await world(t);
    assert.equal(
      (await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog })).status,
      'succeeded',
    );
    const hooksBefore = hooks();
    const elsewhere = path.join(w.dir, 'elsewhere');
    let asked = false;
    const { p, steps } = restore(w, {
      filesTo: elsewhere,
      confirm: async () => {
        asked = true;
        return false;
      },
    });
    const r = await p;
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(asked, false);
    assert.deepEqual(hooks(), hooksBefore, 'stop, check and start did not run');
    assert.equal(r.plan!.touchesLive, false);
    assert.ok(r.plan!.hooks.every((h) => !h.runs));
    for (const step of ['stop', 'check', 'start'] as const)
      assert.ok(
        steps.some(([s, m]) => s === step && /not run: the restore touches no live data/.test(m)),
        `${step} logged as not run`,
      );
    assert.deepEqual([r.safety, r.safetyState], [null, 'not-needed']);
    assert.equal(fs.readFileSync(path.join(elsewhere, conf, 'app.ini'), 'utf8'), 'mode = v1\n');
    const off = await restore(w, { filesTo: path.join(w.dir, 'elsewhere2'), safetyBackup: false }).p;
    assert.deepEqual([off.ok, off.safetyState], [true, 'off']);
  });
});
