// Compiles runbooks (schema-runbooks.ts) into the Runbook of types.ts:
// defaults (timeout 5m, none for approvals; one attempt; onFailure stop),
// each step's parameters checked against its kind (runbook-params.ts), and
// the cross-checks the schema cannot make: unique step names, rollback
// references, placeholders naming declared variables and earlier steps,
// expressions that parse, and the plans/restore plans a `safehold` step names.

import type { Plan, RestorePlan, Runbook, RunbookCondition, RunbookStep, RunbookVar, Target } from './types.ts';
import type { Problem } from './problems.ts';
import { errorMap, problemsFromIssues } from './problems.ts';
import type { PathSegment, YamlSource } from './yaml-source.ts';
import type { RawRunbook, RawRunbookStep } from './schema-runbooks.ts';
import { STEP_PARAMS, UNTIMED_KINDS } from './runbook-params.ts';
import type { RunbookStepKind, SafeholdParams } from './runbook-params.ts';
import { CHECK_REFS, parseExpression, placeholdersIn } from './runbook-template.ts';
import { ms } from './compile-context.ts';

export const RUNBOOK_DEFAULTS = Object.freeze({ stepTimeoutMs: 5 * 60_000, backoffMs: 1000 });

export interface RunbookCompileEnv {
  /** Where problems go (paths from the document root). */
  problems: Problem[];
  /** The validated document (for values shown in messages). */
  root: unknown;
  /** The path of the runbook in the document: ['runbooks', name] in safehold.yaml, [] in runbooks/NAME.yaml. */
  prefix: PathSegment[];
  plans: Readonly<Record<string, Plan>>;
  restorePlans: Readonly<Record<string, RestorePlan>>;
  /** The configured targets: an sql step or check may name a postgres or mariadb one. */
  targets: Readonly<Record<string, Target>>;
}

type Step = Omit<RawRunbookStep, 'name'>;

/** Compiles one runbook; problems go to env.problems. Sources are filled in by withSources. */
export function compileRunbook(name: string, raw: RawRunbook, env: RunbookCompileEnv): Runbook {
  const problem = (path: PathSegment[], message: string) => {
    const p = [...env.prefix, ...path];
    env.problems.push({ path: p, message, at: { path: p, mode: 'value' } });
  };
  const vars: Record<string, RunbookVar> = {};
  for (const [v, spec] of Object.entries(raw.vars ?? {}))
    vars[v] = {
      name: v,
      default: spec.default === undefined ? null : String(spec.default),
      description: spec.description ?? '',
    };
  const seen = new Set<string>();
  const steps = raw.steps.map((s, i) => {
    if (seen.has(s.name)) problem(['steps', i, 'name'], `step name '${s.name}' is used twice`);
    const step = compileStep(s.name, s, ['steps', i], { env, problem, vars, earlier: new Set(seen) });
    seen.add(s.name);
    return step;
  });
  const rollbackSteps: Record<string, RunbookStep> = {};
  for (const [rname, s] of Object.entries(raw.rollbackSteps ?? {})) {
    if (seen.has(rname)) problem(['rollbackSteps', rname], `rollback step '${rname}' has the name of a step`);
    rollbackSteps[rname] = compileStep(rname, s, ['rollbackSteps', rname], { env, problem, vars, earlier: seen });
  }
  raw.steps.forEach((s, i) => {
    if (s.onFailure === 'rollback' && (s.rollback ?? []).length === 0)
      problem(['steps', i], "onFailure: rollback needs 'rollback', the list of rollback steps to run");
    if (s.rollback !== undefined && s.onFailure !== 'rollback')
      problem(['steps', i, 'rollback'], "'rollback' is used only with onFailure: rollback");
    (s.rollback ?? []).forEach((r, j) => {
      if (!Object.hasOwn(rollbackSteps, r))
        problem(['steps', i, 'rollback', j], `rollback step '${r}' is not defined under 'rollbackSteps'`);
    });
  });
  return {
    name,
    description: raw.description ?? '',
    destructive: raw.destructive ?? false,
    vars,
    steps,
    rollbackSteps,
    source: '',
  };
}

interface StepEnv {
  env: RunbookCompileEnv;
  problem: (path: PathSegment[], message: string) => void;
  vars: Record<string, RunbookVar>;
  /** Steps whose outputs may be used. */
  earlier: Set<string>;
}

