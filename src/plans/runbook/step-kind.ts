// The contract between the runbook engine and one kind of step (command,
// sql, http, wait-until, approval, notify, config-edit, safehold, pg.*): what
// it would change (for a dry run) and how it runs. Each kind lives in its own
// file under steps/ and is listed in step-registry.ts.

import type { AlertEvent } from '../../core/alert-event.ts';
import type { Clock } from '../../core/clock.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import type { Config } from '../../config/types.ts';

/** What a step hands to later steps as `${steps.NAME.outputs.KEY}`. */
export type StepOutputs = Record<string, string | number | boolean | null>;

export interface StepContext {
  readonly runId: string;
  readonly runbook: string;
  /** The step's name. */
  readonly step: string;
  /** 1-based attempt number (retries). */
  readonly attempt: number;
  /** Aborted on the step's timeout, an abort of the run, or the process stopping. */
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly config: Config;
  readonly catalog: Catalog;
  log(message: string, level?: 'info' | 'warn' | 'error'): void;
  /** Sends an alert through the configured channels. */
  alert(event: AlertEvent): Promise<void>;
}

export interface StepKind<P = Record<string, unknown>> {
  /** The `kind:` value, e.g. 'command' or 'pg.promote'. */
  readonly kind: string;
  /** The default of `idempotent:` when a step does not say. */
  readonly idempotent: boolean;
  /**
   * What running the step would change, one plain line per change, for a dry
   * run. Reads only; never writes. Params were validated at config load and
   * their placeholders are resolved.
   */
  plan(params: P, ctx: StepContext): Promise<string[]>;
  /** Does the work; throws a SafeholdError (retryable when it is) on failure. */
  run(params: P, ctx: StepContext): Promise<StepOutputs>;
}
