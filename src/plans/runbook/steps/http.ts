// The `http` step: one HTTP request (method, url, headers, body). The status
// must be expectStatus (one or a list; default any 2xx). Outputs: status and
// the fields of a JSON object body.

import { SafeholdError } from '../../../core/errors.ts';
import type { HttpParams } from '../../../config/runbook-params.ts';
import { runHttp, safeUrl, scalarFields } from '../probes.ts';
import type { StepKind } from '../step-kind.ts';

function expected(p: HttpParams): number[] | null {
  if (p.expectStatus === undefined) return null;
  return (Array.isArray(p.expectStatus) ? p.expectStatus : [p.expectStatus]).map(Number);
}

export const httpStep: StepKind<HttpParams> = {
  kind: 'http',
  idempotent: false,
  async plan(p) {
    return [`${p.method ?? 'GET'} ${safeUrl(p.url)}`];
  },
  async run(p, ctx) {
    const r = await runHttp(p, ctx.signal);
    const want = expected(p);
    const ok = want === null ? r.status >= 200 && r.status < 300 : want.includes(r.status);
    if (!ok)
      throw new SafeholdError(
        'RUNBOOK_STEP_FAILED',
        `${p.method ?? 'GET'} ${safeUrl(p.url)} answered ${r.status}, expected ${want === null ? 'a 2xx status' : want.join(' or ')}`,
        { retryable: r.status >= 500 },
      );
    return { ...scalarFields(r.json), status: r.status };
  },
};
