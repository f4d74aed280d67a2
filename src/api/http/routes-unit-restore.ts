// Restore of ONE snapshot of a unit (plans/restore/unit-restore.ts): files under a
// directory, a database dump into a database name. Whether it overwrites
// live data is decided by the flow on the real places and databases; an
// operator is refused (403) there, an admin may (after a safety backup).
// The audit log records the decision either way.

import { z } from 'zod';
import { restoreUnit } from '../../plans/restore/unit-restore.ts';
import { roleAllows } from '../auth/types.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';
import { auditedRestore } from './restore-audit.ts';

const bodySchema = z.object({
  destination: z.string().min(1).describe('the repository destination holding the snapshot'),
  snapshot: z.string().min(1).describe('snapshot id or unique prefix'),
  into: z.string().min(1).optional().describe('database dumps: the database (unit) name to restore into; default the original (over live data: admin)'),
  target: z.string().min(1).optional().describe('files snapshots: the absolute directory the paths are recreated under; over live data (e.g. \'/\'): admin'),
  clean: z.boolean().default(false).describe('files: remove the snapshot\'s paths under target first; dumps: replace an existing database'),
}).strict();

const resultSchema = z.object({
  snapshot: z.string().describe('the full snapshot id'),
  kind: z.enum(['files', 'database']),
  into: z.string().describe('the real directory (files) or database name (dumps) restored into'),
  target: z.string().nullable().describe('the configured target the snapshot is of (its target: tag)'),
  unit: z.string().nullable(),
  inPlace: z.boolean().describe('whether live data was overwritten'),
  overLiveData: z.array(z.string()).describe('what live data was overwritten, and why it counts as live'),
  safety: z.string().nullable().describe('the safety backup of what was overwritten'),
  files: z.number().optional(),
  bytes: z.number().optional(),
}).meta({ id: 'UnitRestoreResult' });

export function unitRestoreRoutes(app: ApiApp, ctx: RouteContext): void {
  app.post('/api/restores/unit', {
    schema: {
      ...op('restoreUnit', 'restores', 'operator', 'restore one snapshot of a unit: files under a directory, a database dump into a database name; over live data needs admin'),
      'x-safehold-role-in-place': 'admin',
      body: bodySchema,
      response: { 200: resultSchema, ...errorResponses },
    },
  }, async (req) => {
    const b = req.body;
    const p = ctx.principalOf(req);
    const allowLive = p !== null && roleAllows(p.role, 'admin');
    const what = `restore of snapshot ${b.snapshot} from ${b.destination}`;
    return auditedRestore(ctx, req, what, async () => {
      const r = await restoreUnit({ config: ctx.deps.config, clock: ctx.deps.clock, allowLive }, b);
      return { result: r, detail: `${r.kind}${r.target ? ` ${r.target}/${r.unit ?? ''}` : ''} into ${r.into}`, live: r.overLiveData, safety: r.safety };
    });
  });
}
