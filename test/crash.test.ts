// Crash safety of backup, against the real CLI: a backup killed with SIGKILL
// at any moment (start-up, reading, writing packs, writing the index or the
// snapshot) must never damage the repository. Each kill is followed by
// `check --read-data`, which must pass (packs no index names are only
// warnings); the dataset changes now and then; at the end an uninterrupted
// backup restores byte for byte. The repository is created with 2 MiB packs
// so that every backup writes many packs and kills land between pack writes.
// The same against S3 object storage (radosgw), prunes included, is
// test/crash-s3.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { listLocks } from '../src/repo/lock.ts';
import { cliEnv, describeExit, jsonOf, runCli, startCli } from './helpers/spawn.ts';
import type { Exit } from './helpers/spawn.ts';
import { compareFiles, listFiles, makeDataset, prng, randomBytes } from './helpers/data.ts';

const PASSWORD = 'crash test password';
const PACK_SIZE = 2 * 1024 * 1024;
const KILLS = 20;
const SEED = Number(process.env.SAFEHOLD_CRASH_SEED ?? Date.now() % 1_000_000);
/** Expected duration (ms) of an uninterrupted backup of each kind, refined as backups complete. */
const estimate = { full: 0, big: 0, small: 0 };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function newRepo(dir: string): Promise<void> {
  const repo = await Repository.init(new LocalBackend(dir), PASSWORD, {
    packSize: PACK_SIZE,
    kdf: { N: 1024, r: 8, p: 1 },
  });
  await repo.close();
}

