// safehold forget: removes snapshots, given by id or chosen by a keep policy
// (applied per group of host, paths and tags), and with --prune then removes
// the data they alone used. Everything under one exclusive lock.

import { pgWalRetention } from '../../drivers/pg-wal/wal-retention.ts';
import { isEmptyPolicy, GROUP_FIELDS } from '../../engine/maintenance/retention.ts';
import type { GroupField, RetentionGroup, RetentionPolicy } from '../../engine/maintenance/retention.ts';
import { chooseByPolicy, forgetAndPrune } from '../../engine/maintenance/forget-policy.ts';
import type { PruneOptions } from '../../engine/maintenance/prune.ts';
import { findSnapshot, listSnapshots } from '../../repo/snapshot.ts';
import { hasTagLists, parseTagLists } from '../../repo/snapshot-tags.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { parseDuration } from '../../config/values.ts';
import { SafeholdError } from '../../core/errors.ts';
import { formatTime } from '../../core/format.ts';
import { openRepository, recorded, withLock } from '../session.ts';
import { list, str } from '../command.ts';
import type { Command, Values } from '../command.ts';
import { printTable } from '../output.ts';
import { maxUnusedOption, printPruneStats, withPruneProgress } from './prune.ts';
import { EXIT } from '../exit-codes.ts';

const COUNT_RULES = [
  ['keep-last', 'keepLast'],
  ['keep-hourly', 'keepHourly'],
  ['keep-daily', 'keepDaily'],
  ['keep-weekly', 'keepWeekly'],
  ['keep-monthly', 'keepMonthly'],
  ['keep-yearly', 'keepYearly'],
] as const;

