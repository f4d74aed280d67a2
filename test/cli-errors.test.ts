// How the real CLI fails: for each failure the exact exit code, a clear
// message (and with --json exactly one document carrying error.code), and
// that nothing is lost or half-written: no snapshot from a failed backup,
// nothing restored outside the target, the repository still usable.

import { describe, it, before, after } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { makeSandbox, listTree, show, runCli, baseEnv, underTarget } from './helpers/cli.ts';
import type { CliResult, RunOptions, Sandbox } from './helpers/cli.ts';
import { isRoot, mountTmpfsOrSkip } from './helpers/root.ts';
import { copyProgram, nobodyIds } from './helpers/program-copy.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { encodeTree } from '../src/repo/tree.ts';
import type { TreeNode } from '../src/repo/tree.ts';
import { saveSnapshot } from '../src/repo/snapshot.ts';

/**
 * Asserts a failed run: exit code, and the message on stderr as one
 * 'safehold: ...' line without a stack trace; with --json also exactly one
 * JSON document {"error":{"code","message"}} on stdout.
 */
function expectError(r: CliResult, exit: number, code: string, message: RegExp): string {
  assert.equal(r.code, exit, show(r));
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  assert.match(lines[0]!, /^safehold: /);
  assert.match(lines[0]!, message);
  if (r.stdout.trim() === '') return lines[0]!;
  const doc = r.json();
  assert.deepEqual(Object.keys(doc), ['error'], r.stdout);
  assert.equal(doc.error.code, code, r.stdout);
  assert.match(doc.error.message, message);
  assert.equal(`safehold: ${doc.error.message}`, lines[0]);
  return doc.error.message;
}

async function snapshotIds(sb: Sandbox): Promise<string[]> {
  const r = await sb.run(['snapshots', '--json']);
  assert.equal(r.code, 0, show(r));
  return r.json().map((s: { id: string }) => s.id);
}

/** A sandbox with an initialised repository and a small source tree at `<dir>/src`. */
async function repoSandbox(): Promise<Sandbox> {
  const sb = makeSandbox('safehold-errors-');
  await sb.init();
  const src = path.join(sb.dir, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'bravo\n');
  return sb;
}

async function withRepo(fn: (sb: Sandbox, src: string) => Promise<void>): Promise<void> {
  const sb = await repoSandbox();
  try {
    await fn(sb, path.join(sb.dir, 'src'));
  } finally {
    sb.cleanup();
  }
}

/**
 * Run options for a user who cannot read a mode-0 file. Root can read it, so
 * as root that is `nobody`: it is given the sandbox's repository, data
 * directory and a home, and runs a copy of the program it can reach (the
 * checkout may be private). Anyone else already is such a user.
 */
function unprivileged(t: TestContext, sb: Sandbox): RunOptions {
  if (!isRoot) return {};
  const { uid, gid } = nobodyIds();
  fs.chmodSync(sb.dir, 0o755);
  const home = path.join(sb.dir, 'home');
  fs.mkdirSync(home);
  for (const d of [sb.repo, sb.data, home]) execFileSync('chown', ['-R', `${uid}:${gid}`, d]);
  const copy = copyProgram();
  t.after(() => copy.remove());
  return { uid, gid, program: copy.program, env: { HOME: home, NODE_COMPILE_CACHE: path.join(home, 'cache') } };
}

