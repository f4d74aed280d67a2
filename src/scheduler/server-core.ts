// The server's engine room, without any network: scheduled runs from the
// Scheduler, on-demand runs from the control socket, at most
// settings.maxParallelRuns executing at once (runs on different scopes and
// destinations go in parallel; S5 locks keep overlapping ones apart), a
// scheduled run coalesced when the previous run of its plan is still queued
// or running, recovery at start (dead runs failed and retried per policy,
// quiesces undone, their leases released), a periodic sweep of stale leases,
// and a graceful stop: no new runs, running tasks get the shutdown grace,
// then are cancelled (cleanup runs), locks are released.

import type { Config, Plan } from '../config/types.ts';
import type { Clock } from '../core/clock.ts';
import type { AlertEvent } from '../core/alert-event.ts';
import { SafeholdError } from '../core/errors.ts';
import { formatDuration, formatTime } from '../core/format.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { PlanRunRecord, RunTrigger } from '../catalog/plan-runs.ts';
import { buildTargets } from '../drivers/target/targets.ts';
import type { PlanTarget } from '../drivers/target/targets.ts';
import { quiesceRepairedAlert, recoverAbandoned } from '../plans/run/recover.ts';
import { runPlan } from '../plans/run/runner.ts';
import type { PlanRunResult } from '../plans/run/runner.ts';
import { attemptTimes } from '../plans/run/retry.ts';
import { Scheduler } from './scheduler.ts';

export interface ServerCoreOptions {
  config: Config;
  catalog: Catalog;
  clock: Clock;
  /** Raises an alert (stored and delivered by the caller). */
  alert(e: AlertEvent): void;
  /** One line for the server's log (stderr, or JSON lines). */
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
  /** Targets instead of the configured drivers (tests). */
  targets?: PlanTarget[];
  pollMs?: number;
  /** How often stale leases are swept (default 1 min). */
  sweepMs?: number;
}

interface Job {
  plan: Plan;
  trigger: RunTrigger;
  scheduledFor?: number;
  retryOf?: PlanRunRecord;
  resolve(r: PlanRunResult): void;
  reject(e: unknown): void;
  runId?: string;
}

export class ServerCore {
  private readonly opts: ServerCoreOptions;
  private readonly queue: Job[] = [];
  private readonly active = new Set<Job>();
  private readonly cancel = new AbortController();
  private readonly idle = new Set<() => void>();
  private readonly scheduler: Scheduler;
  private readonly targets: PlanTarget[];
  private sweeper: AbortController | null = null;
  private stopping = false;
  readonly startedAt: number;

  constructor(opts: ServerCoreOptions) {
    this.opts = opts;
    this.startedAt = opts.clock.now();
    this.targets = opts.targets ?? buildTargets(opts.config);
    this.scheduler = new Scheduler({
      plans: Object.values(opts.config.plans),
      clock: opts.clock,
      onDue: (p, at, missed) => this.due(p, at, missed),
    });
  }

  /** Recovers what a dead process left, queues retries of its scheduled runs, starts the schedules and the lease sweep. */
  async start(): Promise<void> {
    const { catalog, config } = this.opts;
    const store = catalog.planRuns();
    const rec = await recoverAbandoned(store, this.targets, this.leases());
    for (const q of rec.repaired) this.opts.alert(quiesceRepairedAlert(q));
    for (const q of rec.notUndone)
      this.opts.log(
        'error',
        `could not undo the quiesce of ${q} left by a dead process; it is retried at the next start`,
      );
    for (const dead of rec.abandoned) {
      this.opts.log(
        'warn',
        `run ${dead.id.slice(0, 8)} of plan ${dead.plan} was left running by process ${dead.pid}, which died: marked failed`,
        { run: dead.id },
      );
      this.retryAbandoned(dead);
    }
    this.scheduler.start();
    this.sweepLoop();
    this.opts.log(
      'info',
      `server started: ${Object.values(config.plans).filter((p) => p.schedule).length} scheduled plan(s), up to ${config.settings.maxParallelRuns} run(s) at once`,
    );
  }

