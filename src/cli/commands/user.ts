// safehold user add|passwd|role|remove|list: console users (issue 6). The
// password comes from --password-file, SAFEHOLD_USER_PASSWORD, or a prompt on
// a TTY (asked twice); it is kept only as a scrypt hash and never printed.

import { hashPassword } from '../../api/auth/index.ts';
import { checkNewPassword } from '../../api/auth/password-hash.ts';
import { isAuthRole, AUTH_ROLES } from '../../catalog/auth-tokens.ts';
import type { AuthRole } from '../../catalog/auth-tokens.ts';
import { checkUserName } from '../../catalog/users.ts';
import { formatTime } from '../../core/format.ts';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { readNewPassword } from '../password.ts';
import { printTable } from '../output.ts';
import { openCatalog } from '../session.ts';
import { str } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import { EXIT } from '../exit-codes.ts';
import type { ExitCode } from '../exit-codes.ts';

const USAGE = `safehold user add NAME --role viewer|operator|admin
       safehold user passwd NAME
       safehold user role NAME --role viewer|operator|admin
       safehold user remove NAME
       safehold user list

Console users log in with a name and password. The password (8 characters or
more) comes from --password-file FILE (first line), SAFEHOLD_USER_PASSWORD, or
a prompt on a terminal. passwd and remove end the user's sessions.
Users are kept in the catalog of the data directory: give the server's
configuration (--config FILE or SAFEHOLD_CONFIG) so that they land in the
catalog the server reads (its settings.dataDir).`;

export const userCommand: Command = {
  name: 'user',
  summary: 'manage console users (add, passwd, role, remove, list)',
  usage: USAGE,
  options: { role: { type: 'string' } },
  async run(ctx) {
    const [sub, ...args] = ctx.positionals;
    if (sub === 'list' && args.length === 0) return list(ctx);
    if (args.length === 1) {
      const name = args[0]!;
      if (sub === 'add') return add(ctx, name);
      if (sub === 'passwd') return passwd(ctx, name);
      if (sub === 'role') return setRole(ctx, name);
      if (sub === 'remove') return remove(ctx, name);
    }
    throw new SafeholdError('USAGE', `usage: ${USAGE.split('\n\n')[0]}`);
  },
};

function role(ctx: CommandContext): AuthRole {
  const r = str(ctx.values, 'role');
  if (r === undefined || !isAuthRole(r))
    throw new SafeholdError('USAGE', `--role must be one of ${AUTH_ROLES.join(', ')}`);
  return r;
}

/** Runs `fn` on the catalog, closing it after; the command exits 0. */
async function inCatalog(ctx: CommandContext, fn: (c: Catalog) => Promise<void> | void): Promise<ExitCode> {
  const catalog = await openCatalog(ctx);
  try {
    await fn(catalog);
  } finally {
    catalog.close();
  }
  return EXIT.ok;
}

async function newPasswordHash(ctx: CommandContext, name: string): Promise<string> {
  // The repository's SAFEHOLD_PASSWORD(_FILE) must not become a user's password: pass only ours.
  const env: NodeJS.ProcessEnv = { SAFEHOLD_PASSWORD: ctx.env.SAFEHOLD_USER_PASSWORD };
  let pw: string;
  try {
    pw = await readNewPassword(env, str(ctx.values, 'password-file'), `password for user ${name}`);
  } catch (e) {
    if (isSafeholdError(e, 'NO_PASSWORD') && /^no password:/.test(e.message)) {
      throw new SafeholdError(
        'NO_PASSWORD',
        `no password for user ${name}: use --password-file, set SAFEHOLD_USER_PASSWORD, or run on a terminal`,
      );
    }
    throw e;
  }
  checkNewPassword(pw);
  return hashPassword(pw);
}

async function add(ctx: CommandContext, name: string): Promise<ExitCode> {
  const r = role(ctx);
  checkUserName(name);
  return inCatalog(ctx, async (catalog) => {
    if (catalog.users().get(name))
      throw new SafeholdError(
        'USAGE',
        `user ${name} already exists (change the password with 'safehold user passwd ${name}')`,
      );
    const info = catalog.users().add({ name, role: r, passwordHash: await newPasswordHash(ctx, name) });
    ctx.out.result(info, () => ctx.out.line(`user ${name} added (${r})`));
  });
}

async function passwd(ctx: CommandContext, name: string): Promise<ExitCode> {
  return inCatalog(ctx, async (catalog) => {
    if (!catalog.users().get(name)) throw new SafeholdError('NOT_FOUND', `no user ${name}`);
    catalog.users().setPassword(name, await newPasswordHash(ctx, name));
    ctx.out.result({ name, passwordChanged: true }, () =>
      ctx.out.line(`password of ${name} changed; their sessions have ended`),
    );
  });
}

async function setRole(ctx: CommandContext, name: string): Promise<ExitCode> {
  const r = role(ctx);
  return inCatalog(ctx, (catalog) => {
    catalog.users().setRole(name, r);
    ctx.out.result({ name, role: r }, () => ctx.out.line(`user ${name} is now ${r}`));
  });
}

async function remove(ctx: CommandContext, name: string): Promise<ExitCode> {
  return inCatalog(ctx, (catalog) => {
    catalog.users().remove(name);
    ctx.out.result({ name, removed: true }, () => ctx.out.line(`user ${name} removed; their sessions have ended`));
  });
}

async function list(ctx: CommandContext): Promise<ExitCode> {
  return inCatalog(ctx, (catalog) => {
    const users = catalog.users().list();
    ctx.out.result(users, () => {
      if (users.length === 0) {
        ctx.out.line('no users');
        return;
      }
      printTable(
        ctx.out.line.bind(ctx.out),
        ['Name', 'Role', 'Created', 'Disabled'],
        users.map((u) => [
          u.name,
          u.role,
          formatTime(u.createdAt),
          u.disabledAt === null ? '-' : formatTime(u.disabledAt),
        ]),
      );
    });
  });
}
