// A point-in-time recovery target and the base backup it starts from: the
// newest one that had finished before a time or WAL position target; for a
// transaction id or a restore point name (which the archive cannot place in
// time) the newest, unless one is chosen. Also the recovery settings that
// tell PostgreSQL where to stop.

import { SafeholdError } from '../../core/errors.ts';
import { parseLsn } from '../../drivers/pg-ha/lsn.ts';
import type { BaseBackup, ClusterArchive } from './archive-inventory.ts';

export type RecoveryTarget =
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly value: string }
  | { readonly kind: 'lsn'; readonly value: string }
  | { readonly kind: 'xid'; readonly value: string }
  | { readonly kind: 'name'; readonly value: string };

/** Checks a target given on the command line or in a runbook; times become ISO. */
export function normaliseTarget(t: RecoveryTarget): RecoveryTarget {
  switch (t.kind) {
    case 'time': {
      // ISO 8601 with a zone, to the microsecond PostgreSQL keeps: a local time would be read in the server's zone.
      const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?)(Z|[+-]\d\d(?::?\d\d)?)$/.exec(
        t.value.trim(),
      );
      if (!m || Number.isNaN(Date.parse(`${m[1]}T${m[2]}${m[3]}`)))
        throw new SafeholdError(
          'USAGE',
          `${JSON.stringify(t.value)} is not a time with its zone (e.g. 2026-12-05T18:30:00Z or 2026-12-05 19:30:00+01:00)`,
        );
      return { kind: 'time', value: `${m[1]}T${m[2]}${m[3]}` };
    }
    case 'lsn':
      parseLsn(t.value);
      return { kind: 'lsn', value: t.value.toUpperCase() };
    case 'xid':
      if (!/^\d{1,10}$/.test(t.value))
        throw new SafeholdError('USAGE', `${JSON.stringify(t.value)} is not a transaction id`);
      return t;
    case 'name':
      if (t.value === '' || t.value.length > 63 || /[\0\n]/.test(t.value))
        throw new SafeholdError('USAGE', `${JSON.stringify(t.value)} is not a restore point name`);
      return t;
    default:
      return t;
  }
}

export function describeTarget(t: RecoveryTarget): string {
  return t.kind === 'latest' ? 'the end of the archived WAL' : `${t.kind} ${t.value}`;
}

/** The recovery_target_* settings (every other one removed). */
export function targetSettings(t: RecoveryTarget): Record<string, string | null> {
  const out: Record<string, string | null> = {
    recovery_target: null,
    recovery_target_time: null,
    recovery_target_lsn: null,
    recovery_target_xid: null,
    recovery_target_name: null,
    recovery_target_inclusive: null,
  };
  if (t.kind === 'time') out.recovery_target_time = t.value.replace('T', ' ').replace(/Z$/, '+00');
  else if (t.kind !== 'latest') out[`recovery_target_${t.kind}`] = t.value;
  return out;
}

/** Whether base backup `b` had finished before target `t` (time and position targets). */
function before(b: BaseBackup, t: RecoveryTarget): boolean {
  if (t.kind === 'time') return Date.parse(b.pitr.stopTime) <= Date.parse(t.value);
  if (t.kind === 'lsn') return parseLsn(b.stopLsn) <= parseLsn(t.value);
  return true;
}

/** The base backup to restore for target `t` (`base`: a snapshot id or its prefix chosen by the user). */
export function chooseBaseBackup(a: ClusterArchive, t: RecoveryTarget, base?: string): BaseBackup {
  if (base !== undefined) {
    const found = a.backups.filter((b) => b.id.startsWith(base));
    if (found.length !== 1)
      throw new SafeholdError(
        found.length === 0 ? 'NOT_FOUND' : 'AMBIGUOUS',
        `${found.length === 0 ? 'no' : 'more than one'} base backup of cluster ${a.cluster} matches ${base}`,
      );
    if (!before(found[0]!, t))
      throw new SafeholdError('USAGE', `base backup ${base} finished after ${describeTarget(t)}: it cannot reach it`);
    return found[0]!;
  }
  if (a.backups.length === 0)
    throw new SafeholdError('NOT_FOUND', `the repository holds no base backup of cluster ${a.cluster}`);
  const fit = a.backups.filter((b) => before(b, t));
  if (fit.length === 0)
    throw new SafeholdError(
      'PRECONDITION_FAILED',
      `no base backup of cluster ${a.cluster} had finished by ${describeTarget(t)}: the oldest finished at ${a.backups[0]!.pitr.stopTime} (${a.backups[0]!.stopLsn})`,
    );
  return fit.at(-1)!;
}
