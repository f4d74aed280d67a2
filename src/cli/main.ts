// Entry point of the safehold CLI: parses the command line, runs one command,
// prints errors as one line (no stack traces; SAFEHOLD_DEBUG=1 shows them)
// and exits with the code from exit-codes.ts.

import { parseArgs } from 'node:util';
import { GLOBAL_OPTIONS, GLOBAL_USAGE } from './command.ts';
import type { Command, Values } from './command.ts';
import { Output } from './output.ts';
import { exitCodeFor, EXIT } from './exit-codes.ts';
import type { ExitCode } from './exit-codes.ts';
import { SafeholdError } from '../core/errors.ts';
import { VERSION } from '../engine/shared/program.ts';
import { initCommand } from './commands/init.ts';
import { closeCommandBackends } from './session.ts';
import { backupCommand } from './commands/backup.ts';
import { restoreCommand } from './commands/restore.ts';
import { copyCommand } from './commands/copy.ts';
import { snapshotsCommand } from './commands/snapshots.ts';
import { lsCommand } from './commands/ls.ts';
import { diffCommand } from './commands/diff.ts';
import { checkCommand } from './commands/check.ts';
import { forgetCommand } from './commands/forget.ts';
import { pruneCommand } from './commands/prune.ts';
import { keyCommand } from './commands/key.ts';
import { runsCommand } from './commands/runs.ts';
import { unlockCommand } from './commands/unlock.ts';
import { planCommand } from './commands/plan.ts';
import { serverCommand } from './commands/server.ts';
import { restorePlanCommand } from './commands/restore-group.ts';
import { drillsCommand } from './commands/drills.ts';
import { protectionCommand } from './commands/protection.ts';
import { runbookCommand } from './commands/runbook.ts';
import { runCommand } from './commands/run.ts';
import { configCommand } from './commands/config.ts';
import { alertsCommand } from './commands/alerts.ts';
import { tokenCommand } from './commands/token.ts';
import { userCommand } from './commands/user.ts';
import { auditCommand } from './commands/audit.ts';
import { findCommand } from './commands/find.ts';
import { dumpCommand } from './commands/dump.ts';
import { statsCommand } from './commands/stats.ts';
import { tagCommand } from './commands/tag.ts';
import { completionCommand } from './commands/completion.ts';

const COMMANDS: Command[] = [
  initCommand,
  backupCommand,
  snapshotsCommand,
  lsCommand,
  diffCommand,
  findCommand,
  dumpCommand,
  statsCommand,
  tagCommand,
  restoreCommand,
  copyCommand,
  checkCommand,
  forgetCommand,
  pruneCommand,
  keyCommand,
  runsCommand,
  unlockCommand,
  configCommand,
  planCommand,
  runCommand,
  alertsCommand,
  serverCommand,
  restorePlanCommand,
  drillsCommand,
  protectionCommand,
  runbookCommand,
  tokenCommand,
  userCommand,
  auditCommand,
  completionCommand(() => COMMANDS),
];

function mainUsage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return `safehold ${VERSION}: backup, restore and disaster recovery

Usage: safehold COMMAND [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join('\n')}

Run 'safehold COMMAND --help' for a command's options.

${GLOBAL_USAGE}`;
}

export async function main(argv: string[]): Promise<ExitCode> {
  const wantsJson = argv.includes('--json');
  let out = new Output({ json: wantsJson, quiet: argv.includes('--quiet') || argv.includes('-q') });
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainUsage()}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version' || name === 'version') {
    out.result({ version: VERSION, node: process.versions.node }, () =>
      out.line(`safehold ${VERSION} (node ${process.versions.node})`),
    );
    return EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  try {
    if (!cmd) throw new SafeholdError('USAGE', `unknown command '${name}' (run 'safehold --help')`);
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...GLOBAL_OPTIONS, ...cmd.options },
        allowPositionals: true,
        strict: true,
      });
    } catch (e) {
      throw new SafeholdError(
        'USAGE',
        `${(e as Error).message.replace(/\. To specify a positional.*$/s, '')} (see 'safehold ${cmd.name} --help')`,
      );
    }
    const values = parsed.values as Values;
    out = new Output({ json: values.json === true, quiet: values.quiet === true });
    if (values.help) {
      process.stdout.write(`Usage: ${cmd.usage}\n\n${GLOBAL_USAGE}\n`);
      return EXIT.ok;
    }
    return await cmd.run({ values, positionals: parsed.positionals, out, env: process.env });
  } catch (e) {
    return report(out, e);
  } finally {
    await closeCommandBackends();
  }
}

function report(out: Output, e: unknown): ExitCode {
  const err =
    e instanceof SafeholdError
      ? e
      : new SafeholdError('INTERNAL', `unexpected error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  if (out.json)
    process.stdout.write(
      `${JSON.stringify(
        { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } },
        null,
        2,
      )}\n`,
    );
  out.error(err.message);
  if (process.env.SAFEHOLD_DEBUG) process.stderr.write(`${(err.cause instanceof Error ? err.cause : err).stack}\n`);
  return exitCodeFor(err.code);
}

if (import.meta.main) {
  process.on('SIGINT', () => {
    process.stderr.write('\ninterrupted\n');
    process.exit(EXIT.interrupted);
  });
  // A reader that went away (`safehold snapshots | head`) is not an error: stop quietly, like other Unix tools.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    throw e;
  });
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
