// safehold token create|list|revoke: API tokens for the REST API (issue 6).
// `create` prints the token once (only a hash of it is kept); `list` never
// shows secrets.

import os from 'node:os';
import { createToken } from '../../api/auth/index.ts';
import { isAuthRole, AUTH_ROLES } from '../../catalog/auth-tokens.ts';
import type { TokenInfo } from '../../catalog/auth-tokens.ts';
import { formatTime } from '../../core/format.ts';
import { SafeholdError } from '../../core/errors.ts';
import { printTable } from '../output.ts';
import { openCatalog } from '../session.ts';
import { str } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import type { ExitCode } from '../exit-codes.ts';

const USAGE = `safehold token create --role viewer|operator|admin [--name NAME]
       safehold token list
       safehold token revoke ID

create prints the new token (shk_<id>_<secret>) on stdout, once: only a hash
of it is stored, so it cannot be shown again. Use it as
'Authorization: Bearer <token>'. Roles: viewer reads; operator also runs
plans, restores into other places and drills; admin may do everything.
Tokens are kept in the catalog of the data directory: give the server's
configuration (--config FILE or SAFEHOLD_CONFIG) so that they land in the
catalog the server reads (its settings.dataDir).`;

export const tokenCommand: Command = {
  name: 'token',
  summary: 'manage API tokens (create, list, revoke)',
  usage: USAGE,
  options: { role: { type: 'string' }, name: { type: 'string' } },
  async run(ctx) {
    const [sub, ...args] = ctx.positionals;
    if (sub === 'create' && args.length === 0) return create(ctx);
    if (sub === 'list' && args.length === 0) return list(ctx);
    if (sub === 'revoke' && args.length === 1) return revoke(ctx, args[0]!);
    throw new SafeholdError('USAGE', `usage: ${USAGE.split('\n\n')[0]}`);
  },
};

/** Who made a token from the CLI: the operating-system user. */
export function cliActor(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return `cli:uid ${process.getuid?.() ?? '?'}`;
  }
}

async function create(ctx: CommandContext): Promise<ExitCode> {
  const role = str(ctx.values, 'role');
  if (role === undefined || !isAuthRole(role))
    throw new SafeholdError('USAGE', `--role must be one of ${AUTH_ROLES.join(', ')}`);
  const name = str(ctx.values, 'name');
  const catalog = await openCatalog(ctx);
  try {
    const { token, info } = createToken(catalog, {
      role,
      createdBy: cliActor(),
      ...(name !== undefined ? { name } : {}),
    });
    if (ctx.out.json) ctx.out.result({ ...info, token }, () => {});
    else process.stdout.write(`${token}\n`); // even with --quiet: the token is the result and cannot be shown again
    ctx.out.info(`token ${info.id} (${info.role}, "${info.name}") created; it is shown only this once`);
  } finally {
    catalog.close();
  }
  return EXIT.ok;
}

async function list(ctx: CommandContext): Promise<ExitCode> {
  const catalog = await openCatalog(ctx);
  let tokens: TokenInfo[];
  try {
    tokens = catalog.tokens().list();
  } finally {
    catalog.close();
  }
  ctx.out.result(tokens, () => {
    if (tokens.length === 0) {
      ctx.out.line('no tokens');
      return;
    }
    printTable(
      ctx.out.line.bind(ctx.out),
      ['ID', 'Name', 'Role', 'Created', 'By', 'Last used', 'Revoked'],
      tokens.map((t) => [
        t.id,
        t.name,
        t.role,
        formatTime(t.createdAt),
        t.createdBy,
        t.lastUsedAt === null ? '-' : formatTime(t.lastUsedAt),
        t.revokedAt === null ? '-' : formatTime(t.revokedAt),
      ]),
    );
  });
  return EXIT.ok;
}

async function revoke(ctx: CommandContext, id: string): Promise<ExitCode> {
  const catalog = await openCatalog(ctx);
  try {
    const info = catalog.tokens().revoke(id);
    ctx.out.result(info, () => ctx.out.line(`token ${info.id} ("${info.name}") revoked`));
  } finally {
    catalog.close();
  }
  return EXIT.ok;
}
