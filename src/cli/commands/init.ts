// safehold init: creates a new repository.

import { Repository } from '../../repo/repository.ts';
import { readNewPassword } from '../password.ts';
import { openBackend, recorded, repoLocation } from '../session.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';

export const initCommand: Command = {
  name: 'init',
  summary: 'create a new repository',
  usage: 'safehold init --repo PATH',
  options: {},
  async run(ctx) {
    const backend = openBackend(repoLocation(ctx));
    const r = await recorded(ctx, 'init', backend.location, async () => {
      const password = await readNewPassword(ctx.env, str(ctx.values, 'password-file'), `new password for ${backend.location}`);
      const repo = await Repository.init(backend, password);
      return { id: repo.config.id, location: backend.location };
    });
    ctx.out.result({ id: r.id, location: r.location }, () => {
      ctx.out.line(`created repository ${r.id.slice(0, 10)} at ${r.location}`);
      ctx.out.line('Keep the password safe: without it the data cannot be read back.');
    });
    return 0;
  },
};
