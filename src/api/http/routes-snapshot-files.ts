// The file browser of one snapshot (plans/browse/snapshot-files.ts): a
// directory's entries and a search by name (viewer, like the snapshot list),
// one file's content streamed as an attachment (viewer; audited, though a
// GET), and the restore of a selection into a new or empty directory outside
// live data (operator; refused for everyone else and over live data for
// everyone). The routes only call the flow.

import { PassThrough } from 'node:stream';
import { z } from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  browseSnapshot,
  openFileDownload,
  restoreSelection,
  searchSnapshot,
} from '../../plans/browse/snapshot-files.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';
import {
  browseDirSchema,
  browseSearchSchema,
  selectionRestoreBodySchema,
  selectionRestoreResultSchema,
} from './schemas-browse.ts';

const idParams = z.object({ id: z.string().min(1).describe('snapshot id or unique prefix') });
const destination = z.string().min(1).describe('the repository destination holding the snapshot');

/** Content-Disposition for `name`: an ASCII fallback and the UTF-8 name (RFC 6266). */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_') || 'download';
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export function snapshotFileRoutes(app: ApiApp, ctx: RouteContext): void {
  const flow = () => ({ config: ctx.deps.config, clock: ctx.deps.clock });

  app.get(
    '/api/snapshots/:id/files',
    {
      schema: {
        ...op('browseSnapshot', 'snapshots', 'viewer', "the entries of one directory of a snapshot's files"),
        params: idParams,
        querystring: z.object({ destination, path: z.string().default('/') }),
        response: { 200: browseDirSchema, ...errorResponses },
      },
    },
    async (req) =>
      browseSnapshot(flow(), { destination: req.query.destination, snapshot: req.params.id }, req.query.path),
  );

  app.get(
    '/api/snapshots/:id/search',
    {
      schema: {
        ...op('searchSnapshot', 'snapshots', 'viewer', 'entries of a snapshot whose name contains a text (any case)'),
        params: idParams,
        querystring: z.object({
          destination,
          q: z.string().min(1).max(200),
          limit: z.coerce.number().int().min(1).max(1000).default(200),
        }),
        response: { 200: browseSearchSchema, ...errorResponses },
      },
    },
    async (req) =>
      searchSnapshot(
        flow(),
        { destination: req.query.destination, snapshot: req.params.id },
        req.query.q,
        req.query.limit,
      ),
  );

  // A GET, so the app's audit hook (state-changing methods) leaves it out: audited here, refusals included.
  const details = new WeakMap<object, string>();
  app.get(
    '/api/snapshots/:id/download',
    {
      schema: {
        ...op(
          'downloadSnapshotFile',
          'snapshots',
          'viewer',
          "one regular file's content from a snapshot, as an attachment",
        ),
        params: idParams,
        querystring: z.object({ destination, path: z.string().min(1) }),
        response: { ...errorResponses },
      },
      onResponse: async (req: FastifyRequest, reply: FastifyReply) => {
        const p = ctx.principalOf(req);
        if (!p) return;
        ctx.deps.audit({
          at: ctx.deps.clock.now(),
          principal: p.id,
          role: p.role,
          method: req.method,
          path: req.url.split('?')[0] ?? req.url,
          status: reply.statusCode,
          ip: req.ip,
          requestId: req.id,
          ...(details.has(req) ? { detail: details.get(req)! } : {}),
        });
      },
    },
    async (req, reply) => {
      const what = `download of ${req.query.path} from snapshot ${req.params.id} of ${req.query.destination}`;
      let d: Awaited<ReturnType<typeof openFileDownload>>;
      try {
        d = await openFileDownload(
          flow(),
          { destination: req.query.destination, snapshot: req.params.id },
          req.query.path,
        );
      } catch (e) {
        details.set(req, `${what}: refused or failed (${isSafeholdError(e) ? `${e.code}: ${e.message}` : String(e)})`);
        throw e;
      }
      details.set(req, `${what}: ${d.size} bytes`);
      const body = new PassThrough();
      body.on('close', () => void d.cancel());
      d.writeTo(body).then(
        () => body.end(),
        (e: unknown) => body.destroy(e instanceof Error ? e : new Error(String(e))),
      );
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(d.size))
        .header('content-disposition', attachment(d.name))
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-store')
        .send(body as never); // a stream: no response schema applies to it
    },
  );

  app.post(
    '/api/snapshots/:id/restore-selection',
    {
      schema: {
        ...op(
          'restoreSelection',
          'restores',
          'operator',
          'restore selected paths of a files snapshot into a new or empty directory outside live data',
        ),
        params: idParams,
        body: selectionRestoreBodySchema,
        response: { 200: selectionRestoreResultSchema, ...errorResponses },
      },
    },
    async (req) => {
      const b = req.body;
      const what = `restore of ${b.paths.length} path(s) of snapshot ${req.params.id} from ${b.destination} into ${b.target}`;
      try {
        const r = await restoreSelection(flow(), { ...b, snapshot: req.params.id });
        ctx.auditDetail(req, `${what}: ${r.files} file(s), ${r.bytes} bytes into ${r.into}; new places only`);
        return r;
      } catch (e) {
        ctx.auditDetail(
          req,
          `${what}: refused or failed (${isSafeholdError(e) ? `${e.code}: ${e.message}` : String(e)})`,
        );
        throw e;
      }
    },
  );
}
