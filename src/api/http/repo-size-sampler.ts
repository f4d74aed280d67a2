// Samples the size of every repository destination (the pack files under its
// data/ directory, measured like /metrics does) into the catalog's
// repo_sizes table: hourly while the server runs (startRepoSizeSampling,
// started by the control server), and on demand by the charts API when a
// destination's newest sample is older than an hour.

import type { Config } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { RepoSizeStore } from '../../catalog/repo-sizes.ts';
import { RepoSizes } from './metrics.ts';

export const SAMPLE_EVERY_MS = 3_600_000;

/** Measures every repository destination now and records one sample each; returns what was recorded. */
export async function sampleRepoSizes(store: RepoSizeStore, config: Config, clock: Clock): Promise<[string, number][]> {
  const sizes = await new RepoSizes(() => config, clock).get();
  const at = clock.now();
  for (const [name, bytes] of sizes) store.record(name, bytes, at);
  return sizes;
}

export interface Sampling {
  stop(): Promise<void>;
}

/**
 * Samples at once, then every `everyMs` (real time; the timer does not keep
 * the process alive). `config` may be a getter: the server's reads the
 * configuration in force at each sample. A failed sample is logged and the next one tried.
 */
export function startRepoSizeSampling(
  catalogPath: string,
  config: Config | (() => Config),
  clock: Clock,
  log: (line: object) => void,
  everyMs = SAMPLE_EVERY_MS,
): Sampling {
  const store = RepoSizeStore.open(catalogPath, clock);
  let busy: Promise<unknown> = Promise.resolve();
  const tick = () => {
    busy = sampleRepoSizes(store, typeof config === 'function' ? config() : config, clock).catch((e: unknown) => {
      log({
        time: new Date(clock.now()).toISOString(),
        level: 'error',
        msg: 'repository size sample failed',
        detail: e instanceof Error ? e.message : String(e),
      });
    });
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await busy;
      store.close();
    },
  };
}
