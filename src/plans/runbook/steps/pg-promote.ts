// The `pg.promote` step: promotes a standby to primary and waits until it
// is (drivers/pg-ha/pg-promote.ts). A server that already is a primary is a
// success that says so (alreadyPrimary=true), so the step is idempotent.

import type { PgPromoteParams } from '../../../config/runbook-params.ts';
import { promote } from '../../../drivers/pg-ha/pg-promote.ts';
import type { StepKind } from '../step-kind.ts';
import { outputsOf, stateOf, whereOf } from './pg-common.ts';

export const pgPromoteStep: StepKind<PgPromoteParams> = {
  kind: 'pg.promote',
  idempotent: true,
  async plan(p, ctx) {
    const where = whereOf(p.url);
    const s = await stateOf(p.url, ctx.signal);
    if (!s) return [`would promote the server at ${where}`];
    if (!s.reachable)
      return [
        p.dataDir
          ? `would promote the server on ${p.dataDir} with pg_ctl promote (${where} cannot be reached now)`
          : `would promote ${where}, which cannot be reached now (the step would fail)`,
      ];
    if (s.role === 'primary') return [`nothing: ${where} is already a primary (timeline ${s.timeline})`];
    return [`would promote the standby at ${where} (timeline ${s.timeline}, replay LSN ${s.replayLsn})`];
  },
  async run(p, ctx) {
    const r = await promote(p.url, { dataDir: p.dataDir, signal: ctx.signal });
    const promotedAt = new Date(ctx.clock.now()).toISOString();
    ctx.log(
      r.alreadyPrimary
        ? `${whereOf(p.url)} already is a primary (timeline ${r.timeline})`
        : `promoted ${whereOf(p.url)}: timeline ${r.timeline}, LSN ${r.lsn}`,
    );
    return outputsOf({ lsn: r.lsn, timeline: r.timeline, promotedAt, alreadyPrimary: r.alreadyPrimary });
  },
};
