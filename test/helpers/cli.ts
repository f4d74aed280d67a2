// Helpers for integration tests that drive the real CLI (./safehold) as a
// child process: a temp sandbox (repository, data dir, password), spawning
// the CLI with env/args/stdin, building a sample tree with every kind of
// entry a backup must keep, and comparing two trees entry by entry.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';

export const SAFEHOLD = path.resolve(import.meta.dirname, '..', '..', 'safehold');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document (throws with the output when it is not). */
  json<T = any>(): T;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed (an empty pipe when absent). */
  stdin?: string | Buffer;
  uid?: number;
  gid?: number;
  cwd?: string;
  timeoutMs?: number;
  /** The launcher to run instead of ./safehold (a copy another user can reach: program-copy.ts). */
  program?: string;
}

/** The environment every CLI child gets: nothing of ours leaks in (no SAFEHOLD_* from the caller). */
export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.homedir(),
    LANG: 'C.UTF-8',
  };
  if (process.env.NODE_COMPILE_CACHE) env.NODE_COMPILE_CACHE = process.env.NODE_COMPILE_CACHE;
  return env;
}

/** Runs the CLI with exactly `opts.env` (default: baseEnv()) and resolves when it exits. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.program ?? SAFEHOLD, args, {
      env: opts.env ?? baseEnv(),
      cwd: opts.cwd ?? os.tmpdir(),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.stdin.on('error', () => {}); // the CLI may exit before reading all of stdin
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code,
        signal,
        stdout,
        stderr,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(
              `safehold ${args.join(' ')}: stdout is not one JSON document (exit ${code})\nstdout: ${stdout}\nstderr: ${stderr}`,
            );
          }
        },
      });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

/** A one-line description of a result, for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

export interface Sandbox {
  /** The temp directory holding everything below. */
  dir: string;
  /** Repository directory (not created: run init). */
  repo: string;
  /** Catalog directory (SAFEHOLD_DATA_DIR). */
  data: string;
  password: string;
  /** The env for CLI runs against this sandbox. */
  env: NodeJS.ProcessEnv;
  /** Runs the CLI with the sandbox env plus `opts.env` (a value of undefined removes a variable). */
  run(args: string[], opts?: RunOptions): Promise<CliResult>;
  /** Runs `init` and fails unless it exits 0. */
  init(): Promise<void>;
  cleanup(): void;
}

