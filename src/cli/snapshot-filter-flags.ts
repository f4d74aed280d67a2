// The snapshot filter flags shared by the commands that read several
// snapshots (find, stats, tag): --host, --path and --tag, their usage lines,
// and the filter they make.

import path from 'node:path';
import { parseTagLists } from '../repo/snapshot-tags.ts';
import type { SnapshotFilter } from '../repo/snapshot-filter.ts';
import { list } from './command.ts';
import type { OptionSpec, Values } from './command.ts';

export const FILTER_OPTIONS: OptionSpec = {
  host: { type: 'string', multiple: true, short: 'H' },
  path: { type: 'string', multiple: true },
  tag: { type: 'string', multiple: true },
};

export const FILTER_USAGE = `  --host HOST         only snapshots made on HOST (repeatable: any of them)
  --path PATH         only snapshots whose backed-up paths include PATH (repeatable: all of them)
  --tag T[,T...]      only snapshots with all these tags (repeatable: any of the lists)`;

/** The filter the flags give (paths made absolute as backup makes them). */
export function filterFromFlags(values: Values): SnapshotFilter {
  return {
    hosts: list(values, 'host'),
    paths: list(values, 'path').map((p) => path.resolve(p)),
    tagLists: parseTagLists(list(values, 'tag')),
  };
}
