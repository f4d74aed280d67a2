// The WHERE clause of the catalog's list queries, built in one place: fixed
// conditions, equality filters whose undefined values mean "any", and a
// keyset position ("after this sort key") for paginated lists.

export type Param = string | number | null;

export interface WhereOptions {
  /** Conditions that always apply (SQL without parameters). */
  fixed?: readonly string[];
  /** Rows strictly before this position in a descending list: `(started_at, id) < (?, ?)`. */
  before?: { key: string; values: readonly Param[] } | null;
}

/** ' WHERE a = ? AND …' with its parameters, or '' when nothing filters. */
export function whereClause(
  equal: Readonly<Record<string, Param | undefined>>,
  opts: WhereOptions = {},
): { sql: string; params: Param[] } {
  const where = [...(opts.fixed ?? [])];
  const params: Param[] = [];
  for (const [column, value] of Object.entries(equal)) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  if (opts.before) {
    where.push(`${opts.before.key} < (${opts.before.values.map(() => '?').join(', ')})`);
    params.push(...opts.before.values);
  }
  return { sql: where.length ? ` WHERE ${where.join(' AND ')}` : '', params };
}
