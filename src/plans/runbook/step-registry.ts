// Every runbook step kind by its `kind:` name. One line per kind; the engine
// looks kinds up here only.

import type { StepKind } from './step-kind.ts';
import { approvalStep } from './steps/approval.ts';
import { commandStep } from './steps/command.ts';
import { configEditStep } from './steps/config-edit.ts';
import { httpStep } from './steps/http.ts';
import { notifyStep } from './steps/notify.ts';
import { pgFenceStep } from './steps/pg-fence.ts';
import { pgFollowStep } from './steps/pg-follow.ts';
import { pgPromoteStep } from './steps/pg-promote.ts';
import { pgRewindOrRebuildStep } from './steps/pg-rewind-or-rebuild.ts';
import { pgStatusStep } from './steps/pg-status.ts';
import { pgWaitSyncStep } from './steps/pg-wait-sync.ts';
import { sqlStep } from './steps/sql.ts';
import { safeholdStep } from './steps/safehold.ts';
import { waitUntilStep } from './steps/wait-until.ts';

// biome-ignore lint/suspicious/noExplicitAny: each kind takes its own params (validated at config load)
type AnyStepKind = StepKind<any>;

const KINDS: AnyStepKind[] = [
  commandStep,
  sqlStep,
  httpStep,
  waitUntilStep,
  approvalStep,
  notifyStep,
  configEditStep,
  safeholdStep,
  pgStatusStep,
  pgFenceStep,
  pgPromoteStep,
  pgFollowStep,
  pgRewindOrRebuildStep,
  pgWaitSyncStep,
];

/** The kind of this name, or undefined. */
export function stepKind(kind: string): AnyStepKind | undefined {
  return KINDS.find((k) => k.kind === kind);
}

export function stepKinds(): readonly AnyStepKind[] {
  return KINDS;
}
