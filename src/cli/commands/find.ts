// safehold find: which snapshots hold entries matching a pattern, and where.

import { selectSnapshots } from '../../repo/snapshot-filter.ts';
import { findInSnapshots } from '../../engine/find/find.ts';
import type { FoundEntry } from '../../engine/find/find.ts';
import { formatBytes, formatTime } from '../../core/format.ts';
import { SafeholdError } from '../../core/errors.ts';
import { openRepository } from '../session.ts';
import { list } from '../command.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { FILTER_OPTIONS, FILTER_USAGE, filterFromFlags } from '../snapshot-filter-flags.ts';

export const findCommand: Command = {
  name: 'find',
  summary: 'find which snapshots hold a file or pattern',
  usage: `safehold find PATTERN... [--snapshot ID]... [--ignore-case] [--long] [--host HOST] [--path PATH] [--tag T]

A PATTERN without '/' matches entry names at any depth ('*.conf'); one starting
with '/' matches the absolute path ('/etc/**/*.conf'); any other pattern with '/'
matches the end of the path ('nginx/*.conf'). '*' stays within a name, '**'
crosses directories. Snapshots without a match are not listed.

  --snapshot ID, -s ID  search only this snapshot (id, prefix or latest; repeatable)
  --ignore-case, -i     match without regard to case
  --long, -l            show type, mode, size and modification time
${FILTER_USAGE}`,
  options: {
    snapshot: { type: 'string', multiple: true, short: 's' },
    'ignore-case': { type: 'boolean', short: 'i' },
    long: { type: 'boolean', short: 'l' },
    ...FILTER_OPTIONS,
  },
  async run(ctx) {
    const { positionals, values, out } = ctx;
    if (positionals.length === 0) throw new SafeholdError('USAGE', 'give at least one pattern to find');
    const filter = filterFromFlags(values);
    const repo = await openRepository(ctx);
    const snaps = await selectSnapshots(repo, list(values, 'snapshot'), filter);
    const found = await findInSnapshots(repo, snaps, {
      patterns: positionals,
      ignoreCase: values['ignore-case'] === true,
    });
    const entries = found.reduce((n, f) => n + f.matches.length, 0);
    out.result(
      {
        patterns: positionals,
        searched: snaps.length,
        snapshots: found.map((f) => ({
          snapshot: f.snapshot.id,
          time: f.snapshot.time,
          hostname: f.snapshot.hostname,
          paths: f.snapshot.paths,
          tags: f.snapshot.tags,
          matches: f.matches.map(entryJson),
        })),
      },
      () => {
        for (const f of found) {
          out.line(
            `snapshot ${f.snapshot.id.slice(0, 8)} of ${formatTime(Date.parse(f.snapshot.time))} (${f.snapshot.hostname}):`,
          );
          for (const m of f.matches) out.line(`  ${values.long ? longLine(m) : m.path}`);
          out.line();
        }
        out.line(
          `${entries} match${entries === 1 ? '' : 'es'} in ${found.length} of ${snaps.length} snapshot${snaps.length === 1 ? '' : 's'}`,
        );
      },
    );
    return EXIT.ok;
  },
};

function entryJson(m: FoundEntry) {
  const n = m.node;
  return {
    path: m.path,
    type: n.type,
    mode: n.mode,
    size: n.size,
    uid: n.uid,
    gid: n.gid,
    mtime: new Date(Number(BigInt(n.mtime) / 1_000_000n)).toISOString(),
    ...(n.linkTarget !== undefined ? { linkTarget: n.linkTarget } : {}),
  };
}

function longLine(m: FoundEntry): string {
  const n = m.node;
  const t = n.type === 'dir' ? 'd' : n.type === 'symlink' ? 'l' : n.type === 'file' ? '-' : 'o';
  const when = formatTime(Number(BigInt(n.mtime) / 1_000_000n));
  const size = n.type === 'file' ? formatBytes(n.size) : '';
  return `${t}${n.mode.toString(8).padStart(4, '0')} ${size.padStart(10)} ${when} ${m.path}${n.linkTarget !== undefined ? ` -> ${n.linkTarget}` : ''}`;
}
