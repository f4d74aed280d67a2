// A backend only stores named blobs ("files") of a few types. It knows nothing
// of encryption, packs or snapshots: the repository format sits above it.
// Every backend passes the shared conformance suite in conformance.ts.

import { mapLimit } from '../../core/concurrency.ts';

/**
 * `wal`: archived PostgreSQL WAL files (src/repo/wal-file.ts), one stored file
 * per WAL file, under a plain name (`<system id>-<WAL file name>`), not a hash.
 */
export type FileType = 'config' | 'keys' | 'data' | 'index' | 'snapshots' | 'locks' | 'wal';

export const FILE_TYPES: readonly FileType[] = ['config', 'keys', 'data', 'index', 'snapshots', 'locks', 'wal'];

/** Names a stored file. For type 'config' the name is ignored (there is one config). */
export interface Handle {
  type: FileType;
  name: string;
  /**
   * A hint, not part of the name: this data file (pack) holds tree blobs, i.e.
   * metadata that the local cache keeps (cached-backend.ts). Backends ignore it.
   */
  metadata?: boolean;
}

export interface FileInfo {
  name: string;
  size: number;
}

export interface Backend {
  /** Where this backend stores, for messages (never contains credentials). */
  readonly location: string;

  /**
   * Stores `data` under `h`, replacing any file of that name. Atomic: readers
   * see the whole old file, the whole new one, or none, never a partial one,
   * even if the process is killed mid-write (no partial file is ever visible
   * under a final name); durable (fsync) when the promise resolves. A full
   * disk fails with SafeholdError code 'NO_SPACE' and leaves nothing behind.
   */
  save(h: Handle, data: Uint8Array): Promise<void>;

  /**
   * Like save, but only creates: when a file of that name exists it fails with
   * SafeholdError code 'ALREADY_EXISTS' and leaves that file untouched. Atomic
   * where the store allows (link(2) of a finished temp file, a conditional
   * PUT): of concurrent saveNew calls for one name exactly one wins. Optional:
   * the repository falls back to save where a backend lacks it.
   */
  saveNew?(h: Handle, data: Uint8Array): Promise<void>;

  /**
   * Reads `length` bytes from `offset` (whole file when length is undefined).
   * A missing file fails with SafeholdError code 'NOT_FOUND'; a range past
   * the end fails with code 'CORRUPT'.
   */
  load(h: Handle, offset?: number, length?: number): Promise<Buffer>;

  /** Size of a stored file; missing → SafeholdError 'NOT_FOUND'. */
  stat(h: Handle): Promise<FileInfo>;

  /** Every stored file of a type (unordered). For 'config', zero or one entry named 'config'. */
  list(type: FileType): Promise<FileInfo[]>;

  /** Removes a file; removing a missing file is not an error. */
  remove(h: Handle): Promise<void>;

  /**
   * Removes many files, as remove does each (a missing one is not an error),
   * in fewer requests where the store allows (S3's DeleteObjects). When it
   * fails, some of the files may be removed and others not. Optional: callers
   * go through removeFiles, which falls back to parallel removes.
   */
  removeMany?(hs: readonly Handle[]): Promise<void>;

  /** True when the backend has been initialised (a config file exists). */
  exists(): Promise<boolean>;

  /** Creates the backend's structure (directories) for a new repository; fails if a config exists. */
  create(): Promise<void>;

  /**
   * Removes leftovers of interrupted writes (e.g. temporary files of a killed
   * process) older than `olderThanMs`; returns how many. Optional: backends
   * whose writes leave nothing behind need not have it.
   */
  cleanTmp?(olderThanMs: number, now: number): Promise<number>;

  /** Releases resources. */
  close(): Promise<void>;
}

/** Removes running at once where a backend has no removeMany. */
export const REMOVE_CONCURRENCY = 8;

/**
 * Removes files: through removeMany where the backend has it, else with at
 * most `concurrency` removes in flight. A missing file is not an error.
 */
export async function removeFiles(
  b: Backend,
  hs: readonly Handle[],
  concurrency: number = REMOVE_CONCURRENCY,
): Promise<void> {
  if (hs.length === 0) return;
  if (b.removeMany) await b.removeMany(hs);
  else await mapLimit(hs, Math.max(1, concurrency), (h) => b.remove(h));
}

/**
 * Creates a file that must not replace another: saveNew where the backend has
 * it (ALREADY_EXISTS when the name is taken), else save.
 */
export async function createFile(b: Backend, h: Handle, data: Uint8Array): Promise<void> {
  if (b.saveNew) await b.saveNew(h, data);
  else await b.save(h, data);
}
