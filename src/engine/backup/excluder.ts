// Exclude patterns for backups. A pattern without '/' matches an entry's name
// at any depth ('*.tmp', 'node_modules'); a pattern with '/' matches the
// absolute path ('/home/*/.cache', '/var/**/*.log'). An excluded directory is
// skipped with everything below it.

import path from 'node:path';

export class Excluder {
  private readonly byName: string[];
  private readonly byPath: string[];

  constructor(patterns: string[]) {
    this.byName = patterns.filter((p) => !p.includes('/'));
    this.byPath = patterns
      .filter((p) => p.includes('/'))
      .map((p) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p));
  }

  get empty(): boolean {
    return this.byName.length === 0 && this.byPath.length === 0;
  }

  excludes(absPath: string, name: string, _isDir: boolean): boolean {
    for (const p of this.byName) if (path.matchesGlob(name, p)) return true;
    for (const p of this.byPath) if (path.matchesGlob(absPath, p)) return true;
    return false;
  }
}
