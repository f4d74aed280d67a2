// safehold tag: adds, removes or sets the tags of snapshots. Each changed
// snapshot is written anew (new id, the first id kept in `original`) and the
// old file removed, under the exclusive lock; the catalog follows.

import { selectSnapshots, filterIsEmpty } from '../../repo/snapshot-filter.ts';
import { isSystemTag, parseTagList } from '../../repo/snapshot-tags.ts';
import { checkTagChange, retagSnapshots } from '../../engine/tags/retag.ts';
import type { Retagged, TagChange } from '../../engine/tags/retag.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import { SafeholdError } from '../../core/errors.ts';
import { openRepository, recorded, withLock } from '../session.ts';
import { list } from '../command.ts';
import type { Command, Values } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { FILTER_OPTIONS, FILTER_USAGE, filterFromFlags } from '../snapshot-filter-flags.ts';

export const tagCommand: Command = {
  name: 'tag',
  summary: 'add, remove or set the tags of snapshots',
  usage: `safehold tag SNAPSHOT|latest... (--add T[,T...] | --remove T[,T...] | --set T[,T...]) [--dry-run]
safehold tag --all|--host HOST|--path PATH|--tag T ... (--add ... | --remove ... | --set ...)

  --add T[,T...]      add these tags (repeatable)
  --remove T[,T...]   remove these tags (repeatable); goes with --add
  --set T[,T...]      replace every tag with these (repeatable; --set '' removes them all)
  --all               every snapshot (else give snapshots or a filter below)
  --dry-run           show what would change; change nothing
${FILTER_USAGE}

A changed snapshot gets a new id (snapshot files are named by their content); the
new file records the first id in 'original'. Unchanged snapshots keep theirs.
Takes the exclusive lock.`,
  options: {
    add: { type: 'string', multiple: true },
    remove: { type: 'string', multiple: true },
    set: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    ...FILTER_OPTIONS,
  },
  async run(ctx) {
    const { positionals, values, out } = ctx;
    const change = tagChange(values);
    const filter = filterFromFlags(values);
    if (positionals.length === 0 && filterIsEmpty(filter) && values.all !== true)
      throw new SafeholdError('USAGE', 'give the snapshots to tag, a filter (--host, --path, --tag), or --all');
    if (positionals.length > 0 && values.all === true)
      throw new SafeholdError('USAGE', '--all does not go with snapshot ids');
    const touched = [...(change.set ?? []), ...(change.add ?? []), ...(change.remove ?? [])].filter(isSystemTag);
    if (touched.length > 0)
      out.warn(
        `${[...new Set(touched)].join(', ')}: Safehold's own tags; plan retention and restores choose snapshots by them`,
      );
    const dryRun = values['dry-run'] === true;
    const repo = await openRepository(ctx);
    const res = await recorded(ctx, 'tag', repo.backend.location, (_runId, catalog) =>
      withLock(repo, true, async () => {
        const snaps = await selectSnapshots(repo, positionals, filter);
        const changed = await retagSnapshots(repo, snaps, change, { dryRun });
        if (!dryRun) followInCatalog(catalog, repo.backend.location, changed);
        return { changed };
      }),
    );
    const n = res.changed.filter((c) => c.changed).length;
    out.result(
      {
        dryRun,
        snapshots: res.changed.map((c) => ({
          old: c.old,
          id: c.id,
          before: c.before,
          tags: c.tags,
          changed: c.changed,
        })),
      },
      () => {
        for (const c of res.changed) {
          if (!c.changed) out.line(`${c.old.slice(0, 8)}: unchanged (${c.tags.join(',') || 'no tags'})`);
          else
            out.line(
              `${c.old.slice(0, 8)} -> ${dryRun ? '(new id)' : c.id.slice(0, 8)}: ${c.before.join(',') || 'no tags'} -> ${c.tags.join(',') || 'no tags'}`,
            );
        }
        out.line(
          dryRun
            ? `would change ${n} of ${res.changed.length} snapshot${res.changed.length === 1 ? '' : 's'} (dry run: nothing was changed)`
            : `changed ${n} of ${res.changed.length} snapshot${res.changed.length === 1 ? '' : 's'}`,
        );
      },
    );
    return EXIT.ok;
  },
};

/** The change the flags ask for (tags split on commas, as --tag is). */
function tagChange(values: Values): TagChange {
  const tags = (flag: string) => list(values, flag).flatMap(parseTagList);
  const c: TagChange = { add: tags('add'), remove: tags('remove') };
  if (values.set !== undefined) c.set = tags('set');
  checkTagChange(c);
  return c;
}

/** The catalog's record of a retagged snapshot moves to its new id (kept: the run that made it). */
function followInCatalog(catalog: Catalog, repository: string, changed: readonly Retagged[]): void {
  const records = new Map(catalog.listSnapshots(repository).map((s) => [s.id, s]));
  for (const c of changed) {
    const rec = records.get(c.old);
    if (!c.changed || !rec) continue;
    catalog.recordSnapshot({ ...rec, id: c.id, tags: c.tags });
    catalog.forgetSnapshots(repository, [c.old]);
  }
}
