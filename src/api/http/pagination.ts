// Keyset pagination of the API's lists: `limit` (1..500, default 50) and an
// opaque `cursor` naming the last item of the previous page (its sort key and
// id, base64url of a JSON array). Pages are `{ items, nextCursor }`;
// nextCursor is null on the last page (their schema: pageSchema in
// schemas.ts).

import { z } from 'zod';
import { SafeholdError } from '../../core/errors.ts';

export const MAX_LIMIT = 500;

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(50).describe('items per page (1..500)'),
  cursor: z.string().max(400).optional().describe('nextCursor of the previous page'),
};

/** A position in a list: the sort key values of the last item seen. */
export type CursorKey = (string | number)[];

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Decodes a cursor made by encodeCursor with `arity` values; USAGE otherwise. */
export function decodeCursor(cursor: string | undefined, arity: number): CursorKey | null {
  if (cursor === undefined || cursor === '') return null;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = null;
  }
  if (!Array.isArray(v) || v.length !== arity || !v.every((x) => typeof x === 'string' || typeof x === 'number')) {
    throw new SafeholdError('USAGE', 'invalid cursor: pass the nextCursor of the previous page unchanged');
  }
  return v as CursorKey;
}

/** Cuts one extra row fetched to know whether a next page exists. */
export function toPage<T>(
  rows: T[],
  limit: number,
  keyOf: (t: T) => CursorKey,
): { items: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { items: rows, nextCursor: null };
  const items = rows.slice(0, limit);
  return { items, nextCursor: encodeCursor(keyOf(items[items.length - 1]!)) };
}
