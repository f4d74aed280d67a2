// The options and progress record of the tar writer (tar-writer.ts), in a
// file of their own so that the writer and its walker (tar-walker.ts) both
// use them without importing each other.

export interface TarProgress {
  /** Files (and hard links, symlinks, fifos, devices) written so far. */
  files: number;
  dirs: number;
  /** File content bytes written (before compression). */
  bytes: number;
  errors: number;
  /** The entry being written. */
  path: string;
}

export interface TarStreamOptions {
  /** Exclude patterns with the archiver's semantics (src/engine/backup/excluder.ts); the given paths themselves are never excluded. */
  excludes?: string[];
  /** zstd level, 1–19 (default 3). */
  level?: number;
  /** Do not descend into directories on another file system than their top-level path. */
  oneFileSystem?: boolean;
  /**
   * A path that could not be archived (left out) or changed size while read
   * (padded or cut, see docs). Without onError the first such problem fails the stream.
   */
  onError?(path: string, err: Error): void;
  /** Called after every entry and every chunk of file content. */
  onProgress?(p: TarProgress): void;
}
