// Remote repositories end to end through the real CLI, against real servers
// started once for this file: Ceph's radosgw (S3) and a private OpenSSH
// sshd (SFTP). `--repo s3:…` with the AWS_* variables for init, backup,
// snapshots, restore and check; `copy` local → S3 → SFTP, verified and
// idempotent; a plan with an S3 destination (credentials as { env: … }) and a
// copy activity to an SFTP destination run with `plan run --local`, then
// forget/prune on both. No secret shows in any output or run record.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildSampleTree, compareTrees, makeSandbox, show, underTarget } from './helpers/cli.ts';
import type { CliResult, Sandbox } from './helpers/cli.ts';
import { radosgwMissing, startRadosgw } from './helpers/radosgw.ts';
import type { Radosgw } from './helpers/radosgw.ts';
import { sshdSkipReason, startSshd } from './helpers/sshd.ts';
import type { Sshd } from './helpers/sshd.ts';

const rgwSkip = radosgwMissing();
const sshSkip = sshdSkipReason();
let rgw: Radosgw | undefined;
let sshd: Sshd | undefined;

before(
  async () => {
    [rgw, sshd] = await Promise.all([rgwSkip ? undefined : startRadosgw(), sshSkip ? undefined : startSshd()]);
  },
  { timeout: 240_000 },
);
after(async () => {
  await Promise.all([rgw?.stop(), sshd?.stop()]);
});

let seq = 0;
/** A fresh S3 location in the test bucket. */
function s3(): string {
  return rgw!.location(`repo-${process.pid}-${++seq}`);
}
/** A fresh SFTP location in the chroot's writable directory. */
function sftp(): string {
  return `sftp:${sshd!.user}@${sshd!.host}:${sshd!.port}:/data/repo-${process.pid}-${++seq}`;
}

/** A sandbox whose CLI runs reach both servers: AWS_* for radosgw, SAFEHOLD_SFTP_* for sshd, the cache inside. */
function sandbox(t: { after(fn: () => void): void }): Sandbox {
  const sb = makeSandbox('safehold-remote-');
  t.after(() => sb.cleanup());
  Object.assign(sb.env, {
    HOME: sb.dir,
    XDG_CACHE_HOME: path.join(sb.dir, 'cache'),
    ...(rgw && {
      AWS_ACCESS_KEY_ID: rgw.accessKeyId,
      AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
      AWS_REGION: rgw.region,
    }),
    ...(sshd && { SAFEHOLD_SFTP_KEY_FILE: sshd.clientKey, SAFEHOLD_SFTP_KNOWN_HOSTS: sshd.knownHosts }),
  });
  return sb;
}

