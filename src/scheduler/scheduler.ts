// Fires plans' scheduled runs at their due times on the injected clock. One
// loop per scheduled plan: sleep until the next due time, call `onDue`, and
// go on from there. Due times missed while the process was not running are
// not caught up (like cron); a loop that wakes late (suspended machine, slow
// clock) fires once for the latest missed time, so schedules never pile up.

import type { Plan } from '../config/types.ts';
import type { Clock } from '../core/clock.ts';
import { nextDue } from './schedule.ts';

export interface SchedulerOptions {
  plans: readonly Plan[];
  clock: Clock;
  /** A plan's run is due at `dueAt` (`missed` earlier due times were skipped because the loop woke late). */
  onDue(plan: Plan, dueAt: number, missed: number): void;
}

export class Scheduler {
  private readonly opts: SchedulerOptions;
  private readonly stopper = new AbortController();
  private loops: Promise<void>[] = [];
  /** The next due time of each scheduled plan (for status output). */
  readonly next = new Map<string, number | null>();

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
  }

  start(): void {
    for (const plan of this.opts.plans) {
      if (plan.schedule) this.loops.push(this.loop(plan));
    }
  }

  async stop(): Promise<void> {
    this.stopper.abort(new Error('scheduler stopped'));
    await Promise.all(this.loops);
  }

  private async loop(plan: Plan): Promise<void> {
    const { clock } = this.opts;
    const signal = this.stopper.signal;
    let due = nextDue(plan.schedule!, clock.now());
    while (due !== null && !signal.aborted) {
      this.next.set(plan.name, due);
      const wait = due - clock.now();
      if (wait > 0) {
        try {
          await clock.sleep(wait, signal);
        } catch {
          return;
        }
      }
      // Woke late: skip to the latest due time that has passed.
      let missed = 0;
      for (let n = nextDue(plan.schedule!, due); n !== null && n <= clock.now(); n = nextDue(plan.schedule!, n)) {
        due = n;
        missed++;
      }
      this.opts.onDue(plan, due, missed);
      due = nextDue(plan.schedule!, due);
    }
    this.next.set(plan.name, null);
  }
}
