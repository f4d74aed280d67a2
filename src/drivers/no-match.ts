// The error a target's unit listing raises when the target's own filter (a
// database server's `databases:`, a sqlite target's `files:`) matches
// nothing: the plan run fails that target's task instead of backing up what
// is left (PostgreSQL's `_globals` alone) as if all were well. It names what
// the filter could have matched, and carries the units that are left, for an
// activity that allows an empty match (`allowEmpty`).

import { SafeholdError } from '../core/errors.ts';

/** The most candidate names a message lists. */
const NAMED = 20;

export class NoMatchError extends SafeholdError {
  /** The units the target has despite the empty match (postgres: `_globals`, unless excluded). */
  readonly rest: readonly string[];

  constructor(message: string, rest: readonly string[]) {
    super('NOT_FOUND', message);
    this.rest = rest;
  }
}

/**
 * "no database of target shop-db matches 'shopp' (databases: postgres, shop)";
 * `where` is added after the pattern (a sqlite target's directory).
 */
export function noMatch(
  what: 'database' | 'file',
  target: string,
  glob: string,
  candidates: readonly string[],
  rest: readonly string[] = [],
  where = '',
): NoMatchError {
  const named = candidates.slice(0, NAMED).join(', ');
  const more = candidates.length > NAMED ? `, and ${candidates.length - NAMED} more` : '';
  const list = candidates.length > 0 ? `${named}${more}` : 'none';
  return new NoMatchError(`no ${what} of target ${target} matches '${glob}'${where} (${what}s: ${list})`, rest);
}