test('backups killed at random moments never damage the repository', { timeout: 400_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-crash-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.diagnostic(`seed ${SEED} (set SAFEHOLD_CRASH_SEED to repeat)`);
  const rnd = prng(SEED);
  const data = path.join(dir, 'dataset');
  makeDataset(data, {
    seed: SEED,
    small: 1460,
    smallMax: 12 * 1024,
    medium: 30,
    mediumMin: 256 * 1024,
    mediumMax: 1024 * 1024,
    large: [10 * 1024 * 1024],
    textShare: 0.2,
  });
  const files = listFiles(data);
  const totalBytes = files.reduce((n, f) => n + fs.statSync(path.join(data, f)).size, 0);
  t.diagnostic(`dataset: ${files.length} files, ${(totalBytes / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(files.length >= 1400 && totalBytes > 30 * 2 ** 20);

  let generation = 0;
  /** Changes the dataset: rewrites, adds and removes a few small files and rewrites a medium one; 'big' also changes the 10 MiB file. */
  const mutate = (kind: 'small' | 'big') => {
    generation++;
    const current = listFiles(data);
    const pick = (list: string[]) => list[Math.floor(rnd() * list.length)]!;
    const small = current.filter((f) => f.includes('small-'));
    for (let i = 0; i < 5; i++) {
      const f = pick(small);
      fs.writeFileSync(
        path.join(data, f),
        randomBytes(`gen${generation}/${f}/${i}`, 1 + Math.floor(rnd() * 12 * 1024)),
      );
    }
    fs.rmSync(path.join(data, pick(small)));
    fs.writeFileSync(
      path.join(data, `d${generation % 7}`, `added-${generation}.bin`),
      randomBytes(`gen${generation}/added`, 5000),
    );
    const medium = pick(current.filter((f) => f.startsWith('medium/')));
    fs.writeFileSync(path.join(data, medium), randomBytes(`gen${generation}/${medium}`, 512 * 1024));
    if (kind === 'big') {
      // 2 MiB overwritten in place: the whole 10 MiB file is read again, a few MiB are new.
      const fd = fs.openSync(path.join(data, 'large-0.bin'), 'r+');
      fs.writeSync(
        fd,
        randomBytes(`gen${generation}/large`, 2 * 1024 * 1024),
        0,
        2 * 1024 * 1024,
        Math.floor(rnd() * 8 * 1024 * 1024),
      );
      fs.closeSync(fd);
    }
  };

  // Duration of an uninterrupted full backup, on a scratch repository (after a
  // tiny warm-up backup, so that start-up costs are those of later runs).
  const scratch = cliEnv(path.join(dir, 'scratch-repo'), PASSWORD, path.join(dir, 'scratch-catalog'));
  await newRepo(scratch.SAFEHOLD_REPOSITORY!);
  const tiny = path.join(dir, 'tiny');
  makeDataset(tiny, {
    seed: 1,
    small: 20,
    smallMax: 1000,
    medium: 0,
    mediumMin: 0,
    mediumMax: 0,
    large: [],
    textShare: 0.5,
  });
  for (const p of [tiny, data]) {
    const r = await runCli(['backup', p, '--json'], scratch);
    assert.equal(r.code, 0, describeExit(r));
    if (p === data) t.diagnostic(`uninterrupted full backup: ${Math.round(r.ms)} ms`);
    else t.diagnostic(`warm-up backup: ${Math.round(r.ms)} ms`);
    estimate.full = r.ms;
  }
  fs.rmSync(scratch.SAFEHOLD_REPOSITORY!, { recursive: true, force: true });
  // Incremental backups are estimated from the full one until one has been seen to complete.
  estimate.big = estimate.full * 0.8;
  estimate.small = estimate.full * 0.4;

  // Kill points spread evenly over each backup's expected duration (stratified,
  // shuffled). Two iterations are not killed, so that later backups are
  // incremental ones (with a parent); any backup that completes refines the
  // estimate of its kind's duration.
  const fractions = Array.from({ length: KILLS }, (_, k) => 0.02 + (0.93 * (k + rnd())) / KILLS);
  for (let i = fractions.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [fractions[i], fractions[j]] = [fractions[j]!, fractions[i]!];
  }
  const schedule: (number | null)[] = [...fractions];
  schedule.splice(5, 0, null);
  schedule.splice(13, 0, null);

  const env = cliEnv(path.join(dir, 'repo'), PASSWORD, path.join(dir, 'catalog'));
  await newRepo(env.SAFEHOLD_REPOSITORY!);
  const snapshotsDir = path.join(env.SAFEHOLD_REPOSITORY!, 'snapshots');
  let killed = 0;
  const killedPids = new Set<number>();
  let completedEarly = 0;
  let warned = 0;
  for (const [i, frac] of schedule.entries()) {
    let kind: 'full' | 'big' | 'small' = 'full';
    if (fs.readdirSync(snapshotsDir).length > 0) {
      kind = i % 3 === 0 ? 'big' : 'small';
      mutate(kind);
    } else if (i % 4 === 3) {
      mutate('small');
    }
    const run = startCli(['backup', data, '--json'], env);
    killedPids.add(run.child.pid!);
    const delay = frac === null ? null : Math.round(frac * estimate[kind]);
    const timer = delay === null ? undefined : setTimeout(() => run.child.kill('SIGKILL'), delay);
    const r: Exit = await run.done;
    clearTimeout(timer);
    if (r.signal === 'SIGKILL') killed++;
    else {
      killedPids.delete(run.child.pid!);
      assert.equal(r.code, 0, `iteration ${i}: the backup failed on its own\n${describeExit(r)}`);
      estimate[kind] = r.ms;
      if (delay !== null) completedEarly++;
    }
    const c = await runCli(['check', '--read-data', '--json'], env);
    const res = jsonOf<{
      ok: boolean;
      errors: { object: string; message: string }[];
      warnings: { object: string; message: string }[];
      stats: { packs: number };
    }>(c);
    t.diagnostic(
      `#${i} ${kind} backup, kill at ${delay ?? '-'} ms: ${r.signal ?? `exit ${r.code}`} after ${Math.round(r.ms)} ms; check exit ${c.code} in ${Math.round(c.ms)} ms, ${res.stats.packs} packs, ${res.warnings.length} warnings`,
    );
    assert.equal(
      c.code,
      0,
      `iteration ${i} (${kind} backup killed at ${delay} ms): check --read-data failed after the crash\n${describeExit(c)}`,
    );
    assert.equal(res.ok, true);
    assert.deepEqual(res.errors, []);
    for (const w of res.warnings) assert.match(`${w.object}: ${w.message}`, /^pack [0-9a-f]{12}: not in any index/);
    warned += res.warnings.length > 0 ? 1 : 0;
  }
  // On a loaded machine the timed kills may all miss the moments packs are written: then kill
  // further backups as soon as a new pack file appears (before the index names it).
  for (let extra = 0; warned === 0 && extra < 8; extra++) {
    mutate('big');
    const packs = () => fs.readdirSync(path.join(env.SAFEHOLD_REPOSITORY!, 'data'), { recursive: true }).length;
    const before = packs();
    const run = startCli(['backup', data, '--json'], env);
    killedPids.add(run.child.pid!);
    const poll = setInterval(() => {
      if (packs() > before) run.child.kill('SIGKILL');
    }, 1);
    const r = await run.done;
    clearInterval(poll);
    if (r.signal !== 'SIGKILL') killedPids.delete(run.child.pid!);
    const c = await runCli(['check', '--read-data', '--json'], env);
    const res = jsonOf<{ ok: boolean; errors: unknown[]; warnings: { object: string; message: string }[] }>(c);
    t.diagnostic(
      `extra big backup killed when a pack appeared: ${r.signal ?? `exit ${r.code}`}; check exit ${c.code}, ${res.warnings.length} warnings`,
    );
    assert.equal(c.code, 0, describeExit(c));
    assert.deepEqual(res.errors, []);
    for (const w of res.warnings) assert.match(`${w.object}: ${w.message}`, /^pack [0-9a-f]{12}: not in any index/);
    warned += res.warnings.length > 0 ? 1 : 0;
  }
  t.diagnostic(`${killed} of ${KILLS} backups killed mid-run (${completedEarly} finished before their kill time)`);
  // Sanity of the test itself: most kill times fell inside a running backup, and some hit while packs were written.
  assert.ok(killed >= KILLS * 0.7, `only ${killed} of ${KILLS} backups were killed mid-run`);
  assert.ok(warned > 0, 'no kill left unindexed packs: none hit while packs were being written');

  // Killed backups leave lock files of dead processes: they are stale (a pid
  // reused meanwhile by a live process would make its lock look alive), and
  // unlock removes exactly the stale ones.
  const opened = await Repository.open(new LocalBackend(env.SAFEHOLD_REPOSITORY!), PASSWORD);
  const locks = await listLocks(opened);
  t.diagnostic(`${locks.length} lock files left by killed backups`);
  assert.ok(locks.length > 0, 'killed backups leave their locks behind');
  for (const l of locks) {
    assert.ok(killedPids.has(l.pid), `lock of pid ${l.pid} belongs to a killed backup (completed runs release theirs)`);
    assert.equal(l.stale, !alive(l.pid), `lock of pid ${l.pid}`);
  }
  const u = await runCli(['unlock', '--json'], env);
  assert.equal(u.code, 0, describeExit(u));
  assert.equal(jsonOf<{ removed: number }>(u).removed, locks.filter((l) => l.stale).length);
  assert.deepEqual(
    (await listLocks(opened)).map((l) => l.name).sort(),
    locks
      .filter((l) => !l.stale)
      .map((l) => l.name)
      .sort(),
  );

  // A final uninterrupted backup, then a byte-identical restore.
  mutate('big');
  const last = await runCli(['backup', data, '--json'], env);
  assert.equal(last.code, 0, describeExit(last));
  const check = await runCli(['check', '--read-data', '--json'], env);
  assert.equal(check.code, 0, describeExit(check));
  const target = path.join(dir, 'restored');
  const rest = await runCli(['restore', 'latest', '--target', target, '--json'], env);
  assert.equal(rest.code, 0, describeExit(rest));
  const restored = path.join(target, data);
  assert.ok(fs.existsSync(restored), `restore recreates ${data} under the target`);
  assert.deepEqual(compareFiles(data, restored), []);
  assert.equal(listFiles(restored).length, listFiles(data).length);
});
