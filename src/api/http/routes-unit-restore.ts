// Restore of ONE snapshot of a unit (plans/restore/unit-restore.ts): files under a
// directory, a database dump into a database name. Whether it overwrites
// live data is decided by the flow on the real places and databases; an
// operator is refused (403) there, an admin may (after a safety backup).
// The audit log records the decision either way.

import { restoreUnit } from '../../plans/restore/unit-restore.ts';
import { roleAllows } from '../auth/types.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';
import { auditedRestore } from './restore-audit.ts';
import { unitRestoreBodySchema, unitRestoreResultSchema } from './schemas.ts';

export function unitRestoreRoutes(app: ApiApp, ctx: RouteContext): void {
  app.post(
    '/api/restores/unit',
    {
      schema: {
        ...op(
          'restoreUnit',
          'restores',
          'operator',
          'restore one snapshot of a unit: files under a directory, a database dump into a database name; over live data needs admin',
        ),
        'x-safehold-role-in-place': 'admin',
        body: unitRestoreBodySchema,
        response: { 200: unitRestoreResultSchema, ...errorResponses },
      },
    },
    async (req) => {
      const b = req.body;
      const p = ctx.principalOf(req);
      const allowLive = p !== null && roleAllows(p.role, 'admin');
      const what = `restore of snapshot ${b.snapshot} from ${b.destination}`;
      return auditedRestore(ctx, req, what, async () => {
        const r = await restoreUnit({ config: ctx.deps.config, clock: ctx.deps.clock, allowLive }, b);
        return {
          result: r,
          detail: `${r.kind}${r.target ? ` ${r.target}/${r.unit ?? ''}` : ''} into ${r.into}`,
          live: r.overLiveData,
          safety: r.safety,
        };
      });
    },
  );
}
