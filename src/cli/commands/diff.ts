// safehold diff: what changed between two snapshots.

import { findSnapshot } from '../../repo/snapshot.ts';
import { diffTrees } from '../../engine/walk/tree-walk.ts';
import { formatBytes } from '../../core/format.ts';
import { SafeholdError } from '../../core/errors.ts';
import { openRepository } from '../session.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const diffCommand: Command = {
  name: 'diff',
  summary: 'show the differences between two snapshots',
  usage: `safehold diff A B

Lines: + added, - removed, M content changed, T type changed, U metadata changed.`,
  options: {},
  async run(ctx) {
    const { positionals, out } = ctx;
    if (positionals.length !== 2) throw new SafeholdError('USAGE', 'give two snapshot ids');
    const repo = await openRepository(ctx);
    const a = await findSnapshot(repo, positionals[0]!);
    const b = await findSnapshot(repo, positionals[1]!);
    const d = await diffTrees(repo, a.tree, b.tree);
    out.result({ from: a.id, to: b.id, ...d }, () => {
      for (const e of d.entries) out.line(`${e.change}    ${e.path}`);
      out.line(
        `${d.added} added (${formatBytes(d.addedBytes)}), ${d.removed} removed (${formatBytes(d.removedBytes)}), ${d.changed} changed`,
      );
    });
    return EXIT.ok;
  },
};
