// safehold run show ID: one plan run with its tasks (statuses, reasons,
// snapshots) and its log lines.

import { SafeholdError } from '../../core/errors.ts';
import { formatDuration, formatTime } from '../../core/format.ts';
import { openCatalog } from '../session.ts';
import { printTasks } from './plan.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const runCommand: Command = {
  name: 'run',
  summary: 'show one plan run: its tasks and log (run show ID)',
  usage: 'safehold run show ID   (an id from `safehold runs`, or a unique prefix of one)',
  options: {},
  async run(ctx) {
    const [sub, id, ...rest] = ctx.positionals;
    if (sub !== 'show' || !id || rest.length > 0) throw new SafeholdError('USAGE', 'usage: safehold run show ID');
    const catalog = await openCatalog(ctx);
    try {
      const store = catalog.planRuns();
      const run = store.findRun(id);
      const tasks = store.tasks(run.id);
      const log = store.logLines(run.id);
      ctx.out.result({ run, tasks, log }, () => {
        const took = run.finishedAt ? ` in ${formatDuration(run.finishedAt - run.startedAt)}` : '';
        ctx.out.line(
          `run ${run.id} of plan ${run.plan} (${run.trigger}), started ${formatTime(run.startedAt)}${took}: ${run.status}${run.reason ? ` (${run.reason})` : ''}`,
        );
        if (tasks.length > 0) printTasks(ctx.out, tasks);
        ctx.out.line('');
        for (const l of log)
          ctx.out.line(
            `${formatTime(l.at)} ${l.level.padEnd(5)} ${l.taskId ? `[task ${l.taskId.split('-').at(-1)}] ` : ''}${l.message}`,
          );
      });
      return EXIT.ok;
    } finally {
      catalog.close();
    }
  },
};