  /** An on-demand run, queued behind the parallel limit; resolves when it has finished. */
  runNow(planName: string): Promise<PlanRunResult> & { runId: () => string | undefined } {
    const plan = this.opts.config.plans[planName];
    let job: Job | undefined;
    const p = new Promise<PlanRunResult>((resolve, reject) => {
      if (!plan)
        return reject(
          new SafeholdError(
            'NOT_FOUND',
            `no plan '${planName}' (plans: ${Object.keys(this.opts.config.plans).join(', ') || 'none'})`,
          ),
        );
      if (this.stopping) return reject(new SafeholdError('CANCELLED', 'the server is shutting down'));
      job = { plan, trigger: 'on-demand', resolve, reject };
      this.queue.push(job);
      this.pump();
    });
    return Object.assign(p, { runId: () => job?.runId });
  }

  /** What runs and waits now (for status output). */
  status() {
    return {
      startedAt: this.startedAt,
      running: [...this.active].map((j) => ({ plan: j.plan.name, trigger: j.trigger, runId: j.runId ?? null })),
      queued: this.queue.map((j) => ({ plan: j.plan.name, trigger: j.trigger })),
      next: Object.fromEntries(this.scheduler.next),
    };
  }

  /** Resolves when nothing is running or queued (tests). */
  whenIdle(): Promise<void> {
    if (this.active.size === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.add(r));
  }

  /**
   * Stops: no new runs (queued ones are dropped, their callers told), the
   * running ones get `graceMs` to finish, then are cancelled and awaited.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await this.scheduler.stop();
    this.sweeper?.abort();
    for (const j of this.queue.splice(0)) j.reject(new SafeholdError('CANCELLED', 'the server is shutting down'));
    if (this.active.size > 0) {
      this.opts.log('info', `shutting down: waiting up to ${formatDuration(graceMs)} for ${this.active.size} run(s)`);
      const done = this.whenIdle();
      const t = setTimeout(
        () => this.cancel.abort(new SafeholdError('CANCELLED', 'cancelled: the server is shutting down')),
        graceMs,
      );
      await done;
      clearTimeout(t);
    }
  }

  private leases() {
    const s = this.opts.config.settings;
    return this.opts.catalog.leases({ maxAgeMs: s.lockMaxAgeMs, heartbeatTimeoutMs: s.lockHeartbeatTimeoutMs });
  }

  private due(plan: Plan, dueAt: number, missed: number): void {
    if (missed > 0)
      this.opts.log(
        'warn',
        `plan ${plan.name}: ${missed} due time(s) passed while the server was busy or asleep; running once for ${formatTime(dueAt)}`,
      );
    const busy = [...this.active, ...this.queue].find((j) => j.plan.name === plan.name);
    const store = this.opts.catalog.planRuns();
    const running = busy?.runId ?? store.runningRuns(plan.name)[0]?.id;
    if (busy || running) {
      const into = running ?? 'queued';
      const id = store.recordCoalesced({
        plan: plan.name,
        scheduledFor: dueAt,
        into,
        configFile: this.opts.config.file,
      });
      this.opts.log(
        'info',
        `plan ${plan.name}: run due at ${formatTime(dueAt)} coalesced into ${into === 'queued' ? 'the queued run' : `run ${into.slice(0, 8)}`}`,
        { run: id },
      );
      return;
    }
    this.enqueue({ plan, trigger: 'scheduled', scheduledFor: dueAt });
  }

  /** A dead scheduled run is retried when its retry window (from its due time) is still open. */
  private retryAbandoned(dead: PlanRunRecord): void {
    const plan = this.opts.config.plans[dead.plan];
    const store = this.opts.catalog.planRuns();
    if (!plan || store.hasRetry(dead.id)) return;
    // The policy of the chain's first run: on-demand runs are retried only when the plan gives them a policy.
    let first = dead;
    for (let i = 0; i < 100 && first.retryOf; i++) first = store.getRun(first.retryOf) ?? first;
    const purging = plan.activities.some((a) => a.kind === 'purge');
    const policy =
      first.trigger === 'on-demand' ? plan.retry.onDemand : purging ? plan.retry.purge : plan.retry.scheduled;
    if (!policy) {
      this.opts.log(
        'info',
        `run ${dead.id.slice(0, 8)} of plan ${plan.name} was on demand: not retried (no on-demand retry policy)`,
      );
      return;
    }
    const start = first.scheduledFor ?? first.startedAt;
    const left = attemptTimes(policy, start, this.opts.clock.now());
    if (left.length === 0) {
      this.opts.log(
        'warn',
        `run ${dead.id.slice(0, 8)} of plan ${plan.name}: its retry window closed at ${formatTime(start + policy.maxDurationMs)}; not retried`,
      );
      this.opts.alert({
        event: 'retries-exhausted',
        severity: 'critical',
        summary: `plan ${plan.name}: run ${dead.id.slice(0, 8)} died and its retry window is over`,
        details: { plan: plan.name, runId: dead.id, attempts: 1, reason: dead.reason },
      });
      return;
    }
    this.opts.log('info', `retrying run ${dead.id.slice(0, 8)} of plan ${plan.name} (due ${formatTime(start)})`);
    this.enqueue({
      plan,
      trigger: 'retry',
      ...(first.scheduledFor !== null ? { scheduledFor: first.scheduledFor } : {}),
      retryOf: store.getRun(dead.id)!,
    });
  }

