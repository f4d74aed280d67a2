// What the parts of one runbook run share while it executes: the
// configuration, catalog and clock, the run's identity and definition, the
// values placeholders resolve to, the signal that stops it, and the writes
// every transition makes (catalog row, audit entry, progress callback).

import type { AlertEvent } from '../../core/alert-event.ts';
import type { Clock } from '../../core/clock.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import type { Config, Runbook } from '../../config/types.ts';
import type { ResolveScope } from './placeholders.ts';
import type { Actor } from './runbook-views.ts';
import type { StepOutputs } from './step-kind.ts';

export interface RunEnv {
  readonly config: Config;
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly runId: string;
  readonly runbook: Runbook;
  /** Who started or resumed the run: the identity of its step transitions in the audit log. */
  readonly actor: Actor;
  readonly scope: ResolveScope & { steps: Record<string, { status: string; outputs: StepOutputs | null }> };
  /** Aborted when the run is aborted or this process stops. */
  readonly signal: AbortSignal;
  /** 0 ≤ x < 1, for the jitter of retry backoffs. */
  readonly random: () => number;
  alert(e: AlertEvent): Promise<void>;
  log(message: string, level?: 'info' | 'warn' | 'error'): void;
  /** The next step row number. */
  nextSeq(): number;
  /** Records an entry in the audit log (never throws). */
  audit(step: string | null, detail: string, status?: number): void;
  /** Tells the watcher (the CLI's progress, the API) that the run's rows changed. */
  changed(): void;
}

/** Records a runbook event in the catalog's audit log with the actor's identity; never throws. */
export function auditRunbook(
  catalog: Catalog,
  o: { actor: Actor; runbook: string; runId: string | null; step: string | null; detail: string; status?: number },
): void {
  const path = `/runbooks/${o.runbook}${o.runId ? `/runs/${o.runId}` : ''}${o.step ? `/steps/${o.step}` : ''}`;
  try {
    catalog.audit().record({
      principal: o.actor.id,
      role: o.actor.role,
      method: 'RUNBOOK',
      path,
      status: o.status ?? 200,
      ip: null,
      requestId: null,
      detail: `${o.detail} (via ${o.actor.via})`,
    });
  } catch {
    // The audit log is a record, not a gate: a run goes on when it cannot be written.
  }
}
