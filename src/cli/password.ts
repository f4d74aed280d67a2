// Where the repository password comes from: SAFEHOLD_PASSWORD, a password
// file (--password-file or SAFEHOLD_PASSWORD_FILE), or a prompt on a TTY with
// echo off. Never printed, never logged.

import fs from 'node:fs';
import { SafeholdError } from '../core/errors.ts';

export async function readPassword(env: NodeJS.ProcessEnv, file: string | undefined, prompt: string): Promise<string> {
  const f = file ?? env.SAFEHOLD_PASSWORD_FILE;
  if (f) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      throw new SafeholdError('NO_PASSWORD', `cannot read password file ${f}: ${(e as Error).message}`);
    }
    const pw = text.split(/\r?\n/)[0] ?? '';
    if (pw === '') throw new SafeholdError('NO_PASSWORD', `password file ${f} is empty`);
    return pw;
  }
  if (env.SAFEHOLD_PASSWORD !== undefined && env.SAFEHOLD_PASSWORD !== '') return env.SAFEHOLD_PASSWORD;
  if (process.stdin.isTTY && process.stderr.isTTY) return promptHidden(prompt);
  throw new SafeholdError(
    'NO_PASSWORD',
    'no password: set SAFEHOLD_PASSWORD, use --password-file, or run on a terminal',
  );
}

/** Asks twice on a TTY (for a new password); from env/file, takes it as is. */
export async function readNewPassword(env: NodeJS.ProcessEnv, file: string | undefined, what: string): Promise<string> {
  const viaTty = !(file ?? env.SAFEHOLD_PASSWORD_FILE) && !env.SAFEHOLD_PASSWORD;
  const pw = await readPassword(env, file, `enter ${what}: `);
  if (viaTty) {
    const again = await promptHidden(`enter ${what} again: `);
    if (again !== pw) throw new SafeholdError('USAGE', 'the passwords do not match');
    if (pw === '') throw new SafeholdError('USAGE', 'an empty password is not allowed');
  }
  return pw;
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    // Echo off before the prompt shows, so nothing typed after it is echoed.
    stdin.setRawMode(true);
    process.stderr.write(prompt);
    stdin.resume();
    let pw = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(pw);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new SafeholdError('CANCELLED', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') pw = pw.slice(0, -1);
        else pw += ch;
      }
    };
    stdin.on('data', onData);
  });
}
