// A backend only stores named blobs ("files") of a few types. It knows nothing
// of encryption, packs or snapshots: the repository format sits above it.
// Every backend passes the shared conformance suite in conformance.ts.

export type FileType = 'config' | 'keys' | 'data' | 'index' | 'snapshots' | 'locks';

export const FILE_TYPES: readonly FileType[] = ['config', 'keys', 'data', 'index', 'snapshots', 'locks'];

/** Names a stored file. For type 'config' the name is ignored (there is one config). */
export interface Handle {
  type: FileType;
  name: string;
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
