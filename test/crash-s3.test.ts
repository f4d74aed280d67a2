// Crash safety on S3 object storage (Ceph radosgw, started once for this
// file), through the real CLI: backups killed with SIGKILL while they upload
// packs, index files and the snapshot — the moments taken from radosgw's own
// request log, so that they hit whatever the machine's load; then prunes
// killed before repacking, deleting index files and deleting packs (held
// there by SAFEHOLD_TEST_PRUNE_PAUSE). After every kill `check --read-data` passes
// (packs no index names are only warnings); `unlock` removes exactly the
// stale locks; a final prune leaves nothing over and the last backup
// restores byte for byte. The local twin is test/crash.test.ts.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from '../src/repo/repository.ts';
import { openBackend } from '../src/repo/backend/factory.ts';
import { radosgwMissing, startRadosgw } from './helpers/radosgw.ts';
import type { Radosgw } from './helpers/radosgw.ts';
import { cliEnv, describeExit, jsonOf, runCli, startCli } from './helpers/spawn.ts';
import type { Exit } from './helpers/spawn.ts';
import { compareFiles, listFiles, makeDataset, randomBytes } from './helpers/data.ts';

const PASSWORD = 'crash test password';
const PACK_SIZE = 512 * 1024;
const skip = radosgwMissing();
let rgw: Radosgw | undefined;

before(
  async () => {
    if (!skip) rgw = await startRadosgw('safehold-crash', { requestLog: true });
  },
  { timeout: 240_000 },
);
after(async () => {
  await rgw?.stop();
});

interface CheckJson {
  ok: boolean;
  errors: { object: string; message: string }[];
  warnings: { object: string; message: string }[];
  stats: { packs: number };
}

/**
 * Calls `hit` once radosgw has logged `count` requests of `method` on keys
 * under `keyPrefix` (a request is logged when it is complete), counting from now.
 */
function onRequests(method: string, keyPrefix: string, count: number, hit: () => void): () => void {
  const file = rgw!.logFile;
  let offset = fs.statSync(file).size;
  let seen = 0;
  let rest = '';
  const needle = `"${method} /${rgw!.bucket}/${keyPrefix}`;
  const timer = setInterval(() => {
    const size = fs.statSync(file).size;
    if (size <= offset) return;
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(size - offset);
    fs.readSync(fd, buf, 0, buf.length, offset);
    fs.closeSync(fd);
    offset = size;
    const lines = (rest + buf.toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l.includes(' beast: ') && l.includes(needle)) seen++;
    if (seen >= count) {
      clearInterval(timer);
      hit();
    }
  }, 5);
  return () => clearInterval(timer);
}

