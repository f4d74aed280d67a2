// Command purges (plans/task/task-work.ts) through real plan runs: the
// program's output is logged as whole lines however it is written (a UTF-8
// character split between writes, a line written in pieces), and a timeout
// stops the purge's whole process group with SIGTERM first.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { CommandTarget } from '../src/config/types.ts';
import { runPlan } from '../src/plans/run/runner.ts';
import { activity, planWorld, taskLog } from './helpers/plan-fixtures.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';
import { alive } from './helpers/processes.ts';

const DB: CommandTarget = {
  kind: 'command',
  name: 'DB',
  site: null,
  listUnits: null,
  backup: ['sh', '-c', 'echo x'],
  restore: null,
  probe: null,
  timeoutMs: 10_000,
  env: {},
};

function purge(command: string[], timeoutMs = 10_000) {
  return activity('purge', 'purge', 'DB', null, { purge: { type: 'command', command, timeoutMs } });
}

const run = (w: PlanWorld) =>
  runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog, pollMs: 5 });

describe('purge commands', () => {
  it('log whole lines, however the program writes them', async (t) => {
    // 'removed é (3 files)\n' and 'done\n' in three writes: the first cuts 'é' in two, the second ends mid-line.
    const js = `const parts = [
        Buffer.from('removed \\xc3', 'latin1'), Buffer.from('\\xa9 (3 ', 'latin1'), Buffer.from('files)\\ndone\\n')];
      const next = (i) => {
        if (i < parts.length) process.stdout.write(parts[i], () => setTimeout(() => next(i + 1), 60));
      };
      next(0);`;
    const w = await planWorld({}, { activities: [purge([process.execPath, '-e', js])] }, { targets: { DB } });
    t.after(() => w.close());
    const r = await run(w);
    assert.equal(r.status, 'succeeded', JSON.stringify(r.tasks));
    const lines = taskLog(w, r.id, r.tasks[0]!.id).filter((l) => l.startsWith('purge std'));
    assert.deepEqual(lines, ['purge stdout: removed é (3 files)', 'purge stdout: done']);
  });

  it('a timeout stops the purge and what it started, SIGTERM first', async (t) => {
    const w = await planWorld({}, { activities: [] }, { targets: { DB } });
    t.after(() => w.close());
    const pidFile = path.join(w.dir, 'pid');
    const command = ['sh', '-c', `sleep 30 & echo $! > '${pidFile}'; wait`];
    Object.assign(w.config.plans.nightly!, { activities: [purge(command, 300)] });
    const t0 = Date.now();
    const r = await run(w);
    assert.equal(r.status, 'failed');
    assert.equal(r.tasks[0]!.reason, 'the purge command exited with SIGTERM (timed out)');
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(alive(Number(fs.readFileSync(pidFile, 'utf8'))), false, 'the background sleep was stopped too');
  });
});
