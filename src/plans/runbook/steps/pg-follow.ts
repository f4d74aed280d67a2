// The `pg.follow` step: makes a server (running or not) a streaming standby
// of a new primary: standby.signal, primary_conninfo, the slot on the
// primary when asked, restart, wait until it streams
// (drivers/pg-ha/pg-follow.ts). Re-running it is harmless.

import type { PgFollowParams } from '../../../config/runbook-params.ts';
import { isLocalDataDir, isRunning } from '../../../drivers/pg-ha/data-dir.ts';
import { follow } from '../../../drivers/pg-ha/pg-follow.ts';
import type { StepKind } from '../step-kind.ts';
import { describeState, intParam, outputsOf, stateOf, unresolved, whereOf } from './pg-common.ts';

export const pgFollowStep: StepKind<PgFollowParams> = {
  kind: 'pg.follow',
  idempotent: true,
  async plan(p, ctx) {
    const primary = whereOf(p.primary);
    const known = !unresolved(p.dataDir);
    if (known && !(await isLocalDataDir(p.dataDir))) return [`would fail: ${p.dataDir} is not a data directory here`];
    const running = known ? await isRunning(p.dataDir) : null;
    const lines: string[] = [];
    if (running !== false)
      lines.push(`would stop the server on ${p.dataDir} (${whereOf(p.url)}: ${describeState(await stateOf(p.url))})`);
    lines.push(`would write standby.signal and primary_conninfo (${primary}) into ${p.dataDir}/postgresql.auto.conf`);
    if (p.slot) lines.push(`would create the physical replication slot ${p.slot} on ${primary} unless it exists`);
    const port = intParam(p.port, 'port');
    lines.push(`would start it${port ? ` on port ${port}` : ''} and wait until it streams from ${primary}`);
    ctx.signal.throwIfAborted();
    return lines;
  },
  async run(p, ctx) {
    const r = await follow({
      url: p.url,
      dataDir: p.dataDir,
      primary: p.primary,
      slot: p.slot || undefined,
      port: intParam(p.port, 'port'),
      signal: ctx.signal,
      clock: ctx.clock,
    });
    ctx.log(`${p.dataDir} streams from ${whereOf(p.primary)} on timeline ${r.timeline} (replay LSN ${r.replayLsn})`);
    return outputsOf(r);
  },
};
