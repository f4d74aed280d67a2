// The restore_command a point-in-time restore writes into the restored
// server: this program's `pg archive-get %f "%p"` with the same repository
// settings the restore itself was given (location or destination, password
// file), and the variables the server must pass on to it. A password taken
// from SAFEHOLD_PASSWORD goes to the server's environment, never into the
// command line or a settings file.

import { str } from '../command.ts';
import type { CommandContext } from '../command.ts';

/** Single-quotes a word for the shell the server runs restore_command with. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const PASSED_ON = [
  /^SAFEHOLD_(REPOSITORY|CONFIG|CONNECTIONS|LIMIT_DOWNLOAD|SFTP_KEY_FILE|SFTP_KNOWN_HOSTS|PASSWORD_FILE)$/,
  /^AWS_/,
];

export interface RecoveryCommand {
  readonly command: string;
  readonly env: Record<string, string | undefined>;
}

export function recoveryCommand(ctx: CommandContext): RecoveryCommand {
  const { values, env } = ctx;
  const program = env.SAFEHOLD_LAUNCHER || 'safehold';
  const words = [program, 'pg', 'archive-get', '%f', '"%p"'];
  for (const flag of ['repo', 'config', 'destination', 'password-file', 'connections', 'limit-download']) {
    const v = str(values, flag);
    if (v !== undefined) words.push(`--${flag}`, shellWord(v));
  }
  const passed: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (PASSED_ON.some((re) => re.test(k))) passed[k] = v;
  const passwordFromEnv =
    str(values, 'password-file') === undefined &&
    !env.SAFEHOLD_PASSWORD_FILE &&
    str(values, 'destination') === undefined;
  if (passwordFromEnv && env.SAFEHOLD_PASSWORD) passed.SAFEHOLD_PASSWORD = env.SAFEHOLD_PASSWORD;
  return { command: [shellWord(words[0]!), ...words.slice(1)].join(' '), env: passed };
}
