// The `sql` step: one SQL statement on PostgreSQL or MariaDB named by a URL
// or a configured database target
// (src/drivers/sql/sql-exec.ts). Outputs: rowCount and the first row's
// columns.

import type { SqlParams } from '../../../config/runbook-params.ts';
import { describeSqlConnection, runSqlQuery, scalarFields, sqlUrlOf } from '../probes.ts';
import type { StepKind } from '../step-kind.ts';

export const sqlStep: StepKind<SqlParams> = {
  kind: 'sql',
  idempotent: false,
  async plan(p) {
    return [`run SQL on ${describeSqlConnection(p)}: ${p.sql}`];
  },
  async run(p, ctx) {
    const r = await runSqlQuery(sqlUrlOf(p, ctx.config), p.sql, { signal: ctx.signal });
    return { ...scalarFields(r.firstRow), rowCount: r.rowCount };
  },
};
