// The checks every backend makes of what it is asked for (a known file type,
// a name that is one plain path component, a sane byte range) and the error
// for a range past the end of a file: one home, shared by all backends.

import { SafeholdError } from '../../core/errors.ts';
import { FILE_TYPES } from './backend.ts';
import type { FileType, Handle } from './backend.ts';

export function checkType(type: FileType): void {
  if (!FILE_TYPES.includes(type)) throw new SafeholdError('INTERNAL', `unknown file type ${JSON.stringify(type)}`);
}

/** A stored name is one path component that is not hidden (dot-files are ignored by list). */
export function validName(name: string): boolean {
  return typeof name === 'string' && name !== '' && !name.startsWith('.') && !/[/\\\0]/.test(name);
}

export function checkName(name: string): void {
  if (!validName(name)) throw new SafeholdError('INTERNAL', `invalid file name ${JSON.stringify(name)}`);
}

export function checkRange(offset: number, length: number | undefined): void {
  if (
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    (length !== undefined && (!Number.isSafeInteger(length) || length < 0))
  ) {
    throw new SafeholdError('INTERNAL', `invalid range: offset ${offset}, length ${length}`);
  }
}

export function pastEnd(h: Handle, offset: number, length: number, size: number): SafeholdError {
  return new SafeholdError(
    'CORRUPT',
    `${describe(h)} is too short: wanted ${length} bytes at offset ${offset}, file has ${size}`,
    { details: { type: h.type, name: h.name, offset, length, size } },
  );
}

export function describe(h: Handle): string {
  return h.type === 'config' ? 'config' : `${h.type}/${h.name}`;
}
