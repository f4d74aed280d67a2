// The `pg.wait-sync` step: waits until a standby has replayed what its
// primary had written when the step began (drivers/pg-ha/pg-wait-sync.ts);
// the step's timeout ends the wait with how far behind it still was.

import type { PgWaitSyncParams } from '../../../config/runbook-params.ts';
import { lsnBytes } from '../../../drivers/pg-ha/lsn.ts';
import { waitSync } from '../../../drivers/pg-ha/pg-wait-sync.ts';
import type { StepKind } from '../step-kind.ts';
import { intParam, outputsOf, stateOf, whereOf } from './pg-common.ts';

export const pgWaitSyncStep: StepKind<PgWaitSyncParams> = {
  kind: 'pg.wait-sync',
  idempotent: true,
  async plan(p, ctx) {
    const [a, b] = [await stateOf(p.primary, ctx.signal), await stateOf(p.standby, ctx.signal)];
    const line = `nothing changes: waits until ${whereOf(p.standby)} replays up to the LSN of ${whereOf(p.primary)}`;
    if (!a?.reachable || !b?.reachable || !a.lsn || !b.replayLsn) return [line];
    return [`${line} (now ${lsnBytes(b.replayLsn, a.lsn)} bytes behind: ${b.replayLsn} of ${a.lsn})`];
  },
  async run(p, ctx) {
    const r = await waitSync({
      primary: p.primary,
      standby: p.standby,
      maxLagBytes: intParam(p.maxLagBytes, 'maxLagBytes'),
      signal: ctx.signal,
      clock: ctx.clock,
    });
    ctx.log(`${whereOf(p.standby)} replayed up to ${r.replayLsn} (primary ${r.primaryLsn}) after ${r.waitedMs} ms`);
    return outputsOf(r);
  },
};