/** Fails unless `r` exited 0; never shows the S3 secret. */
function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what}: ${show(r)}`);
  noSecret(r);
  return r;
}

function noSecret(r: CliResult): void {
  if (!rgw) return;
  assert.ok(!`${r.stdout}${r.stderr}`.includes(rgw.secretAccessKey), `the S3 secret key was printed: ${show(r)}`);
}

/** A sample tree under the sandbox: its absolute path. */
function source(sb: Sandbox): string {
  const src = path.join(sb.dir, 'src');
  buildSampleTree(src);
  return src;
}

/** Restores `latest` of `repo` and compares it with `src`. */
async function restoresEqual(sb: Sandbox, repo: string, src: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const target = fs.mkdtempSync(path.join(sb.dir, 'restore-'));
  ok(await sb.run(['restore', 'latest', '--repo', repo, '--target', target, '--json'], { env }), `restore ${repo}`);
  assert.deepEqual(compareTrees(src, underTarget(target, src)), []);
}

describe('remote repositories through the CLI', () => {
  it('bad remote options and locations are usage errors naming what was expected', async (t) => {
    const sb = sandbox(t);
    const cases: [string[], RegExp][] = [
      [
        ['--connections', '0'],
        /--connections \(or SAFEHOLD_CONNECTIONS\): expected a whole number from 1 to 256, got '0'/,
      ],
      [['--limit-upload', 'fast'], /--limit-upload: expected bytes per second like '10MiB'/],
      [['--repo', 's3://bucket/x'], /invalid S3 location "s3:\/\/bucket\/x": write s3:https/],
      [['--repo', 'sftp:host-without-path'], /SFTP location "sftp:host-without-path"/],
    ];
    for (const [args, message] of cases) {
      const r = await sb.run(['snapshots', '--repo', 's3:https://127.0.0.1:9/bucket', ...args, '--json']);
      assert.equal(r.code, 2, show(r));
      assert.equal(r.json().error.code, 'USAGE');
      assert.match(r.json().error.message, message);
    }
  });

  it('init, backup, snapshots, restore and check on S3 with --repo s3:… and AWS_* credentials', {
    skip: rgwSkip,
  }, async (t) => {
    const sb = sandbox(t);
    const src = source(sb);
    const repo = s3();
    const env = { SAFEHOLD_REPOSITORY: repo };
    const init = ok(await sb.run(['init', '--json'], { env }), 'init');
    assert.match(init.json().location, /^s3:http:\/\/127\.0\.0\.1:\d+\/safehold-test\/repo-/);
    ok(await sb.run(['backup', src, '--tag', 'first', '--json'], { env }), 'backup');
    const snaps = ok(await sb.run(['snapshots', '--json'], { env }), 'snapshots').json();
    assert.equal(snaps.length, 1);
    assert.deepEqual(snaps[0].tags, ['first']);
    await restoresEqual(sb, repo, src);
    ok(await sb.run(['check', '--read-data', '--json'], { env }), 'check --read-data');
    // A second init of the same location refuses; the runs are recorded with the location, never a secret.
    const again = await sb.run(['init', '--json'], { env });
    assert.notEqual(again.code, 0, show(again));
    noSecret(again);
    const runs = ok(await sb.run(['runs', '--json']), 'runs');
    assert.ok(runs.stdout.includes('safehold-test/repo-'), runs.stdout);
  });

  it('wrong S3 credentials give a clear error that never shows the secret', { skip: rgwSkip }, async (t) => {
    const sb = sandbox(t);
    const repo = s3();
    ok(await sb.run(['init', '--repo', repo, '--json']), 'init');
    const wrong = 'not-the-secret-Xq93-SHOULD-NOT-SHOW';
    const r = await sb.run(['snapshots', '--repo', repo, '--json'], { env: { AWS_SECRET_ACCESS_KEY: wrong } });
    assert.notEqual(r.code, 0, show(r));
    assert.ok(!`${r.stdout}${r.stderr}`.includes(wrong), show(r));
    assert.ok(!`${r.stdout}${r.stderr}`.includes(rgw!.secretAccessKey), show(r));
    assert.match(`${r.stdout}${r.stderr}`, /safehold-test/, 'the error names the bucket');
  });

  it('copy local → S3 → SFTP: verified, restorable, and a second copy copies nothing', {
    skip: rgwSkip ?? sshSkip,
  }, async (t) => {
    const sb = sandbox(t);
    const src = source(sb);
    await sb.init();
    ok(await sb.run(['backup', src, '--json']), 'backup');
    fs.writeFileSync(path.join(src, 'later.txt'), 'a second snapshot\n');
    ok(await sb.run(['backup', src, '--json']), 'second backup');
    const toS3 = s3();
    const toSftp = sftp();
    const pw = { SAFEHOLD_TO_PASSWORD: `${sb.password}-to` };
    ok(
      await sb.run(['init', '--repo', toS3, '--json'], { env: { SAFEHOLD_PASSWORD: pw.SAFEHOLD_TO_PASSWORD } }),
      'init s3',
    );
    ok(
      await sb.run(['init', '--repo', toSftp, '--json'], { env: { SAFEHOLD_PASSWORD: pw.SAFEHOLD_TO_PASSWORD } }),
      'init sftp',
    );

    const first = ok(await sb.run(['copy', '--to', toS3, '--json'], { env: pw }), 'copy local → s3').json();
    assert.equal(first.copied, 2);
    const s3env = { SAFEHOLD_PASSWORD: pw.SAFEHOLD_TO_PASSWORD, SAFEHOLD_TO_PASSWORD: pw.SAFEHOLD_TO_PASSWORD };
    const second = ok(
      await sb.run(['copy', '--repo', toS3, '--to', toSftp, '--connections', '4', '--json'], { env: s3env }),
      'copy s3 → sftp',
    ).json();
    assert.equal(second.copied, 2);
    // Idempotent: nothing is copied again, on either hop.
    assert.equal(ok(await sb.run(['copy', '--to', toS3, '--json'], { env: pw }), 'again').json().copied, 0);
    const again = ok(await sb.run(['copy', '--repo', toS3, '--to', toSftp, '--json'], { env: s3env }), 'again');
    assert.equal(again.json().copied, 0);
    assert.equal(again.json().skipped, 2);

    const onSftp = { SAFEHOLD_PASSWORD: pw.SAFEHOLD_TO_PASSWORD };
    ok(await sb.run(['check', '--repo', toSftp, '--read-data', '--json'], { env: onSftp }), 'check sftp');
    const snaps = ok(await sb.run(['snapshots', '--repo', toSftp, '--json'], { env: onSftp }), 'snapshots').json();
    assert.equal(snaps.length, 2);
    await restoresEqual(sb, toSftp, src, onSftp);
  });

  it('a plan with an S3 destination, a copy activity to SFTP and a retention purge runs end to end; forget --prune on SFTP', {
    skip: rgwSkip ?? sshSkip,
  }, async (t) => {
    const sb = sandbox(t);
    const src = source(sb);
    const s3loc = s3();
    const sftpLoc = sftp();
    // The credentials come from the configuration ({ env: … }), not from the AWS SDK's chain.
    const env: NodeJS.ProcessEnv = {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      RGW_KEY: rgw!.accessKeyId,
      RGW_SECRET: rgw!.secretAccessKey,
      SAFEHOLD_SFTP_KEY_FILE: undefined,
      SAFEHOLD_SFTP_KNOWN_HOSTS: undefined,
      SAFEHOLD_REPOSITORY: undefined,
    };
    const file = path.join(sb.dir, 'safehold.yaml');
    fs.writeFileSync(
      file,
      `sites:
  dc1: { description: object storage }
  dc2: { description: the SSH host }