export const forgetCommand: Command = {
  name: 'forget',
  summary: 'remove snapshots by id or by a keep policy (--prune: and their data)',
  usage: `safehold forget SNAPSHOT...
safehold forget [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N]
                [--keep-yearly N] [--keep-within DURATION] [--group-by host,paths,tags] [--tag T[,T...]]...

  --keep-last N           keep the N newest snapshots
  --keep-hourly N         keep the newest snapshot of each of the N newest hours that have one
  --keep-daily N          ... days (in the machine's time zone; set TZ to change it)
  --keep-weekly N         ... ISO weeks (Monday to Sunday)
  --keep-monthly N        ... months
  --keep-yearly N         ... years
  --keep-within DURATION  keep every snapshot at most DURATION (7d, 12h, 1h30m) older than the newest
  --group-by FIELDS       apply the policy per group of snapshots with the same host, paths and tags
                          (default host,paths,tags; '' for one group)
  --tag T[,T...]          only consider snapshots with all these tags (repeatable: any of the lists)
  --prune                 then remove the data no snapshot uses any more (see 'safehold prune')
  --max-unused PERCENT    with --prune: see 'safehold prune --help'
  --dry-run               show what would be removed; change nothing

A bucket rule (hourly ... yearly) that finds fewer buckets than its count also keeps the group's
oldest snapshot. Every kept snapshot lists why. Takes the exclusive lock.`,
  options: {
    ...Object.fromEntries(COUNT_RULES.map(([flag]) => [flag, { type: 'string' as const }])),
    'keep-within': { type: 'string' },
    'group-by': { type: 'string' },
    tag: { type: 'string', multiple: true },
    prune: { type: 'boolean' },
    'max-unused': { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  async run(ctx) {
    const { values, positionals, out } = ctx;
    const policy = policyOption(values);
    const groupBy = groupByOption(values);
    const tagLists = parseTagLists(list(values, 'tag'));
    const dryRun = values['dry-run'] === true;
    const withPrune = values.prune === true;
    const maxUnusedFraction = maxUnusedOption(values);
    if (positionals.length > 0 && policy)
      throw new SafeholdError('USAGE', 'give snapshot ids or a --keep-* policy, not both');
    if (positionals.length === 0 && !policy)
      throw new SafeholdError(
        'USAGE',
        'nothing to forget: give snapshot ids or a --keep-* policy (e.g. --keep-daily 7)',
      );
    if (policy && isEmptyPolicy(policy))
      throw new SafeholdError(
        'USAGE',
        'this policy keeps every snapshot: give at least one --keep-* rule above 0 (or --keep-within)',
      );
    if (!policy && (groupBy || tagLists.length > 0))
      throw new SafeholdError(
        'USAGE',
        '--group-by and --tag select snapshots for a --keep-* policy; they do not go with snapshot ids',
      );
    if (!withPrune && maxUnusedFraction !== undefined)
      throw new SafeholdError('USAGE', '--max-unused goes with --prune');

    const repo = await openRepository(ctx);
    const res = await recorded(ctx, 'forget', repo.backend.location, (_runId, catalog) =>
      withLock(repo, true, async () => {
        let groups: RetentionGroup[] = [];
        let selected: string[];
        if (policy) {
          const snaps = (await listSnapshots(repo)).filter((s) => hasTagLists(s, tagLists));
          ({ groups, remove: selected } = chooseByPolicy(snaps, policy, groupBy ? { groupBy } : {}));
        } else {
          selected = [
            ...new Set((await Promise.all(positionals.map((ref) => findSnapshot(repo, ref)))).map((s) => s.id)),
          ];
        }
        const forgotten = (ids: string[]) => catalog.forgetSnapshots(repo.backend.location, ids);
        const remove = (extra: Omit<PruneOptions, 'dryRun' | 'ignoreSnapshots'> | false) =>
          forgetAndPrune(repo, selected, {
            dryRun,
            forgotten,
            prune: extra === false ? false : { walRetention: pgWalRetention, ...extra },
          });
        const maxUnused = maxUnusedFraction === undefined ? {} : { maxUnusedFraction };
        const { removed, prune: pruned } =
          withPrune && selected.length > 0
            ? await withPruneProgress(ctx, (extra) => remove({ ...maxUnused, ...extra }))
            : await remove(false);
        return { dryRun, groups, selected, removed, prune: pruned };
      }),
    );

    out.result(
      {
        dryRun,
        groups: res.groups.map((g) => ({
          group: g.fields,
          keep: g.keep.map((k) => ({ ...brief(k.snapshot), reasons: k.reasons })),
          remove: g.remove.map(brief),
        })),
        selected: res.selected,
        removed: res.removed,
        prune: res.prune,
      },
      () => {
        for (const g of res.groups) {
          out.line(`snapshots of ${describeGroup(g)}:`);
          const rows = [
            ...g.keep.map((k) => ({ s: k.snapshot, what: `keep (${k.reasons.join(', ')})` })),
            ...g.remove.map((s) => ({ s, what: 'remove' })),
          ].map(({ s, what }) => [s.id.slice(0, 8), formatTime(Date.parse(s.time)), s.tags.join(','), what]);
          printTable(out.line.bind(out), ['ID', 'Time', 'Tags', 'Decision'], rows);
          out.line();
        }
        const n = res.selected.length;
        out.line(
          dryRun
            ? `would remove ${n} snapshot${n === 1 ? '' : 's'} (dry run: nothing was changed)`
            : `removed ${res.removed.length} snapshot${res.removed.length === 1 ? '' : 's'}`,
        );
        if (res.prune) {
          out.line();
          printPruneStats(out, res.prune);
        } else if (withPrune) out.line('nothing to prune: no snapshot removed');
      },
    );
    return EXIT.ok;
  },
};

/** The policy given by --keep-* options, or null when none is given. */
function policyOption(values: Values): RetentionPolicy | null {
  const p: Record<string, number | null> = { keepWithinMs: null };
  let given = false;
  for (const [flag, key] of COUNT_RULES) {
    const text = str(values, flag);
    p[key] = null;
    if (text === undefined) continue;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
      throw new SafeholdError('USAGE', `--${flag} needs a whole number of snapshots (got '${text}')`);
    p[key] = Number(text);
    given = true;
  }
  const within = str(values, 'keep-within');
  if (within !== undefined) {
    const ms = parseDuration(within);
    if (ms === null)
      throw new SafeholdError('USAGE', `--keep-within needs a duration such as 7d, 12h or 1h30m (got '${within}')`);
    p.keepWithinMs = ms;
    given = true;
  }
  return given ? (p as unknown as RetentionPolicy) : null;
}

function groupByOption(values: Values): GroupField[] | null {
  const text = str(values, 'group-by');
  if (text === undefined) return null;
  const fields = text
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  for (const f of fields) {
    if (!(GROUP_FIELDS as readonly string[]).includes(f))
      throw new SafeholdError('USAGE', `--group-by: '${f}' is not one of ${GROUP_FIELDS.join(', ')}`);
  }
  return [...new Set(fields)] as GroupField[];
}

function brief(s: SnapshotWithId): { id: string; time: string; hostname: string; paths: string[]; tags: string[] } {
  return { id: s.id, time: s.time, hostname: s.hostname, paths: s.paths, tags: s.tags };
}

function describeGroup(g: RetentionGroup): string {
  const parts: string[] = [];
  if (g.fields.host !== undefined) parts.push(`host ${g.fields.host}`);
  if (g.fields.paths !== undefined) parts.push(`paths ${g.fields.paths.join(' ')}`);
  if (g.fields.tags !== undefined) parts.push(`tags ${g.fields.tags.length ? g.fields.tags.join(',') : '(none)'}`);
  return parts.length ? parts.join(', ') : 'all snapshots';
}
