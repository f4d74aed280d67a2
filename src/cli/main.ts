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
import { closeCommandBackends } from './session.ts';

/**
 * The command table, in help order: each command's module is loaded only when
 * it runs (or for the overall help and completion), so that a quick command
 * such as the server's `pg archive-get` does not load every other one.
 */
const COMMAND_LOADERS: Record<string, () => Promise<Command>> = {
  init: async () => (await import('./commands/init.ts')).initCommand,
  backup: async () => (await import('./commands/backup.ts')).backupCommand,
  snapshots: async () => (await import('./commands/snapshots.ts')).snapshotsCommand,
  ls: async () => (await import('./commands/ls.ts')).lsCommand,
  diff: async () => (await import('./commands/diff.ts')).diffCommand,
  find: async () => (await import('./commands/find.ts')).findCommand,
  dump: async () => (await import('./commands/dump.ts')).dumpCommand,
  stats: async () => (await import('./commands/stats.ts')).statsCommand,
  tag: async () => (await import('./commands/tag.ts')).tagCommand,
  restore: async () => (await import('./commands/restore.ts')).restoreCommand,
  copy: async () => (await import('./commands/copy.ts')).copyCommand,
  check: async () => (await import('./commands/check.ts')).checkCommand,
  forget: async () => (await import('./commands/forget.ts')).forgetCommand,
  prune: async () => (await import('./commands/prune.ts')).pruneCommand,
  key: async () => (await import('./commands/key.ts')).keyCommand,
  runs: async () => (await import('./commands/runs.ts')).runsCommand,
  unlock: async () => (await import('./commands/unlock.ts')).unlockCommand,
  config: async () => (await import('./commands/config.ts')).configCommand,
  plan: async () => (await import('./commands/plan.ts')).planCommand,
  run: async () => (await import('./commands/run.ts')).runCommand,
  alerts: async () => (await import('./commands/alerts.ts')).alertsCommand,
  server: async () => (await import('./commands/server.ts')).serverCommand,
  'restore-plan': async () => (await import('./commands/restore-group.ts')).restorePlanCommand,
  drills: async () => (await import('./commands/drills.ts')).drillsCommand,
  protection: async () => (await import('./commands/protection.ts')).protectionCommand,
  runbook: async () => (await import('./commands/runbook.ts')).runbookCommand,
  pg: async () => (await import('./commands/pg.ts')).pgCommand,
  token: async () => (await import('./commands/token.ts')).tokenCommand,
  user: async () => (await import('./commands/user.ts')).userCommand,
  audit: async () => (await import('./commands/audit.ts')).auditCommand,
  completion: async () => (await import('./commands/completion.ts')).completionCommand(loadAll),
};

/** Every command (for the overall help and the completion scripts). */
async function loadAll(): Promise<Command[]> {
  return Promise.all(Object.values(COMMAND_LOADERS).map((load) => load()));
}

/** The command called `name` (only its module loaded), or undefined. */
async function loadCommand(name: string): Promise<Command | undefined> {
  return Object.hasOwn(COMMAND_LOADERS, name) ? COMMAND_LOADERS[name]!() : undefined;
}

async function mainUsage(): Promise<string> {
  const COMMANDS = await loadAll();
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
    process.stdout.write(`${await mainUsage()}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version' || name === 'version') {
    out.result({ version: VERSION, node: process.versions.node }, () =>
      out.line(`safehold ${VERSION} (node ${process.versions.node})`),
    );
    return EXIT.ok;
  }
  try {
    const cmd = name.startsWith('-') ? undefined : await loadCommand(name);
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