targets:
  web: { kind: files, units: { site: { paths: ['${src}'] } } }
destinations:
  objects:
    type: repository
    site: dc1
    location: ${s3loc}
    password: { env: SAFEHOLD_PASSWORD }
    s3:
      accessKeyId: { env: RGW_KEY }
      secretAccessKey: { env: RGW_SECRET }
      region: ${rgw!.region}
    connections: 4
    cacheDir: ${path.join(sb.dir, 'cache-objects')}
  far:
    type: repository
    site: dc2
    location: ${sftpLoc}
    password: { env: SAFEHOLD_PASSWORD }
    sftp: { keyFile: ${sshd!.clientKey}, knownHosts: ${sshd!.knownHosts} }
plans:
  nightly:
    destination: objects
    retention: { keepLast: 1 }
    activities:
      - { kind: backup, targets: web }
      - { kind: copy, to: far, targets: web }
      - { kind: purge, targets: web }
`,
    );
    const cfg = ['--config', file];
    // Reached through its backend before the run: not initialised yet refuses the run, saying what to do.
    const refused = await sb.run(['plan', 'run', 'nightly', '--local', ...cfg, '--json'], { env });
    assert.equal(refused.code, 4, show(refused));
    assert.equal(
      refused.json().run.reason,
      `destination objects (${s3loc}) is not initialised: run 'safehold init --config ${file} --destination objects'`,
    );
    for (const d of ['objects', 'far'])
      ok(await sb.run(['init', ...cfg, '--destination', d, '--json'], { env }), `init ${d}`);
    const shown = ok(await sb.run(['config', 'show', ...cfg, '--json'], { env }), 'config show');
    assert.ok(shown.stdout.includes('***(env:RGW_SECRET)'), shown.stdout);

    const notes: string[] = [];
    for (const n of [1, 2]) {
      fs.writeFileSync(path.join(src, `run-${n}.txt`), `run ${n}\n`);
      const r = ok(await sb.run(['plan', 'run', 'nightly', '--local', ...cfg, '--json'], { env }), `plan run ${n}`);
      const doc = r.json();
      assert.equal(doc.run.status, 'succeeded', r.stdout);
      assert.deepEqual(
        doc.tasks.map((x: { status: string }) => x.status),
        ['succeeded', 'succeeded', 'succeeded'],
      );
      notes.push(...doc.tasks.map((x: { kind: string; reason: string | null }) => `${x.kind}: ${x.reason}`));
    }
    const count = async (d: string) =>
      ok(await sb.run(['snapshots', ...cfg, '--destination', d, '--json'], { env }), `snapshots ${d}`).json().length;
    // The plan's retention purge (forget, then prune) keeps one snapshot in S3; both were copied to SFTP first.
    assert.equal(await count('objects'), 1, notes.join('\n'));
    assert.equal(await count('far'), 2, notes.join('\n'));
    ok(await sb.run(['check', ...cfg, '--destination', 'objects', '--read-data', '--json'], { env }), 'check objects');

    // The protection report counts the S3 repository and the SFTP one as two sites holding the unit.
    const prot = ok(await sb.run(['protection', ...cfg, '--json'], { env }), 'protection').json();
    const unit = prot.units.find((u: { target: string; unit: string }) => u.target === 'web' && u.unit === 'site');
    assert.ok(unit, JSON.stringify(prot));
    assert.deepEqual(
      unit.sites.map((x: { site: string }) => x.site),
      ['dc1', 'dc2'],
    );
    assert.deepEqual(
      unit.rules.map((r: { rule: string; ok: boolean }) => [r.rule, r.ok]),
      [
        ['minCopies', true],
        ['minSites', true],
      ],
      JSON.stringify(unit.rules),
    );

    // forget --prune on the SFTP destination from the command line.
    const forgot = ok(
      await sb.run(
        ['forget', ...cfg, '--destination', 'far', '--keep-last', '1', '--group-by', 'host,paths', '--prune', '--json'],
        { env },
      ),
      'forget far',
    );
    assert.equal(await count('far'), 1, forgot.stdout);
    ok(await sb.run(['check', ...cfg, '--destination', 'far', '--read-data', '--json'], { env }), 'check far');

    const runs = ok(await sb.run(['runs', ...cfg, '--json'], { env }), 'runs');
    assert.ok(!runs.stdout.includes(rgw!.secretAccessKey));
  });
});