function compileStep(name: string, s: Step, path: PathSegment[], se: StepEnv): RunbookStep {
  const kind = s.kind as RunbookStepKind;
  const params = s.with ?? {};
  const parsed = STEP_PARAMS[kind].safeParse(params, { error: errorMap });
  if (!parsed.success)
    se.env.problems.push(...problemsFromIssues(parsed.error.issues, se.env.root, [...se.env.prefix, ...path, 'with']));
  else checkParams(kind, params, [...path, 'with'], se);
  checkStrings(params, [...path, 'with'], se, kind === 'wait-until');
  const preconditions = (s.preconditions ?? []).map((c, i) => {
    checkStrings(
      c,
      [...path, 'preconditions', i],
      se,
      c.sql !== undefined || c.command !== undefined || c.http !== undefined,
    );
    if (c.sql !== undefined) checkSqlConnection(c, [...path, 'preconditions', i], se);
    return compileCondition(c);
  });
  if (s.when !== undefined) checkStrings(s.when, [...path, 'when'], se, false);
  if (kind === 'wait-until' && typeof params.that === 'string')
    checkExpression(params.that, [...path, 'with', 'that'], se);
  return {
    name,
    kind,
    description: s.description ?? '',
    params,
    timeoutMs:
      s.timeout === 'none'
        ? null
        : s.timeout !== undefined
          ? ms(s.timeout, 0)
          : UNTIMED_KINDS.includes(kind)
            ? null
            : RUNBOOK_DEFAULTS.stepTimeoutMs,
    retries: { attempts: s.retries?.attempts ?? 1, backoffMs: ms(s.retries?.backoff, RUNBOOK_DEFAULTS.backoffMs) },
    idempotent: s.idempotent ?? null,
    onFailure: s.onFailure ?? 'stop',
    rollback: s.rollback ?? [],
    preconditions,
    when: s.when ?? null,
    source: '',
  };
}

type RawCondition = NonNullable<Step['preconditions']>[number];

export function compileCondition(c: RawCondition): RunbookCondition {
  if (c.sql !== undefined)
    return {
      type: 'sql',
      sql: c.sql,
      url: c.url ?? '',
      target: c.target ?? null,
      database: c.database ?? null,
      that: c.that ?? null,
    };
  if (c.command !== undefined) return { type: 'command', argv: c.command, that: c.that ?? null };
  if (c.http !== undefined) return { type: 'http', url: c.http, that: c.that ?? null };
  return { type: 'that', that: c.that ?? '' };
}

/** Kind-specific references: the plans and restore plans a `safehold` step runs. */
function checkParams(kind: RunbookStepKind, params: Record<string, unknown>, path: PathSegment[], se: StepEnv): void {
  if (kind === 'wait-until') {
    checkWaitUntil(params, path, se);
    return;
  }
  if (kind === 'sql') {
    checkSqlConnection(params, path, se);
    return;
  }
  if (kind !== 'safehold') return;
  const p = params as SafeholdParams;
  const { plans, restorePlans } = se.env;
  const plan = (pathTail: PathSegment[], planName: string) => {
    if (!planName.includes('${') && !Object.hasOwn(plans, planName))
      se.problem([...path, ...pathTail], `plan '${planName}' is not defined under 'plans'`);
  };
  if ('plan' in p) plan(['plan'], p.plan);
  else if ('copy' in p) {
    plan(['copy', 'plan'], p.copy.plan);
    const acts = plans[p.copy.plan]?.activities;
    if (acts && p.copy.activity !== undefined && !acts.some((a) => a.name === p.copy.activity && a.kind === 'copy'))
      se.problem([...path, 'copy', 'activity'], `plan '${p.copy.plan}' has no copy activity '${p.copy.activity}'`);
  } else if ('drill' in p) plan(['drill', 'plan'], p.drill.plan);
  else if (!Object.hasOwn(restorePlans, p.restorePlan))
    se.problem([...path, 'restorePlan'], `restore plan '${p.restorePlan}' is not defined under 'restorePlans'`);
}

/** A wait-until polls exactly one check: sql (with url), command or http. */
function checkWaitUntil(p: Record<string, unknown>, path: PathSegment[], se: StepEnv): void {
  const checks = ['sql', 'command', 'http'].filter((k) => p[k] !== undefined);
  if (checks.length !== 1)
    se.problem(
      path,
      `expected exactly one check to poll: sql (with url), command or http${checks.length ? `, got ${checks.join(' and ')}` : ''}`,
    );
  else if (p.sql !== undefined) checkSqlConnection(p, path, se);
  if (p.url !== undefined && p.sql === undefined)
    se.problem([...path, 'url'], "'url' goes with 'sql' (an http check names its URL in 'http')");
}

