// safehold key passwd: changes the repository password without rewriting data.

import { readNewPassword } from '../password.ts';
import { SafeholdError } from '../../core/errors.ts';
import { openRepository, recorded, withLock } from '../session.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const keyCommand: Command = {
  name: 'key',
  summary: 'manage the repository password (key passwd)',
  usage: `safehold key passwd [--new-password-file FILE]

The new password comes from --new-password-file, SAFEHOLD_NEW_PASSWORD, or a prompt on a TTY.`,
  options: { 'new-password-file': { type: 'string' } },
  async run(ctx) {
    if (ctx.positionals[0] !== 'passwd' || ctx.positionals.length !== 1)
      throw new SafeholdError('USAGE', 'usage: safehold key passwd');
    const repo = await openRepository(ctx);
    const newEnv = { ...ctx.env, SAFEHOLD_PASSWORD: ctx.env.SAFEHOLD_NEW_PASSWORD, SAFEHOLD_PASSWORD_FILE: undefined };
    const password = await readNewPassword(newEnv, str(ctx.values, 'new-password-file'), 'new password');
    const key = await recorded(ctx, 'key passwd', repo.backend.location, () =>
      withLock(repo, true, async () => ({ name: await repo.changePassword(password) })),
    );
    ctx.out.result({ key: key.name }, () =>
      ctx.out.line(`password changed (new key ${key.name.slice(0, 8)}); no data was rewritten`),
    );
    return EXIT.ok;
  },
};
