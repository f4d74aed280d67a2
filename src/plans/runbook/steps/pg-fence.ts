// The `pg.fence` step: makes an old primary refuse writes if it can be
// reached (stopped when its data directory is on this machine, else
// read-only), drivers/pg-ha/pg-fence.ts. An unreachable server is reported
// (fenced=false, how=unreachable), not a failure: the runbook's next
// preconditions decide whether to go on.

import type { PgFenceParams } from '../../../config/runbook-params.ts';
import { isLocalDataDir, isRunning } from '../../../drivers/pg-ha/data-dir.ts';
import { fence } from '../../../drivers/pg-ha/pg-fence.ts';
import type { StepKind } from '../step-kind.ts';
import { describeState, outputsOf, stateOf, unresolved, whereOf } from './pg-common.ts';

async function localDir(dataDir: string | undefined): Promise<string | null> {
  return dataDir && !unresolved(dataDir) && (await isLocalDataDir(dataDir)) ? dataDir : null;
}

export const pgFenceStep: StepKind<PgFenceParams> = {
  kind: 'pg.fence',
  idempotent: true,
  async plan(p, ctx) {
    const where = whereOf(p.url);
    const s = await stateOf(p.url, ctx.signal);
    const dir = (p.mode ?? 'stop') === 'stop' ? await localDir(p.dataDir) : null;
    if (!s) return [`would fence the server at ${where} (stop it or make it read-only)`];
    if (dir && (s.reachable || (await isRunning(dir))))
      return [`would stop the server on ${dir} (${where}, ${describeState(s)})`];
    if (!s.reachable) return [`nothing: ${where} cannot be reached now (the step would report fenced=false)`];
    if (s.role === 'standby') return [`nothing: ${where} is a standby and already refuses writes`];
    return [
      `would make the primary at ${where} read-only (ALTER SYSTEM SET default_transaction_read_only = on, reload; ${describeState(s)})`,
      `would end every other client session on ${where}`,
    ];
  },
  async run(p, ctx) {
    const r = await fence(p.url, { dataDir: p.dataDir, mode: p.mode, signal: ctx.signal });
    ctx.log(`${whereOf(p.url)}: ${r.detail}`, r.fenced ? 'info' : 'warn');
    return outputsOf({ fenced: r.fenced, how: r.how, lsn: r.lsn });
  },
};