/** An sql step or check names its database by exactly one of url and target (a configured postgres/mariadb target). */
function checkSqlConnection(p: Record<string, unknown>, path: PathSegment[], se: StepEnv): void {
  if ((p.url === undefined) === (p.target === undefined)) {
    se.problem(
      path,
      "expected exactly one of 'url' (postgres://… or mariadb://…) and 'target' (a configured database target)",
    );
    return;
  }
  if (p.database !== undefined && p.target === undefined)
    se.problem([...path, 'database'], "'database' goes with 'target' (a URL names its database itself)");
  if (typeof p.target !== 'string') return;
  const kind = p.target.includes('${') ? 'postgres' : se.env.targets[p.target]?.kind;
  if (kind === undefined) se.problem([...path, 'target'], `target '${p.target}' is not defined under 'targets'`);
  else if (kind !== 'postgres' && kind !== 'mariadb')
    se.problem([...path, 'target'], `target '${p.target}' is a ${kind} target; expected a postgres or mariadb one`);
}

/** Checks every placeholder in the strings of `v` (and the expressions under `that`/`when`). */
function checkStrings(v: unknown, path: PathSegment[], se: StepEnv, withCheck: boolean): void {
  if (typeof v === 'string') {
    const last = path[path.length - 1];
    if (last === 'that' || last === 'when') checkExpression(v, path, se);
    for (const ref of placeholdersIn(v)) {
      const why = refProblem(ref, se, withCheck && last === 'that');
      if (why !== null) se.problem(path, why);
    }
  } else if (Array.isArray(v)) v.forEach((x, i) => checkStrings(x, [...path, i], se, withCheck));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) checkStrings(x, [...path, k], se, withCheck);
}

function checkExpression(text: string, path: PathSegment[], se: StepEnv): void {
  try {
    parseExpression(text);
  } catch (e) {
    se.problem(path, `expected an expression like '\${vars.x} == 1', got '${text}' (${(e as Error).message})`);
  }
}

/** Why a placeholder reference is wrong, or null. */
function refProblem(ref: string, se: StepEnv, checkResults: boolean): string | null {
  const parts = ref.split('.');
  const head = parts[0];
  if (head === 'vars') {
    if (parts.length !== 2) return `placeholder '\${${ref}}': expected \${vars.NAME}`;
    if (!Object.hasOwn(se.vars, parts[1]!))
      return `placeholder '\${${ref}}': variable '${parts[1]}' is not declared under 'vars'`;
    return null;
  }
  if (head === 'steps') {
    const ok = (parts.length === 4 && parts[2] === 'outputs') || (parts.length === 3 && parts[2] === 'status');
    if (!ok) return `placeholder '\${${ref}}': expected \${steps.STEP.outputs.KEY} or \${steps.STEP.status}`;
    if (!se.earlier.has(parts[1]!)) return `placeholder '\${${ref}}': '${parts[1]}' is not an earlier step`;
    return null;
  }
  if (head === 'run') {
    if (parts.length === 2 && ['id', 'startedAt', 'runbook'].includes(parts[1]!)) return null;
    return `placeholder '\${${ref}}': expected \${run.id}, \${run.startedAt} or \${run.runbook}`;
  }
  if (
    checkResults &&
    (CHECK_REFS as readonly string[]).includes(head!) &&
    (parts.length === 1 || head === 'body' || head === 'row')
  )
    return null;
  if (checkResults && head === 'row' && parts.length === 2) return null;
  const extra = checkResults
    ? ', or a result of the check (value, rowCount, row.COL, exitCode, stdout, status, body.KEY)'
    : '';
  return `placeholder '\${${ref}}': expected vars.NAME, steps.STEP.outputs.KEY or run.id${extra}`;
}

/** A copy of `rb` whose runbook and steps name file:line (from the YAML source of the file they were read from). */
export function withSources(rb: Runbook, src: YamlSource, file: string, prefix: PathSegment[]): Runbook {
  const at = (path: PathSegment[]) => {
    const p = src.locate([...prefix, ...path], 'key');
    return p === null ? file : `${file}:${p.line}`;
  };
  return {
    ...rb,
    source: at([]),
    steps: rb.steps.map((s, i) => ({ ...s, source: at(['steps', i]) })),
    rollbackSteps: Object.fromEntries(
      Object.entries(rb.rollbackSteps).map(([n, s]) => [n, { ...s, source: at(['rollbackSteps', n]) }]),
    ),
  };
}

/** The runbooks under `runbooks:` of safehold.yaml. */
export function compileRunbooks(
  raw: Readonly<Record<string, RawRunbook>> | undefined,
  env: Omit<RunbookCompileEnv, 'prefix'>,
): Record<string, Runbook> {
  return Object.fromEntries(
    Object.entries(raw ?? {}).map(([name, rb]) => [
      name,
      compileRunbook(name, rb, { ...env, prefix: ['runbooks', name] }),
    ]),
  );
}