describe('crash safety on S3 (radosgw)', { skip }, () => {
  let dir: string;
  let data: string;
  let env: NodeJS.ProcessEnv;
  let prefix: string;
  let generation = 0;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-crash-s3-'));
    data = path.join(dir, 'dataset');
    makeDataset(data, {
      seed: 7,
      small: 300,
      smallMax: 8 * 1024,
      medium: 8,
      mediumMin: 256 * 1024,
      mediumMax: 1024 * 1024,
      large: [4 * 1024 * 1024],
      textShare: 0.2,
    });
    prefix = `crash-${process.pid}`;
    const location = rgw!.location(prefix);
    env = {
      ...cliEnv(location, PASSWORD, path.join(dir, 'catalog')),
      XDG_CACHE_HOME: path.join(dir, 'cache'),
      AWS_ACCESS_KEY_ID: rgw!.accessKeyId,
      AWS_SECRET_ACCESS_KEY: rgw!.secretAccessKey,
      AWS_REGION: rgw!.region,
    };
    // Small packs, so that every backup uploads many and kills land between pack uploads.
    const backend = openBackend(location, {
      cacheDir: null,
      s3: { accessKeyId: rgw!.accessKeyId, secretAccessKey: rgw!.secretAccessKey, region: rgw!.region },
    });
    const repo = await Repository.init(backend, PASSWORD, { packSize: PACK_SIZE, kdf: { N: 1024, r: 8, p: 1 } });
    await repo.close();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Rewrites a few small files and a medium one, adds one; `big` also rewrites part of the large file. */
  const mutate = (big: boolean) => {
    generation++;
    const files = listFiles(data);
    const small = files.filter((f) => f.includes('small-'));
    for (let i = 0; i < 4; i++) {
      const f = small[(generation * 37 + i * 11) % small.length]!;
      fs.writeFileSync(path.join(data, f), randomBytes(`gen${generation}/${f}`, 3000 + i));
    }
    fs.writeFileSync(path.join(data, `added-${generation}.bin`), randomBytes(`gen${generation}/added`, 5000));
    const medium = files.filter((f) => f.startsWith('medium/'))[generation % 8]!;
    fs.writeFileSync(path.join(data, medium), randomBytes(`gen${generation}/${medium}`, 600 * 1024));
    if (big) fs.writeFileSync(path.join(data, 'large-0.bin'), randomBytes(`gen${generation}/large`, 4 * 1024 * 1024));
  };

  /** check --read-data must pass; the only warnings allowed are packs no index names. Returns the warning count. */
  const checkAfter = async (what: string): Promise<number> => {
    const c = await runCli(['check', '--read-data', '--json'], env);
    assert.equal(c.code, 0, `${what}: check --read-data failed\n${describeExit(c)}`);
    const res = jsonOf<CheckJson>(c);
    assert.equal(res.ok, true);
    assert.deepEqual(res.errors, []);
    for (const w of res.warnings) assert.match(`${w.object}: ${w.message}`, /^pack [0-9a-f]{12}: not in any index/);
    return res.warnings.length;
  };

  it('backups killed while uploading packs, index and snapshot never damage the repository', {
    timeout: 180_000,
  }, async (t) => {
    // [kind of change, what to wait for before the kill]; null: not killed (later backups have a parent).
    const plan: [big: boolean, kill: [method: string, under: string, count: number] | null][] = [
      [true, ['PUT', 'data/', 3]],
      [false, null],
      [true, ['PUT', 'data/', 1]],
      [true, ['PUT', 'index/', 1]],
      [false, ['PUT', 'snapshots/', 1]],
    ];
    let warned = 0;
    let killed = 0;
    for (const [i, [big, kill]] of plan.entries()) {
      if (i > 0) mutate(big);
      const run = startCli(['backup', data, '--json'], env);
      let stopWatch = () => {};
      if (kill) stopWatch = onRequests(kill[0], `${prefix}/${kill[1]}`, kill[2], () => run.child.kill('SIGKILL'));
      const r: Exit = await run.done;
      stopWatch();
      if (r.signal === 'SIGKILL') killed++;
      else {
        assert.equal(r.code, 0, `backup #${i} failed on its own\n${describeExit(r)}`);
      }
      const w = await checkAfter(`backup #${i} (kill after ${JSON.stringify(kill)})`);
      t.diagnostic(
        `#${i} kill after ${JSON.stringify(kill)}: ${r.signal ?? `exit ${r.code}`} in ${Math.round(r.ms)} ms; ${w} warnings`,
      );
      warned += w > 0 ? 1 : 0;
    }
    assert.ok(killed >= 3, `only ${killed} backups were killed mid-run`);
    assert.ok(warned > 0, 'a backup killed after uploading packs leaves packs no index names');

    // The killed backups' locks are stale; unlock removes exactly those.
    const u = await runCli(['unlock', '--json'], env);
    assert.equal(u.code, 0, describeExit(u));
    assert.ok(jsonOf<{ removed: number }>(u).removed >= 1, 'killed backups left their locks');
  });

  it('prunes killed before repacking, deleting index files and deleting packs: check --read-data passes', {
    timeout: 120_000,
  }, async (t) => {
    mutate(true);
    const b = await runCli(['backup', data, '--json'], env);
    assert.equal(b.code, 0, describeExit(b));
    const f = await runCli(['forget', '--keep-last', '1', '--json'], env);
    assert.equal(f.code, 0, describeExit(f));
    // Each prune starts over on what the killed one left, and is killed one step later.
    for (const step of ['repack', 'delete-index', 'delete-packs-half']) {
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
      const r = await run.done;
      assert.ok(paused, `prune reached ${step}\n${describeExit(r)}`);
      assert.equal(r.signal, 'SIGKILL');
      const w = await checkAfter(`prune killed before ${step}`);
      t.diagnostic(`prune killed before ${step} after ${Math.round(r.ms)} ms; ${w} warnings`);
    }
  });

  it('a final prune leaves nothing over and the last backup restores byte for byte', { timeout: 120_000 }, async () => {
    const p = await runCli(['prune', '--max-unused', '0', '--json'], env);
    assert.equal(p.code, 0, describeExit(p));
    assert.equal(jsonOf(p).bytes.unusedAfter, 0);
    assert.equal(await checkAfter('the final prune'), 0, 'nothing left over');
    const target = path.join(dir, 'restored');
    const rest = await runCli(['restore', 'latest', '--target', target, '--json'], env);
    assert.equal(rest.code, 0, describeExit(rest));
    const restored = path.join(target, data);
    assert.deepEqual(compareFiles(data, restored), []);
    assert.equal(listFiles(restored).length, listFiles(data).length);
  });
});
