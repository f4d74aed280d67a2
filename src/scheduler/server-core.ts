// The server's engine room, without any network: scheduled runs from the
// Scheduler, on-demand runs from the control socket, at most
// settings.maxParallelRuns executing at once (runs on different scopes and
// destinations go in parallel; S5 locks keep overlapping ones apart), a
// scheduled run coalesced when the previous run of its plan is still queued
// or running, recovery at start (dead runs failed and retried per policy,
// quiesces undone, their leases released), a periodic sweep of stale leases,
// a reload of the configuration (loaded and checked first, then swapped at
// once: the schedules start again from the new plans, runs already queued or
// running finish with the configuration they were given), and a graceful
// stop: no new runs, running tasks get the shutdown grace, then are cancelled
// (cleanup runs), locks are released.

import type { Config, Plan } from '../config/types.ts';
import { loadConfig } from '../config/load.ts';
import { retentionWarnings } from '../config/config-warnings.ts';
import { generationOf } from '../config/generation.ts';
import type { ConfigGeneration } from '../config/generation.ts';
import { describeDiff, diffConfig } from '../config/config-diff.ts';
import type { ConfigDiff } from '../config/config-diff.ts';
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
import { sweepStaleLeases } from './lease-sweep.ts';
import { ProtectionMonitor } from '../plans/protection/monitor.ts';

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
  /** Loads the configuration file again at a reload (default loadConfig). */
  loadConfig?: (file: string) => Config;
}

/** What a successful reload did. */
export interface ConfigReload {
  generation: ConfigGeneration;
  diff: ConfigDiff;
  /** The log line: "configuration reloaded from F: 3 plans (1 added, 0 changed, 0 removed)". */
  summary: string;
}

interface Job {
  plan: Plan;
  /** The configuration and targets the run was asked under; a reload does not change them. */
  config: Config;
  targets: PlanTarget[];
  trigger: RunTrigger;
  scheduledFor?: number;
  retryOf?: PlanRunRecord;
  /** An on-demand run asked to ignore the maintenance window, and by whom. */
  ignoreWindow?: { by: string };
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
  private scheduler: Scheduler;
  private targets: PlanTarget[];
  private live: { config: Config; generation: ConfigGeneration };
  private reloading: Promise<unknown> = Promise.resolve();
  private sweeper: AbortController | null = null;
  /** Periodic protection reports (while the configuration has `protection:` or sites). */
  readonly protection: ProtectionMonitor;
  private started = false;
  private stopping = false;
  readonly startedAt: number;

  constructor(opts: ServerCoreOptions) {
    this.opts = opts;
    this.startedAt = opts.clock.now();
    this.live = { config: opts.config, generation: generationOf(opts.config, 1, this.startedAt) };
    this.targets = opts.targets ?? buildTargets(opts.config);
    this.scheduler = this.schedulerFor(opts.config);
    this.protection = new ProtectionMonitor({ ...opts, config: () => this.config });
  }

  /** The configuration in force now (the newest one loaded). */
  get config(): Config {
    return this.live.config;
  }

  /** Which configuration is in force: file, content hash, load time, reload count. */
  get generation(): ConfigGeneration {
    return this.live.generation;
  }

  private schedulerFor(config: Config): Scheduler {
    return new Scheduler({
      plans: Object.values(config.plans),
      clock: this.opts.clock,
      onDue: (p, at, missed) => this.due(p, at, missed),
    });
  }

  /** Recovers what a dead process left, queues retries of its scheduled runs, starts the schedules and the lease sweep. */
  async start(): Promise<void> {
    const { catalog } = this.opts;
    const config = this.config;
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
    this.started = true;
    this.scheduler.start();
    this.sweepLoop();
    this.protection.start();
    this.opts.log(
      'info',
      `server started: ${Object.values(config.plans).filter((p) => p.schedule).length} scheduled plan(s), up to ${config.settings.maxParallelRuns} run(s) at once`,
    );
  }

