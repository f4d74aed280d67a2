// Scope leases: the list with their ages and whether each is stale (as the
// catalog decides: holder process gone, past the maximum age or its
// heartbeat timeout), and the release of a
// stale one by an administrator (a live one only with force=true); audited.

import { z } from 'zod';
import { leaseStaleness } from '../../catalog/leases.ts';
import type { Lease } from '../../catalog/leases.ts';
import { SafeholdError } from '../../core/errors.ts';
import { leaseSchema } from './schemas.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

export function lockRoutes(app: ApiApp, ctx: RouteContext): void {
  const view = (l: Lease, now: number) => {
    const s = ctx.deps.config.settings;
    const ageMs = now - l.createdAt;
    const heartbeatAgeMs = now - l.heartbeatAt;
    const stale = leaseStaleness(l, now, { maxAgeMs: s.lockMaxAgeMs, heartbeatTimeoutMs: s.lockHeartbeatTimeoutMs });
    return { ...l, ageMs, heartbeatAgeMs, stale };
  };

  app.get(
    '/api/locks',
    {
      schema: {
        ...op('listLocks', 'locks', 'viewer', 'leases held on scopes'),
        response: { 200: z.object({ items: z.array(leaseSchema) }), ...errorResponses },
      },
    },
    async () => {
      const now = ctx.deps.clock.now();
      return {
        items: ctx.deps.catalog
          .leases()
          .list()
          .map((l) => view(l, now)),
      };
    },
  );

  app.delete(
    '/api/locks/:scope',
    {
      schema: {
        ...op('releaseLock', 'locks', 'admin', 'release a stale lease (URL-encode the scope: unit%3AT%2FU)'),
        params: z.object({ scope: z.string().min(1).max(500) }),
        querystring: z.object({
          force: z.enum(['true', 'false']).default('false').describe('true: release even a live lease'),
        }),
        response: { 200: z.object({ released: leaseSchema }), ...errorResponses },
      },
    },
    async (req) => {
      const now = ctx.deps.clock.now();
      const lease = ctx.deps.catalog
        .leases()
        .list()
        .find((l) => l.scope === req.params.scope);
      if (!lease) throw new SafeholdError('NOT_FOUND', `no lease on ${req.params.scope}`);
      const v = view(lease, now);
      if (v.stale === null && req.query.force !== 'true') {
        throw new SafeholdError(
          'LOCKED',
          `the lease on ${lease.scope} is live (held by ${lease.runId ? `run ${lease.runId}` : lease.holder}, heartbeat ${Math.round(v.heartbeatAgeMs / 1000)}s ago); pass force=true to release it anyway`,
        );
      }
      if (!ctx.queries.deleteLease(lease.scope, lease.holder))
        throw new SafeholdError('NOT_FOUND', `the lease on ${lease.scope} was released meanwhile`);
      ctx.auditDetail(
        req,
        `released lease ${lease.scope} of ${lease.holder}${lease.runId ? ` (run ${lease.runId})` : ''}${v.stale ? ` (stale: ${v.stale})` : ' (live, forced)'}`,
      );
      return { released: v };
    },
  );
}
