// Resolving the placeholders of a runbook step just before it runs:
// ${vars.X}, ${steps.S.outputs.Y}, ${steps.S.status}, ${run.id},
// ${run.startedAt}, ${run.runbook}, and inside a check's `that` its results
// (${value}, ${rowCount}, ${row.COL}, ${exitCode}, ${stdout}, ${status},
// ${body.KEY}). A dry run resolves what is known and shows outputs of steps
// not run yet as <output of S.Y>.

import { SafeholdError } from '../../core/errors.ts';
import { CHECK_REFS, fillTemplate } from '../../config/runbook-template.ts';
import type { StepOutputs } from './step-kind.ts';

export interface ResolveScope {
  readonly vars: Readonly<Record<string, string>>;
  readonly steps: Readonly<Record<string, { status: string; outputs: StepOutputs | null }>>;
  readonly run: { readonly id: string; readonly startedAt: number; readonly runbook: string };
  /** The results of the check whose `that` is evaluated. */
  readonly check?: Readonly<Record<string, string>>;
}

/** 'run': an unknown reference fails the step; 'dry': it shows as <output of S.Y>. */
export type ResolveMode = 'run' | 'dry';

/** The text a reference stands for, or undefined when it is not known (yet). */
export function lookup(scope: ResolveScope, ref: string): string | undefined {
  const parts = ref.split('.');
  switch (parts[0]) {
    case 'vars':
      return scope.vars[parts[1] ?? ''];
    case 'run':
      if (parts[1] === 'id') return scope.run.id;
      if (parts[1] === 'runbook') return scope.run.runbook;
      if (parts[1] === 'startedAt') return new Date(scope.run.startedAt).toISOString();
      return undefined;
    case 'steps': {
      const s = scope.steps[parts[1] ?? ''];
      if (!s) return undefined;
      if (parts[2] === 'status') return s.status;
      const v = s.outputs?.[parts[3] ?? ''];
      return v === undefined ? undefined : v === null ? '' : String(v);
    }
    default:
      return scope.check?.[ref];
  }
}

function missingText(ref: string): string {
  const parts = ref.split('.');
  return `<output of ${parts[0] === 'steps' ? `${parts[1]}.${parts[3] ?? parts[2]}` : ref}>`;
}

function isCheckRef(ref: string): boolean {
  const head = ref.split('.')[0]!;
  return head === 'row' || (CHECK_REFS as readonly string[]).includes(head);
}

/** Resolves the placeholders of one string. */
export function resolveString(text: string, scope: ResolveScope, mode: ResolveMode): string {
  return fillTemplate(
    text,
    (ref) => lookup(scope, ref),
    (ref) => {
      // A check's own results (${value}, ${row.x}…) are filled in when the check has run.
      if (scope.check === undefined && isCheckRef(ref)) return `\${${ref}}`;
      if (mode === 'dry') return missingText(ref);
      throw new SafeholdError('RUNBOOK_STEP_FAILED', `placeholder \${${ref}} has no value (no such output yet)`);
    },
  );
}

/** Resolves every string inside `v` (maps and lists included); other values are kept. */
export function resolveDeep<T>(v: T, scope: ResolveScope, mode: ResolveMode): T {
  if (typeof v === 'string') return resolveString(v, scope, mode) as T;
  if (Array.isArray(v)) return v.map((x) => resolveDeep(x, scope, mode)) as T;
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveDeep(x, scope, mode)])) as T;
  return v;
}

/** Whether a dry-run resolution left an unknown value in `v`. */
export function hasUnknown(v: unknown): boolean {
  if (typeof v === 'string') return /<output of [^>]+>/.test(v);
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasUnknown);
  return false;
}
