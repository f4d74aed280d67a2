// forget and prune through the real CLI: a keep policy per group with
// --prune (JSON shape, what remains, check, byte-identical restores), ids
// and dry runs, the exclusive lock (exit 11), bad flags (exit 2), and crash
// safety: `safehold prune` killed with SIGKILL at each of its steps (held
// there by SAFEHOLD_TEST_PRUNE_PAUSE) leaves a repository that
// `check --read-data` passes, and a second prune finishes the job.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { RepoLock } from '../src/repo/lock.ts';
import { backup } from '../src/engine/backup/archiver.ts';
import { forget } from '../src/engine/maintenance/forget.ts';
import { restore } from '../src/engine/restore/restorer.ts';
import { makeSandbox, show } from './helpers/cli.ts';
import type { CliResult, Sandbox } from './helpers/cli.ts';
import { describeExit, jsonOf, runCli, startCli } from './helpers/spawn.ts';
import { compareFiles, randomBytes } from './helpers/data.ts';

const KDF = { N: 1024, r: 8, p: 1 };
const CHUNKER = { minSize: 8 * 1024, avgSize: 16 * 1024, maxSize: 64 * 1024 };
const PACK_SIZE = 128 * 1024;
const PASSWORD = 'cli prune test';

interface Snap {
  id: string;
  tree: string;
  expected: string;
}

/** Four snapshots of a changing directory (the last one tagged weekly), built once. */
interface Base {
  dir: string;
  src: string;
  repo: string;
  snaps: Snap[];
}

async function buildBase(): Promise<Base> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cli-prune-'));
  const src = path.join(dir, 'src');
  const repoDir = path.join(dir, 'repo');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  const repo = await Repository.init(new LocalBackend(repoDir), PASSWORD, {
    kdf: KDF,
    chunker: CHUNKER,
    packSize: PACK_SIZE,
  });
  const snaps: Snap[] = [];
  const snapshot = async (tags: string[] = []) => {
    const r = await backup(repo, { paths: [src], tags });
    const expected = path.join(dir, `expected-${snaps.length + 1}`);
    fs.cpSync(src, expected, { recursive: true });
    snaps.push({ id: r.id, tree: r.snapshot.tree, expected });
  };
  const w = (rel: string, data: Buffer) => fs.writeFileSync(path.join(src, rel), data);
  w('a.bin', randomBytes('a1', 300_000));
  w('b.bin', randomBytes('b1', 200_000));
  w('sub/c.bin', randomBytes('c1', 150_000));
  await snapshot();
  w('b.bin', randomBytes('b2', 210_000));
  await snapshot();
  const a = fs.readFileSync(path.join(src, 'a.bin'));
  randomBytes('a3', 50_000).copy(a, 100_000);
  w('a.bin', a);
  w('d.bin', randomBytes('d3', 120_000));
  await snapshot();
  w('b.bin', randomBytes('b4', 190_000));
  fs.rmSync(path.join(src, 'sub', 'c.bin'));
  await snapshot(['weekly']);
  return { dir, src, repo: repoDir, snaps };
}

let base: Base;
before(async () => {
  base = await buildBase();
});
after(() => fs.rmSync(base.dir, { recursive: true, force: true }));

/** A sandbox whose repository is a copy of the base one. */
function sandbox(t: { after: (fn: () => void) => void }): Sandbox {
  const sb = makeSandbox('safehold-cli-prune-');
  t.after(() => sb.cleanup());
  fs.cpSync(base.repo, sb.repo, { recursive: true });
  sb.env.SAFEHOLD_PASSWORD = PASSWORD;
  return sb;
}

function snapshotFiles(sb: Sandbox): string[] {
  return fs.readdirSync(path.join(sb.repo, 'snapshots')).sort();
}

function repoFiles(repoDir: string): string[] {
  return (fs.readdirSync(repoDir, { recursive: true }) as string[])
    .filter((p) => !p.startsWith('locks') && !p.startsWith('tmp'))
    .sort();
}

