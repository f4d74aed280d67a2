// S6 consistency groups during a plan run, in the Hitachi manual's order:
// stop (or quiesce) the application with the group's stop hook, back up
// every member, then start it again with the start hook, which runs even when
// the stop hook or a backup failed. Only 'quiesced' groups stop anything:
// 'physical' and 'independent' groups are backed up while the application runs.

import type { Activity, Config, Group } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { describeHookResult, hookFailed, runHook } from './hooks.ts';
import type { HookContext, HookPhase } from './hooks.ts';

type Log = (msg: string, level?: 'info' | 'warn' | 'error') => void;

export class GroupHooks {
  private readonly config: Config;
  private readonly plan: string;
  private readonly runId: string;
  private readonly clock: Clock;
  private readonly log: Log;
  /** The group activity under way, and why its stop failed (null: stopped fine). */
  private current: { activity: string; group: Group; failed: string | null } | null = null;

  constructor(config: Config, plan: string, runId: string, clock: Clock, log: Log) {
    this.config = config;
    this.plan = plan;
    this.runId = runId;
    this.clock = clock;
    this.log = log;
  }

  /** Before a task: runs the stop hook at the first task of a group; returns why the task cannot run, or null. */
  async enter(a: Activity): Promise<string | null> {
    if (a.group === null) return null;
    if (this.current?.activity === a.name) return this.current.failed;
    const group = this.config.groups[a.group]!;
    this.current = { activity: a.name, group, failed: null };
    if (group.mode === 'independent')
      this.log(
        `group ${group.name}: independent dumps while the application runs; the group is NOT consistent`,
        'warn',
      );
    if (group.mode !== 'quiesced' || !group.stop) return null;
    const r = await runHook(group.stop, this.ctx('group-stop'), {
      clock: this.clock,
      log: (l) => this.log(`group stop ${l.stream}: ${l.line}`),
    });
    this.log(`group ${group.name}: ${describeHookResult(group.stop.name, r)}`, hookFailed(r) ? 'error' : 'info');
    if (hookFailed(r)) this.current.failed = `the group's stop hook failed: ${describeHookResult(group.stop.name, r)}`;
    return this.current.failed;
  }

  /** After a task: when it was the group's last, runs the start hook (always). */
  async leaveIfLast(a: Activity, next: Activity | undefined): Promise<void> {
    if (a.group === null || !this.current || this.current.activity !== a.name || next?.name === a.name) return;
    const group = this.current.group;
    this.current = null;
    if (group.mode !== 'quiesced' || !group.start) return;
    const r = await runHook(group.start, this.ctx('group-start'), {
      clock: this.clock,
      log: (l) => this.log(`group start ${l.stream}: ${l.line}`),
    });
    this.log(`group ${group.name}: ${describeHookResult(group.start.name, r)}`, hookFailed(r) ? 'error' : 'info');
  }

  private ctx(phase: HookPhase): HookContext {
    return { plan: this.plan, run: this.runId, phase };
  }
}
