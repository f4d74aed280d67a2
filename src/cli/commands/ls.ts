// safehold ls: lists the entries of a snapshot (or of one path in it).

import { findSnapshot } from '../../repo/snapshot.ts';
import { listTree } from '../../engine/walk/tree-walk.ts';
import { formatTime } from '../../core/format.ts';
import { SafeholdError } from '../../core/errors.ts';
import { openRepository } from '../session.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const lsCommand: Command = {
  name: 'ls',
  summary: 'list the files in a snapshot',
  usage: `safehold ls SNAPSHOT|latest [PATH] [--long]

  --long, -l   show type, mode, size and modification time`,
  options: { long: { type: 'boolean', short: 'l' } },
  async run(ctx) {
    const { positionals, out } = ctx;
    if (positionals.length < 1 || positionals.length > 2)
      throw new SafeholdError('USAGE', 'give a snapshot id (or latest) and optionally a path');
    const repo = await openRepository(ctx);
    const snap = await findSnapshot(repo, positionals[0]!);
    const entries = await listTree(repo, snap.tree, positionals[1] ?? '/');
    out.result(
      entries.map((e) => ({
        path: e.path,
        type: e.node.type,
        mode: e.node.mode,
        size: e.node.size,
        uid: e.node.uid,
        gid: e.node.gid,
        mtime: nsToIso(e.node.mtime),
        ...(e.node.linkTarget !== undefined ? { linkTarget: e.node.linkTarget } : {}),
      })),
      () => {
        for (const e of entries) {
          if (!ctx.values.long) {
            out.line(e.path);
            continue;
          }
          const n = e.node;
          const t = n.type === 'dir' ? 'd' : n.type === 'symlink' ? 'l' : n.type === 'file' ? '-' : 'o';
          out.line(
            `${t}${n.mode.toString(8).padStart(4, '0')} ${String(n.uid).padStart(5)} ${String(n.gid).padStart(5)} ${String(n.size).padStart(12)} ${formatTime(Number(BigInt(n.mtime) / 1_000_000n))} ${e.path}${n.linkTarget !== undefined ? ` -> ${n.linkTarget}` : ''}`,
          );
        }
      },
    );
    return EXIT.ok;
  },
};

function nsToIso(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}
