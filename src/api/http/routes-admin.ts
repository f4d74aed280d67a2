// Admin endpoints: the compiled configuration (every secret redacted by
// redactConfig, never a value), and the API tokens: list (no secrets or
// hashes), create (the token text is returned once, in this response only),
// revoke. Creating and revoking are audited by app.ts's hook with the token
// id as the detail.

import { z } from 'zod';
import { redactConfig } from '../../config/redact.ts';
import { createToken } from '../auth/index.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

const role = z.enum(['viewer', 'operator', 'admin']);

const tokenInfoSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role,
    createdAt: z.number(),
    createdBy: z.string(),
    lastUsedAt: z.number().nullable(),
    revokedAt: z.number().nullable(),
  })
  .meta({ id: 'TokenInfo' });

const createdSchema = z
  .object({
    token: z.string().describe('the token text (shk_<id>_<secret>): shown only in this response'),
    info: tokenInfoSchema,
  })
  .meta({ id: 'CreatedToken' });

const createBody = z.object({ role, name: z.string().min(1).max(100).optional() }).strict();

export function adminRoutes(app: ApiApp, ctx: RouteContext): void {
  app.get(
    '/api/config',
    {
      schema: {
        ...op(
          'getConfig',
          'admin',
          'admin',
          'the compiled configuration, every secret redacted ("***(env:NAME)", "***(file:PATH)", "***(inline)")',
        ),
        response: {
          200: z.record(z.string(), z.unknown()).describe('the compiled configuration as JSON'),
          ...errorResponses,
        },
      },
    },
    async (_req, reply) => {
      reply.header('cache-control', 'no-store');
      return redactConfig(ctx.deps.config) as Record<string, unknown>;
    },
  );

  app.get(
    '/api/tokens',
    {
      schema: {
        ...op(
          'listTokens',
          'admin',
          'admin',
          'every API token, oldest first (revoked ones too); never a secret or hash',
        ),
        response: { 200: z.object({ items: z.array(tokenInfoSchema) }), ...errorResponses },
      },
    },
    async () => ({ items: ctx.deps.catalog.tokens().list() }),
  );

  app.post(
    '/api/tokens',
    {
      schema: {
        ...op('createToken', 'admin', 'admin', 'create an API token; the token text is returned once'),
        body: createBody,
        response: { 200: createdSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const p = ctx.principalOf(req)!;
      const r = createToken(ctx.deps.catalog, {
        role: req.body.role,
        ...(req.body.name !== undefined ? { name: req.body.name } : {}),
        createdBy: p.id,
      });
      ctx.auditDetail(req, `token ${r.info.id} created (${r.info.role}, ${r.info.name})`);
      reply.header('cache-control', 'no-store');
      return r;
    },
  );

  app.delete(
    '/api/tokens/:id',
    {
      schema: {
        ...op('revokeToken', 'admin', 'admin', 'revoke an API token (at once: its next request is a 401)'),
        params: z.object({ id: z.string().min(1) }),
        response: { 200: tokenInfoSchema, ...errorResponses },
      },
    },
    async (req) => {
      const info = ctx.deps.catalog.tokens().revoke(req.params.id);
      ctx.auditDetail(req, `token ${info.id} revoked (${info.role}, ${info.name})`);
      return info;
    },
  );
}
