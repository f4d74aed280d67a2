// The `pg.status` step: the replication state of one PostgreSQL server
// (drivers/pg-ha/pg-status.ts). An unreachable server is not a failure: the
// outputs say reachable=false and the rest is null, for the conditions of
// later steps (`${steps.status.outputs.role} == standby`).

import type { PgStatusParams } from '../../../config/runbook-params.ts';
import { status } from '../../../drivers/pg-ha/pg-status.ts';
import type { StepKind } from '../step-kind.ts';
import { describeState, outputsOf, stateOf, whereOf } from './pg-common.ts';

export const pgStatusStep: StepKind<PgStatusParams> = {
  kind: 'pg.status',
  idempotent: true,
  async plan(p, ctx) {
    const s = await stateOf(p.url, ctx.signal);
    return [`nothing changes: reads the state of ${whereOf(p.url)} (now: ${describeState(s)})`];
  },
  async run(p, ctx) {
    const s = await status(p.url, { signal: ctx.signal });
    ctx.log(`${whereOf(p.url)}: ${describeState(s)}`);
    return outputsOf(s);
  },
};