async function assertRestores(repoDir: string, snaps: Snap[], scratch: string): Promise<void> {
  const repo = await Repository.open(new LocalBackend(repoDir), PASSWORD);
  for (const s of snaps) {
    const target = fs.mkdtempSync(path.join(scratch, 'restore-'));
    const r = await restore(repo, s.tree, { target });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      compareFiles(s.expected, path.join(target, base.src)),
      [],
      `snapshot ${s.id.slice(0, 8)} restores byte for byte`,
    );
  }
}

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, show(r));
  return r;
}

describe('safehold forget and prune', { concurrency: 3 }, () => {
  it('forget --keep-last --prune: per-group decisions with reasons, data freed, check passes, kept snapshots restore', async (t) => {
    const sb = sandbox(t);
    const [s1, s2, s3, s4] = base.snaps.map((s) => s.id) as [string, string, string, string];
    const before = repoFiles(sb.repo);
    const doc = ok(await sb.run(['forget', '--keep-last', '2', '--prune', '--max-unused', '0', '--json'])).json();
    assert.equal(doc.dryRun, false);
    assert.deepEqual(
      doc.groups.map((g: any) => [
        g.group.tags,
        g.keep.map((k: any) => [k.id, k.reasons]),
        g.remove.map((s: any) => s.id),
      ]),
      [
        [['weekly'], [[s4, ['last']]], []],
        [
          [],
          [
            [s3, ['last']],
            [s2, ['last']],
          ],
          [s1],
        ],
      ],
    );
    assert.deepEqual(doc.groups[1].group, { host: os.hostname(), paths: [base.src], tags: [] });
    assert.deepEqual(Object.keys(doc.groups[1].keep[0]).sort(), ['hostname', 'id', 'paths', 'reasons', 'tags', 'time']);
    assert.deepEqual([doc.selected, doc.removed], [[s1], [s1]]);
    const p = doc.prune;
    assert.equal(p.dryRun, false);
    assert.equal(p.snapshots, 3);
    assert.ok(
      p.bytes.after < p.bytes.before && p.bytes.removed === p.bytes.before - p.bytes.after,
      JSON.stringify(p.bytes),
    );
    assert.ok(p.blobs.removed > 0);
    assert.equal(p.bytes.unusedAfter, 0);
    assert.notDeepEqual(repoFiles(sb.repo), before);
    const listed = ok(await sb.run(['snapshots', '--json'])).json();
    assert.deepEqual(listed.map((s: any) => s.id).sort(), [s2, s3, s4].sort());
    const c = ok(await sb.run(['check', '--read-data', '--json'])).json();
    assert.deepEqual([c.ok, c.errors, c.warnings], [true, [], []]);
    for (const s of base.snaps.slice(1)) {
      const target = path.join(sb.dir, `restore-${s.id.slice(0, 8)}`);
      ok(await sb.run(['restore', s.id.slice(0, 10), '--target', target, '--json']));
      assert.deepEqual(compareFiles(s.expected, path.join(target, base.src)), []);
    }
    const again = ok(await sb.run(['prune', '--json'])).json();
    assert.deepEqual(
      [again.packs.deleted, again.packs.repacked, again.bytes.removed],
      [0, 0, 0],
      'a second prune has nothing to do',
    );
  });

  it('human output names groups, decisions and what prune did', async (t) => {
    const sb = sandbox(t);
    const r = ok(await sb.run(['forget', '--keep-daily', '1', '--prune']));
    assert.match(r.stdout, /snapshots of host .+, paths .+, tags weekly:/);
    assert.match(r.stdout, new RegExp(`${base.snaps[2]!.id.slice(0, 8)} .* keep \\(daily\\)`));
    assert.match(r.stdout, new RegExp(`${base.snaps[0]!.id.slice(0, 8)} .* remove`));
    assert.match(r.stdout, /removed 2 snapshots/);
    assert.match(r.stdout, /^Packs: .* before: .* kept, .* deleted/m);
  });

  it('--dry-run, --group-by and --tag select without changing anything', async (t) => {
    const sb = sandbox(t);
    const files = repoFiles(sb.repo);
    const all = ok(
      await sb.run(['forget', '--keep-last', '1', '--group-by', '', '--dry-run', '--prune', '--json']),
    ).json();
    assert.deepEqual(
      all.groups.map((g: any) => g.group),
      [{}],
    );
    assert.deepEqual(
      all.selected.sort(),
      base.snaps
        .slice(0, 3)
        .map((s) => s.id)
        .sort(),
    );
    assert.deepEqual(all.removed, []);
    assert.equal(all.prune.dryRun, true);
    assert.equal(all.prune.snapshots, 1, 'the dry-run prune counts the selected snapshots as gone');
    assert.ok(all.prune.bytes.removed > 0);
    const tagged = ok(await sb.run(['forget', '--keep-last', '1', '--tag', 'weekly', '--dry-run', '--json'])).json();
    assert.deepEqual(
      tagged.groups.map((g: any) => g.keep.map((k: any) => k.id)),
      [[base.snaps[3]!.id]],
    );
    assert.deepEqual(tagged.selected, []);
    const byHost = ok(
      await sb.run(['forget', '--keep-within', '1h', '--group-by', 'host', '--dry-run', '--json']),
    ).json();
    assert.deepEqual(
      byHost.groups.map((g: any) => [g.group, g.keep.length, g.keep[0].reasons]),
      [[{ host: os.hostname() }, 4, ['within']]],
    );
    const pr = ok(await sb.run(['prune', '--dry-run', '--json'])).json();
    assert.deepEqual([pr.dryRun, pr.packs.deleted, pr.packs.repacked], [true, 0, 0]);
    assert.deepEqual(repoFiles(sb.repo), files);
  });

  it('forget by id (a unique prefix), then prune; an unknown id fails', async (t) => {
    const sb = sandbox(t);
    const s1 = base.snaps[0]!.id;
    const doc = ok(await sb.run(['forget', s1.slice(0, 10), '--json'])).json();
    assert.deepEqual([doc.groups, doc.selected, doc.removed, doc.prune], [[], [s1], [s1], null]);
    assert.ok(!snapshotFiles(sb).includes(s1));
    const p = ok(await sb.run(['prune', '--max-unused', '0%', '--json'])).json();
    assert.ok(p.packs.deleted + p.packs.repacked > 0);
    ok(await sb.run(['check', '--read-data']));
    const missing = await sb.run(['forget', 'ffffffff', '--json']);
    assert.equal(missing.code, 1, show(missing));
    assert.equal(missing.json().error.code, 'NOT_FOUND');
  });

  it('exits 11 while another process uses the repository', async (t) => {
    const sb = sandbox(t);
    const repo = await Repository.open(new LocalBackend(sb.repo), PASSWORD);
    const lock = await RepoLock.acquire(repo, false);
    t.after(() => lock.release());
    const files = repoFiles(sb.repo);
    for (const args of [['prune'], ['forget', '--keep-last', '1', '--prune'], ['forget', base.snaps[0]!.id]]) {
      const r = await sb.run([...args, '--json']);
      assert.equal(r.code, 11, show(r));
      assert.equal(r.json().error.code, 'LOCKED');
      assert.match(r.stderr, new RegExp(`locked by pid ${process.pid}`));
    }
    assert.deepEqual(repoFiles(sb.repo), files);
  });

  it('bad flags exit 2 with a message, before touching the repository', async (t) => {
    const sb = sandbox(t);
    const cases: [string[], RegExp][] = [
      [['forget'], /nothing to forget: give snapshot ids or a --keep-\* policy/],
      [['forget', '--keep-daily', 'seven'], /--keep-daily needs a whole number of snapshots \(got 'seven'\)/],
      [['forget', '--keep-last=-1'], /--keep-last needs a whole number of snapshots \(got '-1'\)/],
      [['forget', '--keep-within', '7 days'], /--keep-within needs a duration such as 7d, 12h or 1h30m/],
      [['forget', '--keep-last', '0'], /this policy keeps every snapshot/],
      [['forget', 'abcd', '--keep-last', '1'], /snapshot ids or a --keep-\* policy, not both/],
      [['forget', 'abcd', '--tag', 'x'], /--group-by and --tag select snapshots for a --keep-\* policy/],
      [
        ['forget', '--keep-last', '1', '--group-by', 'host,hosts'],
        /--group-by: 'hosts' is not one of host, paths, tags/,
      ],
      [['forget', '--keep-last', '1', '--max-unused', '10%'], /--max-unused goes with --prune/],
      [['forget', '--keep-lats', '1'], /Unknown option '--keep-lats'/],
      [['prune', '--max-unused', '150%'], /--max-unused needs a percentage from 0% to 100% \(got '150%'\)/],
      [['prune', 'now'], /prune takes no arguments/],
    ];
    await Promise.all(
      cases.map(async ([args, re]) => {
        const r = await sb.run([...args, '--json'], { env: { SAFEHOLD_PASSWORD: undefined } });
        assert.equal(r.code, 2, `${args.join(' ')}: ${show(r)}`);
        assert.equal(r.json().error.code, 'USAGE');
        assert.match(r.stderr, re, args.join(' '));
      }),
    );
  });
});

