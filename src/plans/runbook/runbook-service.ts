// What the CLI and the API use to list, show, dry-run, start, resume,
// approve and abort runbook runs. Runs execute in this process
// (runbook-engine.ts); approvals and aborts given by other processes are rows
// in the catalog that the running engine polls for. Roles: starting,
// resuming and aborting need operator; an approval needs the role its step
// names (operator by default); a destructive runbook needs its typed name
// to start and to approve.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AlertEvent } from '../../core/alert-event.ts';
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { processAlive } from '../../core/process.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import type { RunbookRunRecord, RunbookStepRecord } from '../../catalog/runbook-runs.ts';
import type { Config, Runbook, RunbookRole } from '../../config/types.ts';
import { alerter } from '../../alerts/from-config.ts';
import { roleAllows } from './approvals.ts';
import { dryRunPlan } from './dry-run.ts';
import { HEARTBEAT_STALE_MS, executeRun } from './runbook-engine.ts';
import type { RunEnvWithAbort } from './runbook-engine.ts';
import { auditRunbook } from './run-env.ts';
import { approvalRole, stepDefinition, toRunView } from './run-view.ts';
import type { Actor, DryRunPlan, RunView, RunbookSummary } from './runbook-views.ts';

export type { Actor, DryRunPlan, RunView, RunbookSummary, StepView } from './runbook-views.ts';

export interface RunbookServiceDeps {
  /** Read at every call (the server passes a getter: a reload is in force at once; a run keeps the one it started with). */
  readonly config: Config;
  catalog: Catalog;
  clock?: Clock;
  alert?: (e: AlertEvent) => Promise<void>;
  /** Lines the running steps log (the CLI prints them). */
  log?: (runId: string, message: string, level: 'info' | 'warn' | 'error') => void;
  /** Aborted when this process stops: its runs become 'interrupted' (resumable). */
  stop?: AbortSignal;
}

const FINAL = new Set(['succeeded', 'failed', 'aborted']);
const WATCH_POLL_MS = 250;

interface LocalRun {
  done: Promise<unknown>;
  abort: AbortController;
  listeners: Set<() => void>;
}

export class RunbookService {
  private readonly deps: RunbookServiceDeps;
  private readonly catalog: Catalog;
  private readonly clock: Clock;
  private readonly alertFn: (e: AlertEvent) => Promise<void>;
  private readonly logFn: NonNullable<RunbookServiceDeps['log']>;
  private readonly stop: AbortSignal;
  private readonly local = new Map<string, LocalRun>();

  constructor(deps: RunbookServiceDeps) {
    this.deps = deps;
    this.catalog = deps.catalog;
    this.clock = deps.clock ?? systemClock;
    this.stop = deps.stop ?? new AbortController().signal;
    this.logFn = deps.log ?? (() => {});
    if (deps.alert) this.alertFn = deps.alert;
    else {
      const a = alerter(deps.catalog, deps.config.alerts, this.clock);
      this.alertFn = async (e) => {
        a.alert(e);
        await a.flush();
      };
    }
  }

  private get config(): Config {
    return this.deps.config;
  }

  list(): RunbookSummary[] {
    return Object.values(this.config.runbooks).map((rb) => ({
      name: rb.name,
      description: rb.description,
      destructive: rb.destructive,
      steps: rb.steps.length,
      source: rb.source,
    }));
  }

  show(name: string): Runbook {
    const rb = this.config.runbooks[name];
    if (!rb) {
      const names = Object.keys(this.config.runbooks);
      throw new SafeholdError('RUNBOOK_NOT_FOUND', `no runbook '${name}' (runbooks: ${names.join(', ') || 'none'})`);
    }
    return rb;
  }

  async dryRun(name: string, vars: Record<string, string>): Promise<DryRunPlan> {
    const rb = this.show(name);
    return dryRunPlan({ config: this.config, catalog: this.catalog, clock: this.clock }, rb, varsOf(rb, vars));
  }