  private enqueue(j: Omit<Job, 'resolve' | 'reject'>): void {
    const job: Job = {
      ...j,
      resolve: () => {},
      reject: (e) => this.opts.log('error', `plan ${j.plan.name}: ${e instanceof Error ? e.message : String(e)}`),
    };
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (!this.stopping && this.active.size < this.opts.config.settings.maxParallelRuns && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.active.add(job);
      void this.execute(job).finally(() => {
        this.active.delete(job);
        this.pump();
        if (this.active.size === 0 && this.queue.length === 0) {
          for (const r of this.idle) r();
          this.idle.clear();
        }
      });
    }
  }

  private async execute(job: Job): Promise<void> {
    try {
      const r = await runPlan({
        config: this.opts.config,
        plan: job.plan.name,
        trigger: job.trigger,
        catalog: this.opts.catalog,
        clock: this.opts.clock,
        targets: this.targets,
        signal: this.cancel.signal,
        alert: this.opts.alert,
        skipRecovery: true,
        ...(this.opts.pollMs !== undefined ? { pollMs: this.opts.pollMs } : {}),
        ...(job.scheduledFor !== undefined ? { scheduledFor: job.scheduledFor } : {}),
        ...(job.retryOf ? { retryOf: job.retryOf } : {}),
        onStart: (id) => {
          job.runId = id;
          this.opts.log('info', `plan ${job.plan.name}: run ${id.slice(0, 8)} started (${job.trigger})`, { run: id });
        },
      });
      this.opts.log(
        r.status === 'failed' ? 'error' : 'info',
        `plan ${job.plan.name}: run ${r.id.slice(0, 8)} ${r.status}${r.reason ? `: ${r.reason}` : ''}`,
        { run: r.id },
      );
      job.resolve(r);
    } catch (e) {
      job.reject(e);
    }
  }

  private sweepLoop(): void {
    const ac = new AbortController();
    this.sweeper = ac;
    const every = this.opts.sweepMs ?? 60_000;
    void (async () => {
      for (;;) {
        try {
          await this.opts.clock.sleep(every, ac.signal);
        } catch {
          return;
        }
        this.sweep();
      }
    })();
  }

  /** Clears leases past their maximum age or heartbeat; logs and alerts each. */
  sweep(): void {
    let cleared;
    try {
      cleared = this.leases().sweep();
    } catch (e) {
      this.opts.log('warn', `lease sweep failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    for (const c of cleared) {
      const l = c.lease;
      const why =
        c.why === 'max-age'
          ? 'older than the maximum age'
          : c.why === 'heartbeat'
            ? 'its heartbeat stopped'
            : 'its process is gone';
      this.opts.log(
        'warn',
        `cleared the lock on ${l.scope} held by ${l.runId ? `run ${l.runId.slice(0, 8)}` : l.holder} since ${formatTime(l.createdAt)}: ${why}`,
      );
      this.opts.alert({
        event: 'stale-lock-cleared',
        severity: 'warning',
        summary: `lock on ${l.scope} cleared: ${why}`,
        details: {
          scope: l.scope,
          holder: l.holder,
          runId: l.runId,
          ageMs: this.opts.clock.now() - l.createdAt,
          why: c.why,
        },
      });
    }
  }
}
