// The zod schemas of the snapshot file browser's routes (routes-snapshot-files.ts):
// a directory's entries, a search by name, the restore of a selection. Like
// schemas.ts it imports nothing but zod, so the console derives its types
// from it (type-only imports from web/src/types.ts).

import { z } from 'zod';

export const browseEntrySchema = z
  .object({
    name: z.string(),
    path: z.string().describe('absolute path in the snapshot'),
    type: z.enum(['file', 'dir', 'symlink', 'fifo', 'socket', 'chardev', 'blockdev']),
    size: z.number(),
    mtime: z.number().describe('ms since the epoch'),
    linkTarget: z.string().nullable(),
  })
  .meta({ id: 'BrowseEntry' });

export const browseDirSchema = z
  .object({ snapshot: z.string(), path: z.string(), items: z.array(browseEntrySchema) })
  .meta({ id: 'BrowseDir' });

export const browseSearchSchema = z
  .object({
    snapshot: z.string(),
    items: z.array(browseEntrySchema),
    truncated: z.boolean().describe('more entries matched than the limit'),
  })
  .meta({ id: 'BrowseSearch' });

export const selectionRestoreBodySchema = z
  .object({
    destination: z.string().min(1).describe('the repository destination holding the snapshot'),
    paths: z.array(z.string().min(1)).min(1).max(1000).describe('absolute snapshot paths to restore'),
    target: z
      .string()
      .min(1)
      .describe('absolute directory to restore into: new (its parent existing) or empty, outside live data'),
  })
  .meta({ id: 'SelectionRestoreRequest' });

export const selectionRestoreResultSchema = z
  .object({
    snapshot: z.string(),
    into: z.string().describe('the real directory restored into'),
    paths: z.array(z.string()),
    files: z.number(),
    dirs: z.number(),
    bytes: z.number(),
  })
  .meta({ id: 'SelectionRestoreResult' });
