// A copy of the CLI that another user can run, for tests that start
// `./safehold` as `nobody`: the checkout may be out of that user's reach (a
// clone in a private 0700 directory), so what the child loads is copied to a
// new directory under the system's temp directory, readable by everyone: the
// launcher, package.json, src/, the npm packages it needs at run time (the
// lock file's non-dev ones) and the Node binary the tests run on (linked
// instead when every user can already reach it; nodeOthersCanRun alone
// serves a test that starts Node itself as another user).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface ProgramCopy {
  /** The copied launcher: pass it as `program` to runCli / Sandbox.run. */
  program: string;
  dir: string;
  remove(): void;
}

/** The uid and gid of the `nobody` user. */
export function nobodyIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Copies the program to a new directory every user can read and run from; remove() it when done. */
export function copyProgram(): ProgramCopy {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-program-'));
  fs.chmodSync(dir, 0o755);
  try {
    for (const name of ['safehold', 'package.json', 'src']) copyReadable(path.join(ROOT, name), path.join(dir, name));
    for (const pkg of runtimePackages()) {
      mkdirsReadable(dir, path.dirname(pkg));
      copyReadable(path.join(ROOT, pkg), path.join(dir, pkg));
    }
    // The launcher runs .tools/node_modules/node-linux-ARCH/bin/node when there is one.
    const bin = path.join('.tools', 'node_modules', `node-linux-${process.arch}`, 'bin');
    mkdirsReadable(dir, bin);
    const node = nodeOthersCanRun(path.join(dir, bin));
    if (node !== path.join(dir, bin, 'node')) fs.symlinkSync(node, path.join(dir, bin, 'node'));
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { program: path.join(dir, 'safehold'), dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** `node_modules/NAME` of every installed package the program needs at run time (outermost ones; nested ones come along). */
function runtimePackages(): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const keys = Object.entries(lock.packages)
    .filter(([key, p]) => key.startsWith('node_modules/') && !p.dev && fs.existsSync(path.join(ROOT, key)))
    .map(([key]) => key);
  return keys.filter((key) => !keys.some((outer) => key.startsWith(`${outer}/`)));
}

/**
 * The Node binary the tests run on, as a path every user can execute: itself
 * when others can reach it, else a copy named `node` in `dir` (which they must
 * be able to reach).
 */
export function nodeOthersCanRun(dir: string): string {
  if (othersCanRun(process.execPath)) return process.execPath;
  const copy = path.join(dir, 'node');
  fs.copyFileSync(process.execPath, copy);
  fs.chmodSync(copy, 0o755);
  return copy;
}

/** Whether a user with no special rights can execute `file`: every directory above it searchable by others, the file executable by others. */
function othersCanRun(file: string): boolean {
  const real = fs.realpathSync(file);
  if ((fs.statSync(real).mode & 0o001) === 0) return false;
  for (let d = path.dirname(real); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/** Creates `base/rel` level by level, each directory 0755 whatever the umask. */
function mkdirsReadable(base: string, rel: string): void {
  let d = base;
  for (const part of rel.split(path.sep)) {
    d = path.join(d, part);
    if (fs.existsSync(d)) continue;
    fs.mkdirSync(d);
    fs.chmodSync(d, 0o755);
  }
}

/** Copies a file or tree; directories become 0755, files 0644 (0755 when executable), whatever the umask of the checkout. */
function copyReadable(from: string, to: string): void {
  const st = fs.lstatSync(from);
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(from), to);
    return;
  }
  if (st.isDirectory()) {
    fs.mkdirSync(to);
    fs.chmodSync(to, 0o755);
    for (const name of fs.readdirSync(from)) copyReadable(path.join(from, name), path.join(to, name));
    return;
  }
  fs.copyFileSync(from, to);
  fs.chmodSync(to, st.mode & 0o111 ? 0o755 : 0o644);
}
