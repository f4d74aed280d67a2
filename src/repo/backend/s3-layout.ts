// Where an S3 backend's files live in its bucket: the key of each handle
// under the location's prefix (the local backend's layout: `config`,
// `keys/<name>`, `data/<first 2 chars>/<name>`, …), the names a listing
// yields, and the checks of names and ranges every backend makes.

import { checkName, checkRange, checkType, describe, pastEnd, validName } from './handle-checks.ts';
import { FILE_TYPES } from './backend.ts';
import type { FileType, Handle } from './backend.ts';

/** Object key of a handle under `base` ('' or 'prefix/'); rejects names that could escape their type's folder. */
export function objectKey(base: string, h: Handle): string {
  checkType(h.type);
  if (h.type === 'config') return `${base}config`;
  checkName(h.name);
  if (h.type === 'data') return `${base}data/${h.name.slice(0, 2)}/${h.name}`;
  return `${base}${h.type}/${h.name}`;
}

/** The total size in a Content-Range header ("bytes 0-9/1000"), if any. */
export function totalSize(contentRange: string | undefined): number | undefined {
  const m = contentRange === undefined ? null : /\/(\d+)\s*$/.exec(contentRange);
  return m ? Number(m[1]) : undefined;
}

/** The file name of a listed key relative to its type's folder, or undefined for keys outside the layout. */
export function nameIn(type: FileType, rel: string): string | undefined {
  const parts = rel.split('/');
  const name = type === 'data' ? (parts.length === 2 && parts[1]!.startsWith(parts[0]!) ? parts[1] : undefined) : rel;
  if (name === undefined || parts.length > (type === 'data' ? 2 : 1)) return undefined;
  return validName(name) ? name : undefined;
}

/** Whether a key relative to the prefix is one of the layout's files (config, keys/<name>, data/xx/<name>, …). */
export function isLayoutKey(rel: string): boolean {
  if (rel === 'config') return true;
  const slash = rel.indexOf('/');
  const type = rel.slice(0, slash) as FileType;
  return (
    slash > 0 && type !== 'config' && FILE_TYPES.includes(type) && nameIn(type, rel.slice(slash + 1)) !== undefined
  );
}

export { checkName, checkRange, checkType, describe, pastEnd, validName };