describe('CLI errors: against one repository', () => {
  // These leave the repository as it was (that is part of what they check), so they share one.
  let sb: Sandbox;
  let src: string;
  let first: string;
  before(async () => {
    sb = await repoSandbox();
    src = path.join(sb.dir, 'src');
    const b = await sb.run(['backup', src, '--json']);
    assert.equal(b.code, 0, show(b));
    first = b.json().snapshot;
  });
  after(() => sb.cleanup());

  it('wrong password: exit 12, WRONG_PASSWORD, and a backup with it writes nothing', async () => {
    const before = listTree(sb.repo);
    const env = { SAFEHOLD_PASSWORD: 'not-the-password' };
    expectError(await sb.run(['snapshots'], { env }), 12, 'WRONG_PASSWORD', /wrong password/);
    expectError(await sb.run(['backup', src, '--json'], { env }), 12, 'WRONG_PASSWORD', /wrong password/);
    assert.deepEqual(listTree(sb.repo), before);
    assert.deepEqual(await snapshotIds(sb), [first]);
  });

  it('no password and no TTY: exit 1, NO_PASSWORD; init without one creates nothing', async () => {
    const env = { SAFEHOLD_PASSWORD: undefined };
    expectError(await sb.run(['snapshots', '--json'], { env }), 1, 'NO_PASSWORD', /no password: set SAFEHOLD_PASSWORD/);
    const other = path.join(sb.dir, 'other-repo');
    expectError(
      await sb.run(['init', '--json'], { env: { ...env, SAFEHOLD_REPOSITORY: other } }),
      1,
      'NO_PASSWORD',
      /no password/,
    );
    assert.equal(fs.existsSync(other), false);
  });

  it('init on an existing repository refuses and leaves it working', async () => {
    const config = fs.readFileSync(path.join(sb.repo, 'config'));
    const before = listTree(sb.repo);
    expectError(await sb.run(['init', '--json']), 1, 'REPO_EXISTS', /a repository already exists at/);
    expectError(await sb.run(['init'], { env: { SAFEHOLD_PASSWORD: 'another' } }), 1, 'REPO_EXISTS', /already exists/);
    assert.deepEqual(listTree(sb.repo), before);
    assert.ok(fs.readFileSync(path.join(sb.repo, 'config')).equals(config));
    const c = await sb.run(['check', '--read-data', '--json']);
    assert.equal(c.code, 0, show(c));
    assert.equal(c.json().stats.snapshots, 1);
  });

  it('backup of a path that does not exist: exit 1, PATH_NOT_FOUND, no snapshot written', async () => {
    const missing = path.join(sb.dir, 'no-such-dir');
    const msg = expectError(
      await sb.run(['backup', missing, '--json']),
      1,
      'PATH_NOT_FOUND',
      /cannot back up .*no such file or directory/,
    );
    assert.ok(msg.includes(missing), msg);
    // One missing path among good ones still refuses the whole backup.
    expectError(await sb.run(['backup', src, missing]), 1, 'PATH_NOT_FOUND', /no-such-dir: no such file or directory/);
    assert.deepEqual(await snapshotIds(sb), [first]);
  });

  it('a snapshot id that does not exist: exit 1, NOT_FOUND, nothing restored', async () => {
    const t = path.join(sb.dir, 'target-not-found');
    const absent = first.startsWith('0') ? 'f0f0f0f0' : '0f0f0f0f';
    expectError(
      await sb.run(['restore', absent, '--target', t, '--json']),
      1,
      'NOT_FOUND',
      new RegExp(`no snapshot with id ${absent}`),
    );
    expectError(await sb.run(['ls', 'not-hex']), 1, 'NOT_FOUND', /'not-hex' is not a snapshot id/);
    assert.equal(fs.existsSync(t), false);
  });

  it('a restore target that is an existing file: exit 1, RESTORE_TARGET, the file untouched', async () => {
    const file = path.join(sb.dir, 'target-file');
    fs.writeFileSync(file, 'keep me\n');
    const msg = expectError(
      await sb.run(['restore', 'latest', '--target', file, '--json']),
      1,
      'RESTORE_TARGET',
      /exists and is not a directory/,
    );
    assert.ok(msg.includes(file), msg);
    assert.equal(fs.readFileSync(file, 'utf8'), 'keep me\n');
  });

  it('--json on errors prints exactly one JSON document with error.code', async () => {
    const cases: [string[], NodeJS.ProcessEnv, string][] = [
      [['snapshots', '--json'], { SAFEHOLD_PASSWORD: 'wrong' }, 'WRONG_PASSWORD'],
      [['restore', 'latest', '--target', path.join(sb.dir, 't'), '--json', '--include', '/nope'], {}, 'NOT_FOUND'],
      [['backup', '--json'], {}, 'USAGE'],
      [['ls', '--json', 'latest', '/', 'extra'], {}, 'USAGE'],
      [['snapshots', '--json'], { SAFEHOLD_REPOSITORY: path.join(sb.dir, 'none') }, 'REPO_NOT_FOUND'],
    ];
    for (const [args, env, code] of cases) {
      const r = await sb.run(args, { env });
      assert.notEqual(r.code, 0, show(r));
      assert.ok(r.stdout.startsWith('{') && r.stdout.endsWith('}\n'), r.stdout);
      const doc = r.json();
      assert.deepEqual(Object.keys(doc), ['error'], r.stdout);
      assert.equal(doc.error.code, code, `${args.join(' ')}: ${r.stdout}`);
      assert.equal(typeof doc.error.message, 'string');
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});

describe('CLI errors: without a repository', () => {
  it('missing repository: exit 10, REPO_NOT_FOUND, and nothing is created there', async () => {
    const sb = makeSandbox('safehold-errors-');
    try {
      const msg = expectError(
        await sb.run(['snapshots', '--json']),
        10,
        'REPO_NOT_FOUND',
        /no repository at .*safehold init/,
      );
      assert.ok(msg.includes(sb.repo), msg);
      expectError(await sb.run(['backup', sb.dir]), 10, 'REPO_NOT_FOUND', /no repository at/);
      assert.equal(fs.existsSync(sb.repo), false);
    } finally {
      sb.cleanup();
    }
  });

  it('no repository given: exit 2 (usage)', async () => {
    const sb = makeSandbox('safehold-errors-');
    try {
      const env = { SAFEHOLD_REPOSITORY: undefined };
      expectError(
        await sb.run(['snapshots'], { env }),
        2,
        'USAGE',
        /no repository given: use --repo PATH, set SAFEHOLD_REPOSITORY, or --destination NAME with --config FILE/,
      );
      expectError(await sb.run(['init', '--json'], { env }), 2, 'USAGE', /no repository given/);
    } finally {
      sb.cleanup();
    }
  });

  it('unknown command and unknown option: exit 2 (usage)', async () => {
    const sb = makeSandbox('safehold-errors-');
    try {
      expectError(await sb.run(['frobnicate']), 2, 'USAGE', /unknown command 'frobnicate'/);
      expectError(await sb.run(['frobnicate', '--json']), 2, 'USAGE', /unknown command 'frobnicate'/);
      expectError(
        await sb.run(['snapshots', '--frob']),
        2,
        'USAGE',
        /unknown option '--frob'.*safehold snapshots --help/i,
      );
      expectError(await sb.run(['backup', '--json', '--frob', '/x']), 2, 'USAGE', /unknown option '--frob'/i);
      assert.equal(fs.existsSync(sb.repo), false);
    } finally {
      sb.cleanup();
    }
  });
});

describe('CLI errors: backup', () => {
  it('unreadable files (as nobody when root): exit 3, listed on stderr, snapshot saved, the rest restores', async (ctx) => {
    await withRepo(async (sb, src) => {
      const secret = path.join(src, 'sub', 'secret.txt');
      fs.writeFileSync(secret, 'root only\n');
      fs.chmodSync(secret, 0o000);
      const reader = unprivileged(ctx, sb);

      const r = await sb.run(['backup', src, '--json'], reader);
      assert.equal(r.code, 3, show(r));
      assert.match(r.stderr, new RegExp(`could not read ${secret}: .*permission denied`, 'i'));
      const doc = r.json();
      assert.match(doc.snapshot, /^[0-9a-f]{64}$/);
      assert.deepEqual(
        doc.errors.map((e: { path: string }) => e.path),
        [secret],
      );
      assert.equal(doc.summary.filesFailed, 1);
      assert.equal(doc.summary.filesNew, 2);
      assert.deepEqual(await snapshotIds(sb), [doc.snapshot]);
      const runs = await sb.run(['runs', '--json', '--command', 'backup'], reader);
      assert.equal(runs.code, 0, show(runs));
      assert.deepEqual(
        runs.json().map((x: { status: string; snapshotId: string }) => [x.status, x.snapshotId]),
        [['partial', doc.snapshot]],
      );

      const t = path.join(sb.dir, 'restored');
      const rr = await sb.run(['restore', doc.snapshot, '--target', t]);
      assert.equal(rr.code, 0, show(rr));
      const out = underTarget(t, src);
      assert.deepEqual(listTree(out), ['a.txt', 'sub', 'sub/b.txt']);
      assert.equal(fs.readFileSync(path.join(out, 'a.txt'), 'utf8'), 'alpha\n');
      assert.equal(fs.readFileSync(path.join(out, 'sub', 'b.txt'), 'utf8'), 'bravo\n');
    });
  });

  it('full disk during backup: NO_SPACE, no snapshot, and the repository stays usable', async (t) => {
    await withRepo(async (sb, src) => {
      const mnt = path.join(sb.dir, 'mnt');
      fs.mkdirSync(mnt);
      const unmount = mountTmpfsOrSkip(t, mnt, '3m');
      if (!unmount) return;
      try {
        const env = { SAFEHOLD_REPOSITORY: path.join(mnt, 'repo') };
        const init = await sb.run(['init'], { env });
        assert.equal(init.code, 0, show(init));
        const big = path.join(src, 'big.bin');
        fs.writeFileSync(big, crypto.randomBytes(20 * 1024 * 1024));
        const r = await sb.run(['backup', src, '--json'], { env });
        assert.notEqual(r.code, 0, show(r));
        expectError(r, 1, 'NO_SPACE', /no space left on device/);
        assert.deepEqual(fs.readdirSync(path.join(mnt, 'repo', 'snapshots')), []);
        assert.deepEqual(fs.readdirSync(path.join(mnt, 'repo', 'tmp')), [], 'no temp files left behind');
        assert.deepEqual(fs.readdirSync(path.join(mnt, 'repo', 'locks')), [], 'the lock is released');
        const failed = (await sb.run(['runs', '--json', '--command', 'backup'])).json();
        assert.deepEqual([failed[0].status, failed[0].errorCode], ['failed', 'NO_SPACE']);

        fs.rmSync(big);
        const ok = await sb.run(['backup', src, '--json'], { env });
        assert.equal(ok.code, 0, show(ok));
        assert.equal(ok.json().summary.totalFiles, 2);
        const snaps = await sb.run(['snapshots', '--json'], { env });
        assert.deepEqual(
          snaps.json().map((s: { id: string }) => s.id),
          [ok.json().snapshot],
        );
        const check = await sb.run(['check', '--read-data'], { env });
        assert.equal(check.code, 0, show(check));
        assert.match(check.stdout, /no errors were found/);
      } finally {
        unmount();
      }
    });
  });
});

describe('CLI errors: finding snapshots', () => {
  it('an ambiguous id prefix: exit 1, AMBIGUOUS, naming the candidates', async () => {
    await withRepo(async (sb, src) => {
      // 17 snapshots guarantee two share a first hex digit; it usually takes about 5.
      let shared: string[] | undefined;
      const byDigit = new Map<string, string>();
      for (let i = 0; i < 17 && !shared; i++) {
        fs.writeFileSync(path.join(src, 'a.txt'), `version ${i}\n`);
        const r = await sb.run(['backup', src, '--json']);
        assert.equal(r.code, 0, show(r));
        const id: string = r.json().snapshot;
        const other = byDigit.get(id[0]!);
        if (other) shared = [other, id];
        byDigit.set(id[0]!, id);
      }
      assert.ok(shared);
      const prefix = shared[0]!.slice(0, 1);
      const t = path.join(sb.dir, 'target');
      const msg = expectError(
        await sb.run(['restore', prefix, '--target', t, '--json']),
        1,
        'AMBIGUOUS',
        new RegExp(`snapshot id prefix ${prefix} is ambiguous`),
      );
      for (const id of shared) assert.ok(msg.includes(id.slice(0, 8)), msg);
      expectError(await sb.run(['ls', prefix]), 1, 'AMBIGUOUS', /ambiguous/);
      expectError(await sb.run(['diff', prefix, shared[1]!]), 1, 'AMBIGUOUS', /ambiguous/);
      assert.equal(fs.existsSync(t), false);
      // A longer prefix that is unique works.
      const ls = await sb.run(['ls', shared[1]!.slice(0, 12), '--json']);
      assert.equal(ls.code, 0, show(ls));
    });
  });
});

describe('CLI errors: restore', () => {
  it('a malicious snapshot (names "..", "../escape", "a/b", "/abs"): UNSAFE_PATH, nothing written outside the target', async () => {
    await withRepo(async (sb) => {
      const repo = await Repository.open(new LocalBackend(sb.repo), sb.password);
      await repo.loadIndex();
      const data = (await repo.saveBlob('data', Buffer.from('pwned\n'))).id;
      const ns = (BigInt(Date.now()) * 1_000_000n).toString();
      const node = (name: string, extra: Partial<TreeNode>): TreeNode => ({
        name,
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: ns,
        ctime: ns,
        inode: 1,
        device: 1,
        links: 1,
        size: 6,
        content: [data],
        ...extra,
      });
      const saveTree = async (nodes: TreeNode[]) => (await repo.saveBlob('tree', encodeTree({ nodes }))).id;
      // '..' as a directory holding a file: restored naively it lands next to the target.
      const dotdotSub = await saveTree([node('escaped-via-dotdot', {})]);
      const nestedSub = await saveTree([node('../../escaped-nested', {})]);
      const cases: [string, TreeNode[]][] = [
        ['..', [node('..', { type: 'dir', size: 0, content: undefined, subtree: dotdotSub })]],
        ['../escape', [node('../escape', {})]],
        [
          'a/b',
          [node('a', { type: 'dir', size: 0, content: undefined, subtree: await saveTree([]) }), node('a/b', {})],
        ],
        ['/abs', [node('/abs', {})]],
        ['../../escaped-nested', [node('d', { type: 'dir', size: 0, content: undefined, subtree: nestedSub })]],
      ];
      const snaps: string[] = [];
      for (const [, nodes] of cases) {
        const tree = await saveTree(nodes);
        await repo.flush();
        snaps.push(
          await saveSnapshot(repo, {
            version: 1,
            time: new Date().toISOString(),
            tree,
            paths: ['/x'],
            hostname: 'evil',
            username: 'evil',
            uid: 0,
            gid: 0,
            tags: [],
            excludes: [],
            kind: 'files',
            program: 'evil',
            summary: {
              filesNew: 1,
              filesChanged: 0,
              filesUnchanged: 0,
              filesFailed: 0,
              dirs: 0,
              bytesRead: 6,
              bytesAdded: 6,
              totalSize: 6,
              totalFiles: 1,
              durationMs: 0,
            },
          }),
        );
      }
      for (const [i, [name]] of cases.entries()) {
        const parent = path.join(sb.dir, `case-${i}`);
        const target = path.join(parent, 'target');
        fs.mkdirSync(target, { recursive: true });
        fs.writeFileSync(path.join(parent, 'sentinel'), 'x');
        const before = listTree(parent);
        const msg = expectError(
          await sb.run(['restore', snaps[i]!, '--target', target, '--json']),
          1,
          'UNSAFE_PATH',
          /would escape its directory/,
        );
        assert.ok(msg.includes(JSON.stringify(name)), `${name}: ${msg}`);
        assert.deepEqual(listTree(parent), before, `case ${name}: the target's parent changed`);
        assert.deepEqual(fs.readdirSync(target), [], `case ${name}: something was restored`);
      }
      assert.equal(fs.existsSync('/abs'), false);
    });
  });

  it('a symlink in the target leading outside: UNSAFE_PATH, nothing written through it', async () => {
    await withRepo(async (sb) => {
      const file = ['/usr/bin/env', '/usr/bin/true'].find((f) => fs.existsSync(f))!;
      const b = await sb.run(['backup', file, '--json']);
      assert.equal(b.code, 0, show(b));
      const outside = fs.mkdtempSync('/tmp/outside-');
      try {
        const target = path.join(sb.dir, 'target');
        fs.mkdirSync(target);
        fs.symlinkSync(outside, path.join(target, 'usr'));
        const msg = expectError(
          await sb.run(['restore', b.json().snapshot, '--target', target, '--json']),
          1,
          'UNSAFE_PATH',
          /symlink/,
        );
        assert.ok(msg.includes(path.join(target, 'usr')), msg);
        assert.deepEqual(fs.readdirSync(outside), []);
        assert.equal(fs.readlinkSync(path.join(target, 'usr')), outside);
        assert.deepEqual(fs.readdirSync(target), ['usr']);
      } finally {
        fs.rmSync(outside, { recursive: true, force: true });
      }
    });
  });
});

describe('CLI errors: output hygiene', () => {
  it('no command ever prints the password', async () => {
    await withRepo(async (sb, src) => {
      const newPw = `fresh-${crypto.randomBytes(8).toString('hex')}`;
      const pwFile = path.join(sb.dir, 'pw');
      fs.writeFileSync(pwFile, `${sb.password}\n`);
      const results: CliResult[] = [];
      const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
        results.push(await sb.run(args, { env }));
      };
      await run(['backup', src, '--json']);
      await run(['snapshots', '--password-file', pwFile], { SAFEHOLD_PASSWORD: undefined });
      await run(['ls', 'latest', '--long']);
      await run(['snapshots'], { SAFEHOLD_PASSWORD: `${sb.password}x` });
      await run(['restore', 'latest', '--target', path.join(sb.dir, 't'), '--json']);
      await run(['key', 'passwd', '--json'], { SAFEHOLD_NEW_PASSWORD: newPw });
      await run(['runs', '--json']);
      await run(['runs']);
      await run(['unknown', '--json']);
      // With SAFEHOLD_DEBUG a stack trace is printed too (the old password is now wrong).
      results.push(
        await runCli(['snapshots'], {
          env: { ...baseEnv(), SAFEHOLD_REPOSITORY: sb.repo, SAFEHOLD_PASSWORD: sb.password, SAFEHOLD_DEBUG: '1' },
        }),
      );
      assert.deepEqual(
        results.map((r) => r.code),
        [0, 0, 0, 12, 0, 0, 0, 0, 2, 12],
        results.map(show).join('\n'),
      );
      assert.match(results.at(-1)!.stderr, /\n\s+at /);
      for (const r of results) {
        for (const pw of [sb.password, newPw]) {
          assert.ok(!r.stdout.includes(pw) && !r.stderr.includes(pw), `password printed:\n${show(r)}`);
        }
      }
      // Nor is it stored in the catalog.
      for (const f of fs.readdirSync(sb.data)) {
        const bytes = fs.readFileSync(path.join(sb.data, f));
        assert.ok(!bytes.includes(sb.password) && !bytes.includes(newPw), `password in ${f}`);
      }
    });
  });
});

describe('a reader that goes away', () => {
  it('`safehold ls latest | head -1` on a long listing: exit 0, no EPIPE stack trace', async () => {
    await withRepo(async (sb, src) => {
      for (let i = 0; i < 2000; i++)
        fs.writeFileSync(path.join(src, `a-rather-long-file-name-to-make-the-listing-big-${i}.txt`), '');
      assert.equal((await sb.run(['backup', src])).code, 0);
      const r = execFileSync(
        'bash',
        [
          '-c',
          `set -o pipefail; ${JSON.stringify(path.resolve(import.meta.dirname, '..', 'safehold'))} ls latest | head -1; echo "exit $?"`,
        ],
        {
          env: sb.env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      assert.match(r, /\nexit 0\n$/, r);
    });
  });
});
