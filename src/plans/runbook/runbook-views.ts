// The shapes the runbook service hands to the CLI and the API: actors,
// runbook summaries, run and step views, and the plan of a dry run.

import type { StepOutputs } from './step-kind.ts';

/** Who acts: a CLI user is a local administrator (role admin, via cli); the API gives the user's role. */
export interface Actor {
  id: string;
  role: 'viewer' | 'operator' | 'admin';
  via: 'cli' | 'api';
}

export interface RunbookSummary {
  name: string;
  description: string;
  destructive: boolean;
  steps: number;
  /** file:line where the runbook is defined. */
  source: string;
}

export interface StepView {
  seq: number;
  name: string;
  kind: string;
  phase: 'main' | 'rollback';
  status: string;
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  outputs: StepOutputs | null;
  error: string | null;
  idempotent: boolean;
  /** When the step waits for an approval: the least role that may give it, and whether the runbook name must be typed. */
  approval: { role: string; needsConfirm: boolean } | null;
}

export interface RunView {
  id: string;
  runbook: string;
  status: string;
  dryRun: boolean;
  vars: Record<string, string>;
  startedBy: string;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
  steps: StepView[];
}

export interface DryRunPlan {
  runbook: string;
  vars: Record<string, string>;
  steps: {
    name: string;
    kind: string;
    /** Parameters with their placeholders resolved (outputs of steps not run: <output of S.Y>). */
    params: Record<string, unknown>;
    preconditions: { text: string; holds: boolean | null; why: string }[];
    changes: string[];
  }[];
}
