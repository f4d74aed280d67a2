// The typed confirmation before a command changes live data: on a terminal
// the user reads what will happen and types a given word (a group's name);
// anything else stops. --yes goes ahead without asking; without a terminal
// and without --yes the command refuses, with nothing changed.

import readline from 'node:readline';
import { SafeholdError } from '../core/errors.ts';

export interface TypedConfirmation {
  /** --yes: go ahead without asking. */
  yes: boolean;
  /** What the user must type. */
  expected: string;
  /** What is being confirmed, for the refusal without a terminal. */
  what: string;
  /** The lines shown (on stderr) before the question. */
  summary: readonly string[];
}

/** Whether `safehold` can ask its user: stdin and stderr both on a terminal (as the password prompt). */
export function onTerminal(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

export async function confirmTyped(c: TypedConfirmation): Promise<boolean> {
  if (c.yes) return true;
  if (!onTerminal())
    throw new SafeholdError(
      'USAGE',
      `${c.what}: there is no terminal to confirm on; pass --yes to go ahead (--dry-run shows what it would do)`,
    );
  process.stderr.write(`${c.summary.join('\n')}\n`);
  const answer = await askLine(`type ${c.expected} to go on (anything else stops, nothing changed): `);
  return answer.trim() === c.expected;
}

function askLine(prompt: string): Promise<string> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve) => {
    let answered = false;
    rl.on('close', () => {
      if (!answered) resolve('');
    });
    // Ctrl-C (or Ctrl-D) at the question: not confirmed.
    rl.on('SIGINT', () => rl.close());
    rl.question(prompt, (a) => {
      answered = true;
      rl.close();
      resolve(a);
    });
  });
}
