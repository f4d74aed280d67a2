// Evaluating a runbook condition: a bare expression (`that`), or a check
// (sql, command, http) whose results the expression may use. Without an
// expression a check holds when it succeeds: exit 0, a 2xx status, an SQL
// statement whose first value is true-ish. Used by preconditions, `when:`,
// wait-until, and the dry run (which only reads).

import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import type { RunbookCondition } from '../../config/types.ts';
import { evaluateExpression, parseExpression } from '../../config/runbook-template.ts';
import { hasUnknown, resolveDeep, resolveString } from './placeholders.ts';
import type { ResolveMode, ResolveScope } from './placeholders.ts';
import { describeSqlConnection, runCommand, runHttp, runSqlQuery, scalarFields, sqlUrlOf, tail } from './probes.ts';
import type { Config } from '../../config/types.ts';

export interface ConditionResult {
  /** null: could not be told (a dry run before the outputs it needs exist). */
  holds: boolean | null;
  /** Why, in plain words. */
  why: string;
}

/** How a condition reads, for messages and the dry run. */
export function describeCondition(c: RunbookCondition): string {
  const that = 'that' in c && c.that !== null && c.type !== 'that' ? ` and ${c.that}` : '';
  switch (c.type) {
    case 'that':
      return c.that;
    case 'sql':
      return `sql ${JSON.stringify(c.sql)} on ${describeSqlConnection(c)}${that}`;
    case 'command':
      return `command [${c.argv.join(' ')}]${that}`;
    case 'http':
      return `http ${c.url}${that}`;
  }
}

/** Evaluates an expression with the scope's values; an operand left unknown in a dry run gives null. */
export function evaluateThat(text: string, scope: ResolveScope, mode: ResolveMode): boolean | null {
  const expr = parseExpression(text);
  let unknown = false;
  const holds = evaluateExpression(expr, (operand) => {
    const v = resolveString(operand, scope, mode);
    if (hasUnknown(v)) unknown = true;
    return v;
  });
  return unknown ? null : holds;
}

/** The results of a check, as the names its `that` may use. */
async function checkResults(
  c: Exclude<RunbookCondition, { type: 'that' }>,
  scope: ResolveScope,
  signal: AbortSignal,
  config: Pick<Config, 'targets'>,
): Promise<{ results: Record<string, string>; ok: boolean; what: string }> {
  const r = resolveDeep(c, scope, 'run');
  if (r.type === 'command') {
    const out = await runCommand(r.argv, { signal });
    const lines = out.stdout.trim().split('\n');
    const results: Record<string, string> = {
      exitCode: String(out.exitCode ?? ''),
      stdout: lines[lines.length - 1] ?? '',
    };
    for (const [k, v] of Object.entries(scalarFields(out.json))) results[`body.${k}`] = String(v ?? '');
    return {
      results,
      ok: out.exitCode === 0,
      what: `exit status ${out.exitCode ?? 'none'}${out.stderr ? ` (${tail(out.stderr, 200)})` : ''}`,
    };
  }
  if (r.type === 'http') {
    const out = await runHttp({ url: r.url }, signal);
    const results: Record<string, string> = { status: String(out.status), body: out.body.slice(0, 4000) };
    for (const [k, v] of Object.entries(scalarFields(out.json))) results[`body.${k}`] = String(v ?? '');
    return { results, ok: out.status >= 200 && out.status < 300, what: `HTTP status ${out.status}` };
  }
  const out = await runSqlQuery(sqlUrlOf(r, config), r.sql, { signal });
  const first = out.firstRow ? Object.values(out.firstRow)[0] : undefined;
  const value =
    first === undefined || first === null ? '' : first instanceof Date ? first.toISOString() : String(first);
  const results: Record<string, string> = { value, rowCount: String(out.rowCount) };
  for (const [k, v] of Object.entries(scalarFields(out.firstRow))) results[`row.${k}`] = String(v ?? '');
  const ok = out.rowCount > 0 && !['', 'false', '0', 'f'].includes(value);
  return { results, ok, what: `${out.rowCount} row(s), first value ${value === '' ? 'none' : `'${value}'`}` };
}

/**
 * Evaluates a condition. A check that cannot run (a server down) makes the
 * condition not hold, with the reason; in a dry run a condition that needs
 * outputs of steps not run yet is not evaluated (holds: null).
 */
export async function evaluateCondition(
  c: RunbookCondition,
  scope: ResolveScope,
  o: { mode: ResolveMode; signal: AbortSignal; config: Pick<Config, 'targets'> },
): Promise<ConditionResult> {
  if (o.mode === 'dry' && hasUnknown(resolveDeep(c, scope, 'dry')))
    return { holds: null, why: 'depends on the outputs of steps not run yet' };
  if (c.type === 'that') {
    const holds = evaluateThat(c.that, scope, o.mode);
    return { holds, why: `${resolveString(c.that, scope, 'dry')} is ${holds === null ? 'unknown' : holds}` };
  }
  let checked: Awaited<ReturnType<typeof checkResults>>;
  try {
    checked = await checkResults(c, scope, o.signal, o.config);
  } catch (e) {
    if (o.signal.aborted) throw e;
    return { holds: false, why: `the check failed: ${isSafeholdError(e) ? e.message : String(e)}` };
  }
  if (c.that === null) return { holds: checked.ok, why: checked.what };
  const withCheck: ResolveScope = { ...scope, check: checked.results };
  const holds = evaluateThat(c.that, withCheck, o.mode);
  return { holds, why: `${resolveString(c.that, withCheck, 'dry')} is ${holds} (${checked.what})` };
}

/** Throws PRECONDITION_FAILED naming the first condition that does not hold. */
export async function requireConditions(
  conditions: readonly RunbookCondition[],
  scope: ResolveScope,
  signal: AbortSignal,
  config: Pick<Config, 'targets'>,
): Promise<void> {
  for (const c of conditions) {
    const r = await evaluateCondition(c, scope, { mode: 'run', signal, config });
    if (r.holds !== true)
      throw new SafeholdError('PRECONDITION_FAILED', `precondition ${describeCondition(c)} does not hold: ${r.why}`);
  }
}