export function makeSandbox(prefix = 'safehold-cli-'): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const repo = path.join(dir, 'repo');
  const data = path.join(dir, 'data');
  const password = `pw-${crypto.randomBytes(9).toString('hex')}-Zq`;
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    SAFEHOLD_PASSWORD: password,
    SAFEHOLD_REPOSITORY: repo,
    SAFEHOLD_DATA_DIR: data,
  };
  const sb: Sandbox = {
    dir,
    repo,
    data,
    password,
    env,
    run(args, opts = {}) {
      const merged: NodeJS.ProcessEnv = { ...env };
      for (const [k, v] of Object.entries(opts.env ?? {})) {
        if (v === undefined) delete merged[k];
        else merged[k] = v;
      }
      return runCli(args, { ...opts, env: merged });
    },
    async init() {
      const r = await sb.run(['init', '--json']);
      if (r.code !== 0) throw new Error(`init failed: ${show(r)}`);
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return sb;
}

export const ODD_MTIME = new Date('2001-02-03T04:05:06.789Z');
export const SPARSE_SIZE = 8 * 1024 * 1024;
export const SPARSE_TAIL = Buffer.from('the end of a sparse file\n');

/**
 * Builds the sample tree under `root` (created): regular files of various
 * sizes (one of 3 MiB random data), an empty file, an empty directory, nested
 * directories, a relative and an absolute symlink, a hard-linked pair, a
 * sparse file, a 0o751 file and a file with an odd mtime. Returns the
 * relative paths of the regular files (each name of a hard link counts).
 */
export function buildSampleTree(root: string): string[] {
  const p = (...parts: string[]) => path.join(root, ...parts);
  fs.mkdirSync(p('nested', 'a', 'b', 'c'), { recursive: true });
  fs.mkdirSync(p('empty-dir'));
  fs.writeFileSync(p('small.txt'), 'hello, safehold\n');
  fs.writeFileSync(p('medium.bin'), crypto.randomBytes(100 * 1024));
  fs.writeFileSync(p('big.bin'), crypto.randomBytes(3 * 1024 * 1024));
  fs.writeFileSync(p('empty.txt'), '');
  fs.writeFileSync(p('nested', 'a', 'b', 'c', 'deep.txt'), 'deep down\n'.repeat(500));
  fs.writeFileSync(p('nested', 'a', 'sibling.txt'), 'a sibling\n');
  fs.symlinkSync('nested/a/sibling.txt', p('link-rel'));
  fs.symlinkSync(p('small.txt'), p('link-abs'));
  fs.writeFileSync(p('hard1'), crypto.randomBytes(20 * 1024));
  fs.linkSync(p('hard1'), p('hard2'));
  const fd = fs.openSync(p('sparse.img'), 'w');
  fs.ftruncateSync(fd, SPARSE_SIZE);
  fs.writeSync(fd, SPARSE_TAIL, 0, SPARSE_TAIL.length, SPARSE_SIZE - SPARSE_TAIL.length);
  fs.closeSync(fd);
  fs.writeFileSync(p('exec.sh'), '#!/bin/sh\necho hi\n');
  fs.chmodSync(p('exec.sh'), 0o751);
  fs.writeFileSync(p('odd-mtime.txt'), 'from the past\n');
  fs.utimesSync(p('odd-mtime.txt'), ODD_MTIME, ODD_MTIME);
  fs.chmodSync(p('nested', 'a', 'b'), 0o750);
  return [
    'big.bin',
    'empty.txt',
    'exec.sh',
    'hard1',
    'hard2',
    'medium.bin',
    'nested/a/b/c/deep.txt',
    'nested/a/sibling.txt',
    'odd-mtime.txt',
    'small.txt',
    'sparse.img',
  ];
}

/** Every entry below `root` (relative paths, sorted; directories included), without following links. */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      if (fs.lstatSync(path.join(root, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

function fileHash(p: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

function kind(st: fs.BigIntStats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

/**
 * Compares the trees at `a` and `b` (the roots themselves included):
 * entries, type, content, mode, mtime (within a millisecond), symlink target,
 * ownership, and hard-link identity (names sharing an inode in `a` share one
 * in `b` and vice versa). Returns the differences, one line each: [] when equal.
 */
export function compareTrees(a: string, b: string): string[] {
  const diffs: string[] = [];
  const inodesA = new Map<string, string>();
  const inodesB = new Map<string, string>();
  const groupA = new Map<string, string>();
  const groupB = new Map<string, string>();
  const cmp = (rel: string) => {
    const pa = rel ? path.join(a, rel) : a;
    const pb = rel ? path.join(b, rel) : b;
    const name = rel || '.';
    let sa: fs.BigIntStats;
    let sb: fs.BigIntStats;
    try {
      sa = fs.lstatSync(pa, { bigint: true });
    } catch {
      diffs.push(`${name}: missing in ${a}`);
      return;
    }
    try {
      sb = fs.lstatSync(pb, { bigint: true });
    } catch {
      diffs.push(`${name}: missing in ${b}`);
      return;
    }
    const ka = kind(sa);
    const kb = kind(sb);
    if (ka !== kb) {
      diffs.push(`${name}: type ${ka} vs ${kb}`);
      return;
    }
    const mode = (s: fs.BigIntStats) => (s.mode & 0o7777n).toString(8);
    if (ka !== 'symlink' && mode(sa) !== mode(sb)) diffs.push(`${name}: mode ${mode(sa)} vs ${mode(sb)}`);
    if (sa.uid !== sb.uid || sa.gid !== sb.gid) diffs.push(`${name}: owner ${sa.uid}:${sa.gid} vs ${sb.uid}:${sb.gid}`);
    // Within a millisecond: Node sets times from a double (seconds), which keeps about 0.2 µs at
    // today's dates, so flooring both sides to whole milliseconds could differ at a boundary.
    const delta = sa.mtimeNs - sb.mtimeNs;
    if (delta >= 1_000_000n || delta <= -1_000_000n) diffs.push(`${name}: mtime ${sa.mtimeNs} vs ${sb.mtimeNs} (ns)`);
    if (ka === 'file') {
      if (sa.size !== sb.size) diffs.push(`${name}: size ${sa.size} vs ${sb.size}`);
      else if (fileHash(pa) !== fileHash(pb)) diffs.push(`${name}: content differs`);
      if (sa.nlink > 1n || sb.nlink > 1n) {
        const ia = `${sa.dev}:${sa.ino}`;
        const ib = `${sb.dev}:${sb.ino}`;
        if (!inodesA.has(ia)) inodesA.set(ia, name);
        if (!inodesB.has(ib)) inodesB.set(ib, name);
        groupA.set(name, inodesA.get(ia)!);
        groupB.set(name, inodesB.get(ib)!);
      }
    } else if (ka === 'symlink') {
      const ta = fs.readlinkSync(pa);
      const tb = fs.readlinkSync(pb);
      if (ta !== tb) diffs.push(`${name}: symlink target ${ta} vs ${tb}`);
    } else if (ka === 'dir') {
      const na = fs.readdirSync(pa).sort();
      const nb = fs.readdirSync(pb).sort();
      for (const n of nb) if (!na.includes(n)) diffs.push(`${rel ? `${rel}/` : ''}${n}: only in ${b}`);
      for (const n of na) cmp(rel ? `${rel}/${n}` : n);
    }
  };
  cmp('');
  // Hard links: the same names must share an inode on both sides (the order of the walk is the same).
  for (const name of new Set([...groupA.keys(), ...groupB.keys()])) {
    if (groupA.get(name) !== groupB.get(name)) {
      diffs.push(
        `${name}: hard-link group ${groupA.get(name) ?? '(not linked)'} vs ${groupB.get(name) ?? '(not linked)'}`,
      );
    }
  }
  return diffs;
}

/** Where a backed-up absolute path lands under a restore target. */
export function underTarget(target: string, absPath: string): string {
  return path.join(target, absPath);
}
