// The two small languages inside runbooks: placeholders in strings
// (${vars.X}, ${steps.S.outputs.Y}, ${run.id}, and a check's own results such
// as ${value} inside a condition) and the expressions of `that:` / `when:`
// ("${steps.status.outputs.role} == standby and ${vars.force} != true").
// Parsing lives here so that the config loader rejects a bad runbook at load
// and the engine (src/plans/runbook/) evaluates exactly what was checked.

export const PLACEHOLDER_RE = /\$\{([^}]*)\}/g;

/** The references inside `${…}` of a string, in order. */
export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER_RE)].map((m) => m[1]!.trim());
}

/** Replaces each `${ref}` by lookup(ref); a reference lookup cannot answer (undefined) is left to `missing`. */
export function fillTemplate(
  text: string,
  lookup: (ref: string) => string | undefined,
  missing: (ref: string) => string,
): string {
  return text.replace(PLACEHOLDER_RE, (_m, ref: string) => lookup(ref.trim()) ?? missing(ref.trim()));
}

/** The results of a check (sql, command, http) that the check's `that` may use, besides vars/steps/run. */
export const CHECK_REFS = ['value', 'rowCount', 'exitCode', 'stdout', 'status', 'body'] as const;

export type ComparisonOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'contains';

/** One comparison; `op` null: the left operand alone, true unless it is empty, false, 0, no or null. */
export interface Comparison {
  left: string;
  op: ComparisonOp | null;
  right: string | null;
}

/** An expression: comparisons joined by `and` (inner) and `or` (outer); no parentheses. */
export type Expression = Comparison[][];

const OP_RE = /\s(==|!=|<=|>=|<|>|contains)\s/;

/** Masks placeholders and quoted text so that operators inside them are not seen. */
function mask(text: string): string {
  return text
    .replace(PLACEHOLDER_RE, (m) => '_'.repeat(m.length))
    .replace(/'[^']*'|"[^"]*"/g, (m) => '_'.repeat(m.length));
}

function splitOn(text: string, word: string): string[] {
  const masked = mask(text);
  const out: string[] = [];
  const re = new RegExp(`\\s${word}\\s`, 'g');
  let from = 0;
  for (const m of masked.matchAll(re)) {
    out.push(text.slice(from, m.index));
    from = m.index + m[0].length;
  }
  out.push(text.slice(from));
  return out;
}

function parseComparison(text: string): Comparison {
  const t = text.trim();
  if (t === '') throw new Error('an empty comparison');
  const masked = mask(t);
  const m = OP_RE.exec(masked);
  if (!m) {
    const dangling = /(^|\s)(==|!=|<=|>=|<|>|contains)(\s|$)/.exec(masked);
    if (dangling) throw new Error(`'${dangling[2]}' needs a value on each side`);
    return { left: t, op: null, right: null };
  }
  const left = t.slice(0, m.index).trim();
  const right = t.slice(m.index + m[0].length).trim();
  if (left === '' || right === '') throw new Error(`'${m[1]}' needs a value on each side`);
  if (OP_RE.test(mask(` ${right} `))) throw new Error(`one operator per comparison (join comparisons with 'and'/'or')`);
  return { left, op: m[1] as ComparisonOp, right };
}

/** Parses an expression; throws an Error saying what is wrong. */
export function parseExpression(text: string): Expression {
  if (text.trim() === '') throw new Error('an empty expression');
  return splitOn(text, 'or').map((part) => splitOn(part, 'and').map(parseComparison));
}

/** An operand's text once resolved: surrounding quotes removed. */
export function unquote(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && (t[0] === "'" || t[0] === '"') && t[t.length - 1] === t[0]) return t.slice(1, -1);
  return t;
}

function asNumber(s: string): number | null {
  if (s.trim() === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

function truthy(s: string): boolean {
  return !['', 'false', '0', 'no', 'null', 'f', 'off'].includes(s.trim().toLowerCase());
}

/** Compares two resolved operands: numerically when both are numbers, else as text. */
export function compare(left: string, op: ComparisonOp | null, right: string | null): boolean {
  const l = unquote(left);
  if (op === null || right === null) return truthy(l);
  const r = unquote(right);
  if (op === 'contains') return l.includes(r);
  const ln = asNumber(l);
  const rn = asNumber(r);
  const c = ln !== null && rn !== null ? Math.sign(ln - rn) : l < r ? -1 : l > r ? 1 : 0;
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

/** Evaluates a parsed expression, resolving each operand with `resolve`. */
export function evaluateExpression(expr: Expression, resolve: (operand: string) => string): boolean {
  return expr.some((all) =>
    all.every((c) => compare(resolve(c.left), c.op, c.right === null ? null : resolve(c.right))),
  );
}
