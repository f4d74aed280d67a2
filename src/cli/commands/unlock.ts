// safehold unlock: removes stale repository locks (or all with --remove-all).

import { removeLocks } from '../../repo/lock.ts';
import { openRepository } from '../session.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const unlockCommand: Command = {
  name: 'unlock',
  summary: 'remove stale locks',
  usage: `safehold unlock [--remove-all]

A lock is stale when its heartbeat is older than 30 minutes or its process is gone from this host.`,
  options: { 'remove-all': { type: 'boolean' } },
  async run(ctx) {
    const repo = await openRepository(ctx);
    const n = await removeLocks(repo, ctx.values['remove-all'] === true);
    ctx.out.result({ removed: n }, () => ctx.out.line(`removed ${n} lock${n === 1 ? '' : 's'}`));
    return EXIT.ok;
  },
};
