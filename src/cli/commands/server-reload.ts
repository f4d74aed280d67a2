// safehold server reload: asks the server running on the data directory to
// load its configuration file again (the same as SIGHUP). The server checks
// the file first: when it is valid, it is in force at once; when it is not,
// the server keeps the configuration it has, and this command prints every
// problem and exits 1.

import path from 'node:path';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { formatTime } from '../../core/format.ts';
import { connectControl, socketPathFor } from '../../api/control-client.ts';
import { resolveDataDir } from '../session.ts';
import { str } from '../command.ts';
import type { CommandContext } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import type { ExitCode } from '../exit-codes.ts';

export async function reloadServer(ctx: CommandContext): Promise<ExitCode> {
  const dataDir = await dataDirOf(ctx);
  const socket = socketPathFor(dataDir);
  const server = await connectControl(socket);
  if (!server)
    throw new SafeholdError(
      'NOT_FOUND',
      `no server runs on the data directory ${dataDir} (nothing answers on ${socket})`,
    );
  const before = (await server.status()).config;
  let r;
  try {
    r = await server.reload();
  } catch (e) {
    if (!isSafeholdError(e, 'CONFIG')) throw e;
    throw new SafeholdError(
      'CONFIG',
      `the server kept the configuration it loaded at ${formatTime(before.loadedAt)}: ${e.message}`,
    );
  }
  const named = str(ctx.values, 'config') ?? (ctx.env.SAFEHOLD_CONFIG || undefined);
  if (named !== undefined && path.resolve(named) !== r.generation.file)
    ctx.out.warn(
      `the server's configuration file is ${r.generation.file}, not ${path.resolve(named)}: it reloaded its own`,
    );
  ctx.out.result(r, () => ctx.out.line(`server pid ${r.server}: ${r.summary}`));
  return EXIT.ok;
}

/** The data directory; when it comes from a configuration file that does not load, say the server was not asked. */
async function dataDirOf(ctx: CommandContext): Promise<string> {
  try {
    return await resolveDataDir(ctx);
  } catch (e) {
    if (!isSafeholdError(e, 'CONFIG')) throw e;
    throw new SafeholdError(
      'CONFIG',
      `${e.message}\n(the server was not asked to reload: its data directory comes from this file; fix it, or set SAFEHOLD_DATA_DIR to reach the server)`,
    );
  }
}
