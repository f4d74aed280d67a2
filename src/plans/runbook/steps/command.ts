// The `command` step: runs a program (argv, env, cwd) with the one child
// process runner. Outputs: exitCode, stdout (its tail) and, when the last
// line of stdout is a JSON object, its fields. A non-zero exit fails the step.

import nodePath from 'node:path';
import { SafeholdError } from '../../../core/errors.ts';
import type { CommandParams } from '../../../config/runbook-params.ts';
import { runCommand, scalarFields, tail } from '../probes.ts';
import type { StepContext, StepKind } from '../step-kind.ts';

function cwdOf(p: CommandParams, ctx: StepContext): string | undefined {
  return p.cwd === undefined ? undefined : nodePath.resolve(nodePath.dirname(ctx.config.file), p.cwd);
}

function envOf(p: CommandParams): Record<string, string> {
  return Object.fromEntries(Object.entries(p.env ?? {}).map(([k, v]) => [k, String(v)]));
}

export const commandStep: StepKind<CommandParams> = {
  kind: 'command',
  idempotent: false,
  async plan(p, ctx) {
    const cwd = cwdOf(p, ctx);
    return [`run ${p.argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}${cwd ? ` in ${cwd}` : ''}`];
  },
  async run(p, ctx) {
    const cwd = cwdOf(p, ctx);
    const r = await runCommand(p.argv, { env: envOf(p), ...(cwd !== undefined ? { cwd } : {}), signal: ctx.signal });
    if (r.exitCode !== 0)
      throw new SafeholdError(
        'RUNBOOK_STEP_FAILED',
        `${p.argv[0]} exited with status ${r.exitCode ?? 'none'}${r.stderr.trim() ? `: ${tail(r.stderr.trim(), 500)}` : ''}`,
        { retryable: true },
      );
    return { ...scalarFields(r.json), exitCode: r.exitCode, stdout: tail(r.stdout) };
  },
};
