// The server's runbook service: one per process, reading the configuration
// in force at every call (after a reload new runs use the new one; a run
// keeps the definition it started with), sending alerts through the server's
// channels, and, when the server stops, stopping the runs it runs: they are
// left 'interrupted', to be resumed (`safehold runbook resume RUN` or the API).

import type { Catalog } from '../../catalog/catalog.ts';
import type { Config } from '../../config/types.ts';
import type { AlertEvent } from '../../core/alert-event.ts';
import type { Clock } from '../../core/clock.ts';
import { RunbookService } from '../../plans/runbook/runbook-service.ts';

/** How long a stop waits for each run to record that it was interrupted. */
const STOP_WAIT_MS = 5_000;

export interface RunbookHost {
  readonly service: RunbookService;
  /** Interrupts the runs of this process and waits (a little) until each has recorded it. */
  stop(): Promise<void>;
}

export function hostRunbooks(o: {
  config: () => Config;
  catalog: Catalog;
  clock: Clock;
  /** The server's alert channels; absent: the service's own, from the configuration. */
  alert?: (e: AlertEvent) => void;
}): RunbookHost {
  const stopping = new AbortController();
  const service = new RunbookService({
    get config() {
      return o.config();
    },
    catalog: o.catalog,
    clock: o.clock,
    stop: stopping.signal,
    ...(o.alert ? { alert: async (e: AlertEvent) => o.alert!(e) } : {}),
  });
  return {
    service,
    async stop() {
      const store = o.catalog.runbookRuns();
      const mine = service
        .runs({ limit: 100 })
        .filter((r) => (r.status === 'running' || r.status === 'waiting') && store.get(r.id)?.pid === process.pid);
      stopping.abort();
      await Promise.all(
        mine.map((r) => service.runToEnd(r.id, { signal: AbortSignal.timeout(STOP_WAIT_MS) }).catch(() => {})),
      );
    },
  };
}
