// The `pg.rewind-or-rebuild` step: brings an old primary back as a standby
// of the new one, with pg_rewind when it can, else a fresh base backup (the
// old data directory moved aside; a directory with no copy at all, e.g. empty,
// is simply filled), saying which and why and which WAL range
// (the split-brain writes) was thrown away (drivers/pg-ha/pg-rewind.ts). It
// discards data, so it is not idempotent by default: an interrupted run needs
// an approval to run it again. The dry run reads the control data and the
// primary's timeline history only.

import type { PgRewindOrRebuildParams } from '../../../config/runbook-params.ts';
import { controlData, missingCopy } from '../../../drivers/pg-ha/data-dir.ts';
import { lsnBytes } from '../../../drivers/pg-ha/lsn.ts';
import { rewindOrRebuild } from '../../../drivers/pg-ha/pg-rewind.ts';
import { divergence, primaryHistory } from '../../../drivers/pg-ha/timeline-history.ts';
import type { StepKind } from '../step-kind.ts';
import { describeState, intParam, outputsOf, stateOf, unresolved, whereOf } from './pg-common.ts';

async function planLines(p: PgRewindOrRebuildParams, signal: AbortSignal): Promise<string[]> {
  const primary = whereOf(p.primary);
  const missing = await missingCopy(p.dataDir);
  if (missing)
    return [
      `would take a fresh pg_basebackup from ${primary} into ${p.dataDir}: no existing copy (it ${missing})`,
      `would configure it as a standby of ${primary} (left stopped)`,
    ];
  const cd = await controlData(p.dataDir, { signal });
  const rewindable = (cd.get('Data page checksum version') ?? '0') !== '0' || cd.get('wal_log_hints setting') === 'on';
  const lines = [`would stop the server on ${p.dataDir} if it runs`];
  lines.push(
    rewindable
      ? `would rewind ${p.dataDir} with pg_rewind from ${primary} (it has data checksums or wal_log_hints), or rebuild it if pg_rewind refuses or ${primary} no longer has the WAL from the last common checkpoint on`
      : `would move ${p.dataDir} aside and take a fresh pg_basebackup from ${primary}: it has neither data checksums nor wal_log_hints = on`,
  );
  const now = await stateOf(p.primary, signal);
  if (now?.role !== 'primary') {
    lines.push(`the WAL it would discard is known once ${primary} is a primary (now: ${describeState(now)})`);
  } else {
    const h = await primaryHistory(p.primary, { signal });
    const old = Number(cd.get("Latest checkpoint's TimeLineID") ?? 0);
    const end = cd.get('Latest checkpoint location') ?? '0/0';
    const fork = divergence(h, old);
    if (fork && lsnBytes(fork, end) > 0)
      lines.push(`would discard the old server's WAL from ${fork} to at least ${end} (${lsnBytes(fork, end)} bytes)`);
  }
  lines.push(`would configure it as a standby of ${primary} (left stopped)`);
  return lines;
}

export const pgRewindOrRebuildStep: StepKind<PgRewindOrRebuildParams> = {
  kind: 'pg.rewind-or-rebuild',
  idempotent: false,
  async plan(p, ctx) {
    if (unresolved(p.dataDir)) return [`would rewind or rebuild ${p.dataDir} from ${whereOf(p.primary)}`];
    return planLines(p, ctx.signal);
  },
  async run(p, ctx) {
    const r = await rewindOrRebuild({
      dataDir: p.dataDir,
      primary: p.primary,
      port: intParam(p.port, 'port'),
      slot: p.slot || undefined,
      signal: ctx.signal,
    });
    ctx.log(`${r.method} of ${p.dataDir}: ${r.reason}`);
    if (r.discardedBytes > 0)
      ctx.log(
        `discarded the old server's WAL ${r.discardedFromLsn}..${r.discardedToLsn} (${r.discardedBytes} bytes)`,
        'warn',
      );
    return outputsOf(r);
  },
};
