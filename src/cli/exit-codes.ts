// The one mapping from error codes and run outcomes to process exit codes
// (documented in docs/cli.md): commands return a member of EXIT, never a number.

import type { ErrorCode } from '../core/errors.ts';
import type { PlanRunStatus } from '../catalog/plan-runs.ts';

export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  /** Finished, but not everything: unreadable entries (backup/restore), failed or skipped tasks (plan run). */
  partial: 3,
  /** A plan run refused before it started (admission or a held lock); the reason is printed. */
  refused: 4,
  repoNotFound: 10,
  locked: 11,
  wrongPassword: 12,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeFor(code: ErrorCode): ExitCode {
  switch (code) {
    case 'USAGE':
      return EXIT.usage;
    case 'REPO_NOT_FOUND':
      return EXIT.repoNotFound;
    case 'LOCKED':
      return EXIT.locked;
    case 'WRONG_PASSWORD':
      return EXIT.wrongPassword;
    case 'CANCELLED':
      return EXIT.interrupted;
    default:
      return EXIT.error;
  }
}

/** The exit code of `plan run` for the status its run ended with. */
export function exitCodeForRun(status: PlanRunStatus): ExitCode {
  switch (status) {
    case 'succeeded':
      return EXIT.ok;
    case 'partial':
    case 'skipped':
      return EXIT.partial;
    case 'refused':
      return EXIT.refused;
    case 'cancelled':
      return EXIT.interrupted;
    case 'failed':
    case 'running':
      return EXIT.error;
  }
}

/** EXIT.ok when nothing went wrong, else EXIT.error (check, restore of a group). */
export function okOrError(ok: boolean): ExitCode {
  return ok ? EXIT.ok : EXIT.error;
}

/** EXIT.ok, or EXIT.partial when some entries could not be read or written (backup, restore). */
export function okOrPartial(failedEntries: number): ExitCode {
  return failedEntries > 0 ? EXIT.partial : EXIT.ok;
}