  async start(name: string, o: { vars: Record<string, string>; actor: Actor; confirm?: string }): Promise<string> {
    const rb = this.show(name);
    this.requireRole(o.actor, 'operator', rb.name, null, 'start a runbook');
    if (rb.destructive && o.confirm !== rb.name) {
      auditRunbook(this.catalog, {
        actor: o.actor,
        runbook: rb.name,
        runId: null,
        step: null,
        detail: 'start refused: confirmation missing',
        status: 403,
      });
      throw new SafeholdError(
        'RUNBOOK_FORBIDDEN',
        `runbook ${rb.name} is destructive: confirm by typing its name (--confirm ${rb.name})`,
      );
    }
    const vars = varsOf(rb, o.vars);
    const id = `${new Date(this.clock.now()).toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;
    this.catalog.runbookRuns().create({
      id,
      runbook: rb.name,
      status: 'running',
      dryRun: false,
      vars,
      definition: rb,
      startedBy: o.actor.id,
      startedAt: this.clock.now(),
      pid: process.pid,
      hostname: hostname(),
    });
    auditRunbook(this.catalog, {
      actor: o.actor,
      runbook: rb.name,
      runId: id,
      step: null,
      detail: `run started with ${JSON.stringify(vars)}`,
    });
    this.launch(id, rb, vars, o.actor, this.clock.now());
    return id;
  }

  /** Waits until the run is final (or interrupted); `onProgress` gets the view after every change. */
  async runToEnd(id: string, o: { signal?: AbortSignal; onProgress?: (v: RunView) => void } = {}): Promise<RunView> {
    this.get(id);
    const local = this.local.get(id);
    if (local) {
      const listener = () => o.onProgress?.(this.get(id));
      local.listeners.add(listener);
      listener();
      try {
        await Promise.race([local.done, aborted(o.signal)]);
      } finally {
        local.listeners.delete(listener);
      }
      return this.get(id);
    }
    let last = '';
    for (;;) {
      const v = this.get(id);
      const key = JSON.stringify(v);
      if (key !== last) o.onProgress?.(v);
      last = key;
      if (FINAL.has(v.status) || o.signal?.aborted) return v;
      await new Promise((r) => setTimeout(r, WATCH_POLL_MS));
    }
  }

  async resume(id: string, actor: Actor): Promise<string> {
    const run = this.record(id);
    this.requireRole(actor, 'operator', run.runbook, id, 'resume a runbook run');
    if (FINAL.has(run.status))
      throw new SafeholdError('RUNBOOK_STATE', `run ${id} is ${run.status}: nothing to resume`);
    const owner = this.ownerAlive(run);
    if (owner !== null)
      throw new SafeholdError('RUNBOOK_STATE', `run ${id} is still running (${owner}); it cannot be resumed twice`);
    const rb = run.definition as Runbook;
    this.catalog.runbookRuns().setStatus(id, 'running');
    auditRunbook(this.catalog, { actor, runbook: run.runbook, runId: id, step: null, detail: 'run resumed' });
    this.launch(id, rb, run.vars, actor, run.startedAt);
    return id;
  }

  approve(
    id: string,
    step: string,
    actor: Actor,
    o: { action?: 'approve' | 'rerun' | 'mark-done'; confirm?: string } = {},
  ): RunView {
    const run = this.record(id);
    if (FINAL.has(run.status)) throw new SafeholdError('RUNBOOK_STATE', `run ${id} is ${run.status}`);
    const rb = run.definition as Runbook;
    const row = this.catalog
      .runbookRuns()
      .steps(id)
      .filter((r) => r.name === step)
      .at(-1);
    const action = o.action ?? 'approve';
    const needed = this.approvalNeeded(run, step, row, action);
    this.requireRole(actor, needed, run.runbook, id, `approve step ${step}`, step);
    if (rb.destructive && o.confirm !== rb.name) {
      auditRunbook(this.catalog, {
        actor,
        runbook: run.runbook,
        runId: id,
        step,
        detail: `${action} refused: confirmation missing`,
        status: 403,
      });
      throw new SafeholdError(
        'RUNBOOK_FORBIDDEN',
        `runbook ${rb.name} is destructive: confirm by typing its name (--confirm ${rb.name})`,
      );
    }
    this.catalog.runbookRuns().addApproval({ runId: id, step, action, principal: actor.id, role: actor.role });
    auditRunbook(this.catalog, {
      actor,
      runbook: run.runbook,
      runId: id,
      step,
      detail: `${action} of step ${step} given`,
    });
    return this.get(id);
  }

  /**
   * The role an approval of `step` needs, or RUNBOOK_STATE when it waits for
   * none of this action. An approval step waits for 'approve'; a step that
   * was interrupted (or whose process died while it ran) and is not
   * idempotent waits for 'rerun' or 'mark-done', which may be given before
   * the run is resumed.
   */
  private approvalNeeded(
    run: RunbookRunRecord,
    step: string,
    row: RunbookStepRecord | undefined,
    action: 'approve' | 'rerun' | 'mark-done',
  ): RunbookRole {
    const stalled =
      row !== undefined &&
      (row.status === 'interrupted' ||
        ((row.status === 'running' || row.status === 'waiting') && this.ownerAlive(run) === null));
    if (row !== undefined && row.kind === 'approval' && (row.status === 'waiting' || stalled)) {
      if (action !== 'approve')
        throw new SafeholdError('RUNBOOK_STATE', `step ${step} waits for an approval, not a ${action}`);
      return approvalRole(stepDefinition(run.definition as Runbook, step, row.phase));
    }
    if (row !== undefined && stalled && !row.idempotent) {
      if (action === 'approve')
        throw new SafeholdError(
          'RUNBOOK_STATE',
          `step ${step} was interrupted and is not idempotent: approve a rerun (--rerun) or mark it done (--mark-done)`,
        );
      return 'operator';
    }
    if (row !== undefined && stalled)
      throw new SafeholdError(
        'RUNBOOK_STATE',
        `step ${step} was interrupted and is idempotent: it runs again when the run is resumed (safehold runbook resume ${run.id})`,
      );
    throw new SafeholdError(
      'RUNBOOK_STATE',
      `step ${step} of run ${run.id} is ${row?.status ?? 'not reached'}: it does not wait for an approval`,
    );
  }

  abort(id: string, actor: Actor): RunView {
    const run = this.record(id);
    this.requireRole(actor, 'operator', run.runbook, id, 'abort a runbook run');
    if (FINAL.has(run.status)) throw new SafeholdError('RUNBOOK_STATE', `run ${id} is already ${run.status}`);
    const store = this.catalog.runbookRuns();
    store.setStatus(id, 'aborted', `aborted by ${actor.id}`);
    auditRunbook(this.catalog, { actor, runbook: run.runbook, runId: id, step: null, detail: 'run aborted' });
    const local = this.local.get(id);
    if (local) local.abort.abort(new SafeholdError('CANCELLED', `aborted by ${actor.id}`));
    else if (this.ownerAlive(run) === null)
      for (const r of store.steps(id))
        if (['running', 'waiting', 'pending', 'interrupted'].includes(r.status))
          store.updateStep(id, r.seq, { status: 'failed', error: 'aborted', finishedAt: this.clock.now() });
    return this.get(id);
  }

  runs(o: { limit?: number; runbook?: string } = {}): RunView[] {
    return this.catalog
      .runbookRuns()
      .list(o)
      .map((r) => toRunView(r, this.catalog.runbookRuns().steps(r.id)));
  }

  get(id: string): RunView {
    const run = this.record(id);
    return toRunView(run, this.catalog.runbookRuns().steps(id));
  }

  private record(id: string): RunbookRunRecord {
    const run = this.catalog.runbookRuns().get(id);
    if (!run) throw new SafeholdError('RUNBOOK_RUN_NOT_FOUND', `no runbook run '${id}'`);
    return run;
  }

  /** A description of the live owner of the run, or null when it has none. */
  private ownerAlive(run: RunbookRunRecord): string | null {
    if (this.local.has(run.id)) return 'in this process';
    const fresh = run.heartbeatAt !== null && this.clock.now() - run.heartbeatAt < HEARTBEAT_STALE_MS;
    if (!fresh || run.pid === null) return null;
    if (run.hostname === hostname())
      return run.pid !== process.pid && processAlive(run.pid) ? `process ${run.pid}` : null;
    return `process ${run.pid} on ${run.hostname}`;
  }

  private requireRole(
    actor: Actor,
    needed: RunbookRole,
    runbook: string,
    runId: string | null,
    what: string,
    step: string | null = null,
  ): void {
    if (roleAllows(actor.role, needed)) return;
    auditRunbook(this.catalog, {
      actor,
      runbook,
      runId,
      step,
      detail: `refused: ${what} needs ${needed}`,
      status: 403,
    });
    throw new SafeholdError(
      'RUNBOOK_FORBIDDEN',
      `${actor.id} (${actor.role}) may not ${what}: it needs the role ${needed}`,
    );
  }

  private launch(id: string, rb: Runbook, vars: Record<string, string>, actor: Actor, startedAt: number): void {
    const abort = new AbortController();
    const listeners = new Set<() => void>();
    let seq = Math.max(
      0,
      ...this.catalog
        .runbookRuns()
        .steps(id)
        .map((r) => r.seq),
    );
    const env: RunEnvWithAbort = {
      config: this.config,
      catalog: this.catalog,
      clock: this.clock,
      runId: id,
      runbook: rb,
      actor,
      scope: { vars, steps: {}, run: { id, startedAt, runbook: rb.name } },
      signal: AbortSignal.any([abort.signal, this.stop]),
      random: Math.random,
      alert: (e) => this.alertFn(e).catch(() => {}),
      log: (m, level = 'info') => this.logFn(id, m, level),
      nextSeq: () => ++seq,
      audit: (step, detail, status) =>
        auditRunbook(this.catalog, {
          actor,
          runbook: rb.name,
          runId: id,
          step,
          detail,
          ...(status !== undefined ? { status } : {}),
        }),
      changed: () => {
        for (const l of listeners) l();
      },
      abortRun: () => abort.abort(new SafeholdError('CANCELLED', 'aborted')),
    };
    const done = executeRun(env, { stop: this.stop }).finally(() => this.local.delete(id));
    this.local.set(id, { done, abort, listeners });
  }
}

function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** The run's variables: the defaults overridden by `given`; an unknown or missing one is a usage error. */
export function varsOf(rb: Runbook, given: Record<string, string>): Record<string, string> {
  for (const k of Object.keys(given))
    if (!Object.hasOwn(rb.vars, k))
      throw new SafeholdError(
        'USAGE',
        `runbook ${rb.name} has no variable '${k}' (variables: ${Object.keys(rb.vars).join(', ') || 'none'})`,
      );
  const out: Record<string, string> = {};
  for (const v of Object.values(rb.vars)) {
    const value = given[v.name] ?? v.default;
    if (value === null)
      throw new SafeholdError(
        'USAGE',
        `runbook ${rb.name} needs --var ${v.name}=VALUE${v.description ? ` (${v.description})` : ''}`,
      );
    out[v.name] = value;
  }
  return out;
}
