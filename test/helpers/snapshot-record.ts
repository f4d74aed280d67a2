// A snapshot record with every field filled in, for tests that build
// snapshots by hand (retention choices, forged repositories).

import type { Snapshot } from '../../src/repo/snapshot.ts';

/** A files snapshot of /data on host h1, made now, with an empty summary; `over` sets the rest. */
export function snapshotRecord(over: Partial<Snapshot> = {}): Snapshot {
  return {
    version: 1,
    time: new Date().toISOString(),
    tree: 'f'.repeat(64),
    paths: ['/data'],
    hostname: 'h1',
    username: 'u',
    uid: 0,
    gid: 0,
    tags: [],
    excludes: [],
    kind: 'files',
    program: 'test',
    summary: {
      filesNew: 0,
      filesChanged: 0,
      filesUnchanged: 0,
      filesFailed: 0,
      dirs: 0,
      bytesRead: 0,
      bytesAdded: 0,
      totalSize: 0,
      totalFiles: 0,
      durationMs: 0,
    },
    ...over,
  };
}
