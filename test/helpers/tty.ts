// Runs the real CLI on a pseudo-terminal made by script(1), answering each
// prompt (a line matching a pattern) with the next answer: for the password
// prompt and the typed confirmation of a group restore.

import { spawn } from 'node:child_process';
import path from 'node:path';

const SAFEHOLD = path.resolve(import.meta.dirname, '..', '..', 'safehold');

/** Runs `safehold ARGS` on a pty; each match of `prompt` on the screen gets the next of `answers`. */
export function onTty(
  args: string[],
  prompt: RegExp,
  answers: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; screen: string }> {
  const every = new RegExp(prompt.source, 'g');
  return new Promise((resolve, reject) => {
    const cmd = `${SAFEHOLD} ${args.join(' ')}; echo "EXIT=$?"`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let answered = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; screen so far:\n${screen}`));
    }, 60_000);
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString();
      const prompts = screen.match(every)?.length ?? 0;
      while (answered < prompts && answered < answers.length) child.stdin.write(`${answers[answered++]}\r`);
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const m = /EXIT=(\d+)/.exec(screen);
      resolve({ code: m ? Number(m[1]) : -1, screen });
    });
  });
}
