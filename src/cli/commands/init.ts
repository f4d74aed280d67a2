// safehold init: creates a new repository, optionally with the chunker
// parameters of another one (so that backups into both cut files alike).

import { Repository } from '../../repo/repository.ts';
import type { InitOptions } from '../../repo/repository.ts';
import { readNewPassword, readPassword } from '../password.ts';
import { cliBackendOptions, openCommandBackend, openTargetBackend, recorded, repoTarget } from '../session.ts';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { str } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const initCommand: Command = {
  name: 'init',
  summary: 'create a new repository',
  usage: `safehold init --repo LOCATION [--copy-chunker-params-from REPO [--from-password-file FILE]]
       safehold init --config FILE --destination NAME [--copy-chunker-params-from REPO ...]

  --copy-chunker-params-from REPO  use REPO's chunk sizes and chunker seed (not its keys), so that
                                   backups into the new repository deduplicate against copies of
                                   REPO's snapshots ('safehold copy'); REPO's password comes from
                                   --from-password-file, SAFEHOLD_FROM_PASSWORD(_FILE) or a prompt

--repo takes a path, s3:https://host:port/bucket/prefix, s3:bucket/prefix or
sftp:user@host:port:/path. With --destination, the repository of that
destination of the configuration is created at its location, with its
password and remote settings.`,
  options: {
    'copy-chunker-params-from': { type: 'string' },
    'from-password-file': { type: 'string' },
  },
  async run(ctx) {
    const target = await repoTarget(ctx);
    const backend = openTargetBackend(target);
    const from = str(ctx.values, 'copy-chunker-params-from');
    const r = await recorded(ctx, 'init', backend.location, async () => {
      const params = from ? await chunkerParamsOf(ctx, from) : {};
      const password =
        target.password ??
        (await readNewPassword(ctx.env, str(ctx.values, 'password-file'), `new password for ${backend.location}`));
      const repo = await Repository.init(backend, password, params);
      return { id: repo.config.id, location: backend.location, chunker: repo.config.chunker };
    });
    ctx.out.result(
      { id: r.id, location: r.location, ...(from ? { chunkerFrom: from, chunker: r.chunker } : {}) },
      () => {
        ctx.out.line(
          `created repository ${r.id.slice(0, 10)} at ${r.location}${from ? ` (chunker parameters of ${from})` : ''}`,
        );
        ctx.out.line('Keep the password safe: without it the data cannot be read back.');
      },
    );
    return EXIT.ok;
  },
};

/** Opens the other repository (exit 10 when missing, 12 naming it on a wrong password) for its chunk sizes and seed. */
async function chunkerParamsOf(ctx: CommandContext, location: string): Promise<InitOptions> {
  const backend = openCommandBackend(location, cliBackendOptions(ctx));
  if (!(await backend.exists()))
    throw new SafeholdError('REPO_NOT_FOUND', `--copy-chunker-params-from: no repository at ${backend.location}`);
  const env = {
    ...ctx.env,
    SAFEHOLD_PASSWORD: ctx.env.SAFEHOLD_FROM_PASSWORD,
    SAFEHOLD_PASSWORD_FILE: ctx.env.SAFEHOLD_FROM_PASSWORD_FILE,
  };
  try {
    const password = await readPassword(
      env,
      str(ctx.values, 'from-password-file'),
      `password for ${backend.location} (chunker parameters): `,
    );
    const other = await Repository.open(backend, password);
    try {
      return { chunker: { ...other.config.chunker }, chunkerSeed: Buffer.from(other.key.chunkerSeed) };
    } finally {
      await other.close();
    }
  } catch (e) {
    if (!isSafeholdError(e) || (e.code !== 'WRONG_PASSWORD' && e.code !== 'NO_PASSWORD')) throw e;
    const hint = e.code === 'NO_PASSWORD' ? ' (set SAFEHOLD_FROM_PASSWORD or use --from-password-file)' : '';
    throw new SafeholdError(
      e.code,
      `repository ${backend.location} (--copy-chunker-params-from): ${e.message}${hint}`,
      { cause: e },
    );
  }
}
