// safehold key: the repository's key files, one per password: list them, add
// one for a new password, remove one (never the key in use, never the last
// usable one), or change the password in use. No data is ever rewritten.

import { readNewPassword } from '../password.ts';
import { SafeholdError } from '../../core/errors.ts';
import { addKey, listKeys, removeKey } from '../../repo/key-admin.ts';
import { openRepository, recorded, withLock } from '../session.ts';
import { str } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import type { ExitCode } from '../exit-codes.ts';
import { printTable } from '../output.ts';
import { formatTime } from '../../core/format.ts';

const USAGE = `safehold key list
       safehold key add [--new-password-file FILE]
       safehold key remove ID
       safehold key passwd [--new-password-file FILE]`;

export const keyCommand: Command = {
  name: 'key',
  summary: 'manage the repository keys: one per password (list, add, remove, passwd)',
  usage: `${USAGE}

list     every key file: its id, the one in use (*), the host, user and time it was made
add      adds a key for a new password (the same master key: every password opens all data)
remove   removes a key by id or unique prefix; refused for the key in use and the last usable key
passwd   changes the password in use: adds a key for the new password, removes the one in use

The new password comes from --new-password-file, SAFEHOLD_NEW_PASSWORD, or a prompt on a TTY.`,
  options: { 'new-password-file': { type: 'string' } },
  async run(ctx) {
    const [sub, ...args] = ctx.positionals;
    if (sub === 'list' && args.length === 0) return list(ctx);
    if (sub === 'add' && args.length === 0) return add(ctx);
    if (sub === 'remove' && args.length === 1) return remove(ctx, args[0]!);
    if (sub === 'passwd' && args.length === 0) return passwd(ctx);
    throw new SafeholdError('USAGE', `usage: ${USAGE}`);
  },
};

async function list(ctx: CommandContext): Promise<ExitCode> {
  const repo = await openRepository(ctx);
  const keys = await listKeys(repo);
  ctx.out.result(keys, () => {
    printTable(
      ctx.out.line.bind(ctx.out),
      [' ', 'ID', 'User', 'Host', 'Created', 'Note'],
      keys.map((k) => [
        k.current ? '*' : ' ',
        k.id.slice(0, 8),
        k.username ?? '',
        k.hostname ?? '',
        k.created && !Number.isNaN(Date.parse(k.created)) ? formatTime(Date.parse(k.created)) : '',
        k.problem ? `skipped when opening: ${k.problem}` : '',
      ]),
    );
  });
  return EXIT.ok;
}

function newPassword(ctx: CommandContext): Promise<string> {
  const newEnv = { ...ctx.env, SAFEHOLD_PASSWORD: ctx.env.SAFEHOLD_NEW_PASSWORD, SAFEHOLD_PASSWORD_FILE: undefined };
  return readNewPassword(newEnv, str(ctx.values, 'new-password-file'), 'new password');
}

async function add(ctx: CommandContext): Promise<ExitCode> {
  const repo = await openRepository(ctx);
  const password = await newPassword(ctx);
  const key = await recorded(ctx, 'key add', repo.backend.location, () =>
    withLock(repo, false, async () => ({ name: await addKey(repo, password) })),
  );
  ctx.out.result({ key: key.name }, () =>
    ctx.out.line(`key ${key.name.slice(0, 8)} added: the new password opens the repository too`),
  );
  return EXIT.ok;
}

async function remove(ctx: CommandContext, ref: string): Promise<ExitCode> {
  const repo = await openRepository(ctx);
  const removed = await recorded(ctx, 'key remove', repo.backend.location, () =>
    withLock(repo, true, async () => ({ name: await removeKey(repo, ref) })),
  );
  ctx.out.result({ removed: removed.name }, () =>
    ctx.out.line(`key ${removed.name.slice(0, 8)} removed: its password no longer opens the repository`),
  );
  return EXIT.ok;
}

async function passwd(ctx: CommandContext): Promise<ExitCode> {
  const repo = await openRepository(ctx);
  const password = await newPassword(ctx);
  const key = await recorded(ctx, 'key passwd', repo.backend.location, () =>
    withLock(repo, true, async () => ({ name: await repo.changePassword(password) })),
  );
  ctx.out.result({ key: key.name }, () =>
    ctx.out.line(`password changed (new key ${key.name.slice(0, 8)}); no data was rewritten`),
  );
  return EXIT.ok;
}
