// Overall time limits of runs and tasks (S5: nothing stays "running"
// forever): a signal that fires when the parent is cancelled (server
// shutdown) or when the limit passes on the injected clock. The abort reason
// is a CANCELLED SafeholdError saying which.

import type { Clock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { formatDuration } from '../../core/format.ts';

export interface Deadline {
  readonly signal: AbortSignal;
  /** Stops the timer (call when the work is done). */
  clear(): void;
}

export function deadline(clock: Clock, ms: number, what: string, parent?: AbortSignal): Deadline {
  const ac = new AbortController();
  const timer = new AbortController();
  const onParent = () => ac.abort(parent!.reason);
  if (parent?.aborted) ac.abort(parent.reason);
  else parent?.addEventListener('abort', onParent, { once: true });
  if (Number.isFinite(ms) && ms > 0) {
    clock.sleep(ms, timer.signal).then(
      () =>
        ac.abort(
          new SafeholdError('CANCELLED', `${what} timed out after ${formatDuration(ms)}`, {
            details: { timeout: true },
          }),
        ),
      () => {
        /* cleared */
      },
    );
  }
  return {
    signal: ac.signal,
    clear() {
      parent?.removeEventListener('abort', onParent);
      timer.abort();
    },
  };
}

/** The message of an abort reason, for a task's or run's reason. */
export function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : String(r ?? 'cancelled');
}
