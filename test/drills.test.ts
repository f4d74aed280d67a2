// Restore drills (S7) of files units: the latest snapshot is restored into a
// scratch directory, compared byte for byte with the snapshot, removed, and a
// report recorded; a damaged repository makes the drill fail with the reason;
// `safehold drills` lists the reports.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPlan } from '../src/plans/run/runner.ts';
import type { FilesTarget } from '../src/config/types.ts';
import type { DrillRecord } from '../src/catalog/drills.ts';
import { activity, planWorld } from './helpers/plan-fixtures.ts';
import { runCli } from './helpers/spawn.ts';
import { baseEnv } from './helpers/cli.ts';

/** A report's restore and verify times are whole milliseconds that fit inside its own span, which lies in [from, to]. */
function assertTimings(rep: DrillRecord, from: number, to: number): void {
  for (const ms of [rep.restoreMs, rep.verifyMs]) {
    assert.equal(typeof ms, 'number', `restoreMs/verifyMs is a number, not ${ms}`);
    assert.ok(Number.isSafeInteger(ms) && ms! >= 0, `a whole, non-negative duration: ${ms}`);
  }
  assert.ok(
    from <= rep.startedAt && rep.startedAt <= rep.finishedAt && rep.finishedAt <= to,
    `drill span ${rep.startedAt}..${rep.finishedAt} within ${from}..${to}`,
  );
  assert.ok(
    rep.restoreMs! + rep.verifyMs! <= rep.finishedAt - rep.startedAt,
    `restore ${rep.restoreMs} ms + verify ${rep.verifyMs} ms fit in ${rep.finishedAt - rep.startedAt} ms`,
  );
}

describe('restore drills of files units', () => {
  it('restores the latest snapshot into scratch, verifies every byte, removes the scratch, records the report', async (t) => {
    const w = await planWorld({}, { activities: [activity('b', 'backup', 'HOST', null)] });
    t.after(() => w.close());
    const src = path.join(w.dir, 'src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
    fs.writeFileSync(path.join(src, 'sub', 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 5));
    fs.symlinkSync('a.txt', path.join(src, 'link'));
    const host: FilesTarget = {
      kind: 'files',
      name: 'HOST',
      site: null,
      units: { src: { paths: [src], exclude: [] } },
    };
    Object.assign(w.config.targets, { HOST: host });
    const base = w.config.plans.nightly!;
    Object.assign(w.config.plans, {
      drill: { ...base, name: 'drill', activities: [activity('drill', 'drill', 'HOST', '*')] },
    });
    const b = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(b.status, 'succeeded');
    const scratchBefore = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('safehold-drill-')).length;
    const before = Date.now();
    const d = await runPlan({ config: w.config, plan: 'drill', trigger: 'on-demand', catalog: w.catalog });
    const after = Date.now();
    assert.equal(d.status, 'succeeded', JSON.stringify(d.tasks));
    assert.match(
      d.tasks[0]!.reason!,
      /^drill passed: 2 file\(s\), 3145734 bytes restored and identical to the snapshot$/,
    );
    assert.equal(
      fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('safehold-drill-')).length,
      scratchBefore,
      'the scratch copy is gone',
    );
    const [rep] = w.catalog.drills().list();
    assert.equal(rep!.status, 'passed');
    assert.deepEqual(
      [rep!.target, rep!.unit, rep!.snapshot, rep!.runId],
      ['HOST', 'src', b.tasks[0]!.snapshots[0], d.id],
    );
    assert.deepEqual(
      [rep!.plan, rep!.taskId, rep!.summary, rep!.details],
      [
        'drill',
        d.tasks[0]!.id,
        '2 file(s), 3145734 bytes restored and identical to the snapshot',
        { files: 2, bytes: 3145734, problems: [] },
      ],
    );
    // The timings are measured on the run's clock (the system clock here): real durations within the drill's span.
    assertTimings(rep!, before, after);

    // A damaged pack: the drill fails and says why.
    const dataDir = path.join(w.repoPath, 'data');
    const pack = (fs.readdirSync(dataDir, { recursive: true }) as string[])
      .map((f) => path.join(dataDir, f))
      .filter((f) => fs.statSync(f).isFile())
      .sort((x, y) => fs.statSync(y).size - fs.statSync(x).size)[0]!;
    const bytes = fs.readFileSync(pack);
    bytes[100] ^= 0xff;
    fs.writeFileSync(pack, bytes);
    const bad = await runPlan({ config: w.config, plan: 'drill', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(bad.status, 'failed');
    assert.match(bad.tasks[0]!.reason!, /^drill failed: /);
    const reports = w.catalog.drills().list();
    assert.deepEqual(
      reports.map((r) => r.status),
      ['failed', 'passed'],
    );
    const failed = reports[0]!;
    assert.deepEqual(
      [failed.target, failed.unit, failed.snapshot, failed.runId],
      ['HOST', 'src', b.tasks[0]!.snapshots[0], bad.id],
    );
    assert.equal(`drill failed: ${failed.summary}`, bad.tasks[0]!.reason, 'the report says why, as the task does');
    assertTimings(failed, rep!.finishedAt, Date.now());
    assert.equal(
      fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('safehold-drill-')).length,
      scratchBefore,
      'the scratch copy is gone after a failure too',
    );

    const cli = await runCli(['drills', '--json'], { ...baseEnv(), SAFEHOLD_DATA_DIR: path.dirname(w.catalog.path) });
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(
      JSON.parse(cli.stdout).map((r: { status: string }) => r.status),
      ['failed', 'passed'],
    );
    const human = await runCli(['drills'], { ...baseEnv(), SAFEHOLD_DATA_DIR: path.dirname(w.catalog.path) });
    assert.match(human.stdout, /HOST\s+src\s+[0-9a-f]{8}\s+passed/);
  });
});
