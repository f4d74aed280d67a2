// The `sql` step: one SQL statement on PostgreSQL or MariaDB named by a URL
// (src/drivers/sql/sql-exec.ts). Outputs: rowCount and the first row's
// columns.

import type { SqlParams } from '../../../config/runbook-params.ts';
import { redactDbUrl } from '../../../drivers/sql/sql-exec.ts';
import { runSqlQuery, scalarFields } from '../probes.ts';
import type { StepKind } from '../step-kind.ts';

export const sqlStep: StepKind<SqlParams> = {
  kind: 'sql',
  idempotent: false,
  async plan(p) {
    return [`run SQL on ${p.url.includes('<') ? p.url : redactDbUrl(p.url)}: ${p.sql}`];
  },
  async run(p, ctx) {
    const r = await runSqlQuery(p.url, p.sql, { signal: ctx.signal });
    return { ...scalarFields(r.firstRow), rowCount: r.rowCount };
  },
};