describe('safehold prune killed at each step', { concurrency: 3 }, () => {
  const steps = ['repack', 'write-index', 'delete-index', 'delete-packs', 'delete-packs-half'];
  let prepared: string;
  before(async () => {
    // The two older snapshots forgotten: packs both wholly and partly unused.
    prepared = path.join(base.dir, 'forgotten');
    fs.cpSync(base.repo, prepared, { recursive: true });
    const repo = await Repository.open(new LocalBackend(prepared), PASSWORD);
    const lock = await RepoLock.acquire(repo, true);
    await forget(repo, [base.snaps[0]!.id, base.snaps[1]!.id]);
    await lock.release();
  });

  for (const step of steps) {
    it(`SIGKILL before ${step}: check --read-data passes, a second prune finishes, snapshots restore`, async (t) => {
      const sb = makeSandbox('safehold-prune-kill-');
      t.after(() => sb.cleanup());
      fs.cpSync(prepared, sb.repo, { recursive: true });
      const env = { ...sb.env, SAFEHOLD_PASSWORD: PASSWORD };
      const run = startCli(['prune', '--max-unused', '0'], { ...env, SAFEHOLD_TEST_PRUNE_PAUSE: step });
      const paused = await new Promise<boolean>((resolve) => {
        let err = '';
        run.child.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes(`paused before ${step}`)) resolve(true);
        });
        void run.done.then(() => resolve(false));
      });
      run.child.kill('SIGKILL');
      const killed = await run.done;
      assert.ok(paused, `prune reached ${step}\n${describeExit(killed)}`);
      assert.equal(killed.signal, 'SIGKILL');

      const check1 = await runCli(['check', '--read-data', '--json'], env);
      assert.equal(check1.code, 0, `after the kill: ${describeExit(check1)}`);
      for (const w of jsonOf(check1).warnings)
        assert.match(`${w.object}: ${w.message}`, /^pack [0-9a-f]{12}: not in any index/);
      await assertRestores(sb.repo, base.snaps.slice(2), sb.dir);

      const second = await runCli(['prune', '--max-unused', '0', '--json'], env);
      assert.equal(second.code, 0, describeExit(second));
      assert.equal(jsonOf(second).bytes.unusedAfter, 0);
      const check2 = await runCli(['check', '--read-data', '--json'], env);
      assert.equal(check2.code, 0, describeExit(check2));
      assert.deepEqual(jsonOf(check2).warnings, [], 'nothing left over');
      await assertRestores(sb.repo, base.snaps.slice(2), sb.dir);
    });
  }
});