  /**
   * An on-demand run, queued behind the parallel limit; resolves when it has
   * finished. `drillOnly`: only the plan's drill activities (USAGE when it has none).
   */
  runNow(
    planName: string,
    opts: { drillOnly?: boolean; ignoreWindow?: { by: string } } = {},
  ): Promise<PlanRunResult> & { runId: () => string | undefined } {
    const config = this.config;
    const plan = config.plans[planName];
    let job: Job | undefined;
    const p = new Promise<PlanRunResult>((resolve, reject) => {
      if (!plan)
        return reject(
          new SafeholdError(
            'NOT_FOUND',
            `no plan '${planName}' in the server's configuration ${config.file} (loaded ${formatTime(this.generation.loadedAt)}; plans: ${Object.keys(config.plans).join(', ') || 'none'})`,
          ),
        );
      if (this.stopping) return reject(new SafeholdError('CANCELLED', 'the server is shutting down'));
      job = { plan, config, targets: this.targets, trigger: 'on-demand', resolve, reject };
      if (opts.ignoreWindow) job.ignoreWindow = opts.ignoreWindow;
      if (opts.drillOnly) {
        // Only the plan's drill activities: the run uses a copy of the configuration with the plan narrowed.
        const drills = plan.activities.filter((a) => a.kind === 'drill');
        if (drills.length === 0)
          return reject(
            new SafeholdError('USAGE', `plan '${planName}' has no drill activity: there is no drill to run`),
          );
        job.plan = { ...plan, activities: drills };
        job.config = { ...config, plans: { ...config.plans, [planName]: job.plan } };
      }
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
      config: this.generation,
    };
  }

  /**
   * Loads the configuration file again and, when it is valid, puts it in
   * force at once: new on-demand and scheduled runs use it, the schedules
   * start again from its plans. Runs already queued or running keep theirs.
   * When it is not valid, nothing changes: the error (every problem, naming
   * the file) is logged and thrown. Reloads run one at a time.
   */
  reload(): Promise<ConfigReload> {
    const r = this.reloading.then(() => this.reloadNow());
    this.reloading = r.catch(() => {});
    return r;
  }

  private async reloadNow(): Promise<ConfigReload> {
    if (this.stopping) throw new SafeholdError('CANCELLED', 'the server is shutting down');
    const old = this.live;
    const file = old.config.file;
    let next: Config;
    let targets: PlanTarget[];
    try {
      next = (this.opts.loadConfig ?? loadConfig)(file);
      targets = this.opts.targets ?? buildTargets(next);
    } catch (e) {
      this.opts.log(
        'error',
        `configuration not reloaded from ${file}; still running the one loaded at ${formatTime(old.generation.loadedAt)}: ${e instanceof Error ? e.message : String(e)}`,
        { file, generation: old.generation.number },
      );
      throw e;
    }
    const diff = diffConfig(old.config, next);
    const generation = generationOf(next, old.generation.number + 1, this.opts.clock.now());
    this.live = { config: next, generation };
    this.targets = targets;
    const stale = this.scheduler;
    this.scheduler = this.schedulerFor(next);
    await stale.stop();
    if (this.started && !this.stopping) this.scheduler.start();
    if (this.started && !this.stopping) this.protection.start();
    const summary = `configuration reloaded from ${file}: ${describeDiff(diff)}`;
    this.opts.log('info', summary, { file, generation: generation.number, hash: generation.hash });
    for (const w of retentionWarnings(next)) this.opts.log('warn', `${file}: ${w.path}: ${w.message}`);
    if (diff.restartOnly.length > 0)
      this.opts.log('warn', `${diff.restartOnly.join(' and ')} changed: in force only after the server restarts`);
    this.pump();
    return { generation, diff, summary };
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
    this.protection.stop();
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
    const s = this.config.settings;
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
        configFile: this.config.file,
      });
      this.opts.log(
        'info',
        `plan ${plan.name}: run due at ${formatTime(dueAt)} coalesced into ${into === 'queued' ? 'the queued run' : `run ${into.slice(0, 8)}`}`,
        { run: id },
      );
      return;
    }
    this.enqueue({ plan, config: this.config, targets: this.targets, trigger: 'scheduled', scheduledFor: dueAt });
  }

  /** A dead scheduled run is retried when its retry window (from its due time) is still open. */
  private retryAbandoned(dead: PlanRunRecord): void {
    const plan = this.config.plans[dead.plan];
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
      config: this.config,
      targets: this.targets,
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
    while (!this.stopping && this.active.size < this.config.settings.maxParallelRuns && this.queue.length > 0) {
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
        config: job.config,
        plan: job.plan.name,
        trigger: job.trigger,
        catalog: this.opts.catalog,
        clock: this.opts.clock,
        targets: job.targets,
        signal: this.cancel.signal,
        alert: this.opts.alert,
        skipRecovery: true,
        ...(this.opts.pollMs !== undefined ? { pollMs: this.opts.pollMs } : {}),
        ...(job.scheduledFor !== undefined ? { scheduledFor: job.scheduledFor } : {}),
        ...(job.retryOf ? { retryOf: job.retryOf } : {}),
        ...(job.ignoreWindow ? { ignoreWindow: job.ignoreWindow } : {}),
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
    sweepStaleLeases(() => this.leases(), this.opts);
  }
}
