// Backend held in memory, for tests and dry runs. Same semantics as the local
// backend (it passes the same conformance suite); data is copied on save and
// on load so that no caller can alias stored bytes.

import { FILE_TYPES } from './backend.ts';
import type { Backend, FileInfo, FileType, Handle } from './backend.ts';
import { SafeholdError } from '../../core/errors.ts';

export class MemoryBackend implements Backend {
  readonly location = 'memory:';
  private readonly files = new Map<FileType, Map<string, Buffer>>();

  constructor() {
    for (const t of FILE_TYPES) this.files.set(t, new Map());
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const { map, name } = this.slot(h);
    map.set(name, copy(data, 0, data.byteLength));
  }

  async saveNew(h: Handle, data: Uint8Array): Promise<void> {
    const { map, name } = this.slot(h);
    if (map.has(name)) {
      throw new SafeholdError('ALREADY_EXISTS', `${describe(h)} already exists in memory:`, {
        details: { type: h.type, name: h.name },
      });
    }
    map.set(name, copy(data, 0, data.byteLength));
  }

  async load(h: Handle, offset = 0, length?: number): Promise<Buffer> {
    checkRange(offset, length);
    const { map, name } = this.slot(h);
    const data = map.get(name);
    if (data === undefined) throw notFound(h);
    const end = length === undefined ? data.byteLength : offset + length;
    if (offset > data.byteLength || end > data.byteLength) {
      throw new SafeholdError(
        'CORRUPT',
        `${describe(h)} is too short: wanted ${end - offset} bytes at offset ${offset}, file has ${data.byteLength}`,
        {
          details: { type: h.type, name: h.name, offset, length: end - offset, size: data.byteLength },
        },
      );
    }
    return copy(data, offset, end - offset);
  }

  async stat(h: Handle): Promise<FileInfo> {
    const { map, name } = this.slot(h);
    const data = map.get(name);
    if (data === undefined) throw notFound(h);
    return { name, size: data.byteLength };
  }

  async list(type: FileType): Promise<FileInfo[]> {
    const map = this.files.get(type);
    if (map === undefined) throw new SafeholdError('INTERNAL', `unknown file type ${JSON.stringify(type)}`);
    return [...map].map(([name, data]) => ({ name, size: data.byteLength }));
  }

  async remove(h: Handle): Promise<void> {
    const { map, name } = this.slot(h);
    map.delete(name);
  }

  async exists(): Promise<boolean> {
    return this.files.get('config')!.has('config');
  }

  async create(): Promise<void> {
    if (await this.exists()) throw new SafeholdError('REPO_EXISTS', `a repository already exists at ${this.location}`);
  }

  async close(): Promise<void> {}

  /** The map and key of a handle, with the same name rules as the local backend. */
  private slot(h: Handle): { map: Map<string, Buffer>; name: string } {
    const map = this.files.get(h.type);
    if (map === undefined) throw new SafeholdError('INTERNAL', `unknown file type ${JSON.stringify(h.type)}`);
    if (h.type === 'config') return { map, name: 'config' };
    const name = h.name;
    if (typeof name !== 'string' || name === '' || name.startsWith('.') || /[/\\\0]/.test(name)) {
      throw new SafeholdError('INTERNAL', `invalid file name ${JSON.stringify(name)}`);
    }
    return { map, name };
  }
}

/** A fresh, unpooled copy of `length` bytes of `src` from `offset`. */
function copy(src: Uint8Array, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafeSlow(length);
  out.set(src.subarray(offset, offset + length));
  return out;
}

function checkRange(offset: number, length: number | undefined): void {
  if (
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    (length !== undefined && (!Number.isSafeInteger(length) || length < 0))
  ) {
    throw new SafeholdError('INTERNAL', `invalid range: offset ${offset}, length ${length}`);
  }
}

function notFound(h: Handle): SafeholdError {
  return new SafeholdError('NOT_FOUND', `${describe(h)} not found in memory:`);
}

function describe(h: Handle): string {
  return h.type === 'config' ? 'config' : `${h.type}/${h.name}`;
}
