// User and group names for tar headers: uid/gid → name from /etc/passwd and
// /etc/group, each read once (when first needed) per archive.

import * as fs from 'node:fs';

export class IdNames {
  private users: Map<number, string> | undefined;
  private groups: Map<number, string> | undefined;

  user(uid: number): string {
    this.users ??= readIdFile('/etc/passwd');
    return this.users.get(uid) ?? '';
  }

  group(gid: number): string {
    this.groups ??= readIdFile('/etc/group');
    return this.groups.get(gid) ?? '';
  }
}

function readIdFile(file: string): Map<number, string> {
  const m = new Map<number, string>();
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return m; // no names: numeric ids only
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (name && id !== undefined && Number.isInteger(n) && !m.has(n)) m.set(n, name);
  }
  return m;
}
