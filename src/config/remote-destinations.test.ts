// Repository destinations by `location` (s3:, sftp:, a local path) with
// their remote settings: loaded from real files into the backend factory's
// options (secrets resolved), every misplaced setting refused with its
// file:line:col and why, and no secret value in `config show`'s document,
// JSON.stringify or util.inspect of the compiled configuration.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { loadConfig } from './load.ts';
import { redactConfig } from './redact.ts';
import type { RepositoryDestination } from './types.ts';
import { SafeholdError } from '../core/errors.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-remote-cfg-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYzz';
const ENV = { PW: 'repo-pw-Jx1', S3_KEY: 'AKIATESTKEY0001', S3_SECRET: SECRET };

function write(destinations: string): string {
  const dir = path.join(root, String(++n));
  fs.mkdirSync(dir);
  const file = path.join(dir, 'safehold.yaml');
  fs.writeFileSync(file, `destinations:\n${destinations}`);
  return file;
}

function load(destinations: string, env: NodeJS.ProcessEnv = ENV) {
  const file = write(destinations);
  return { file, config: loadConfig(file, env) };
}

/** The CONFIG error's lines, without the file name prefix. */
function problems(destinations: string, env: NodeJS.ProcessEnv = ENV): string[] {
  const file = write(destinations);
  try {
    loadConfig(file, env);
  } catch (e) {
    assert.ok(e instanceof SafeholdError && e.code === 'CONFIG', String(e));
    return e.message.split('\n').map((l) => l.replace(`${file}:`, ''));
  }
  return assert.fail('the configuration loaded');
}

const S3_DEST = `  offsite:
    type: repository
    location: s3:https://127.0.0.1:7480/backups/host1
    password: { env: PW }
    s3:
      accessKeyId: { env: S3_KEY }
      secretAccessKey: { env: S3_SECRET }
      region: eu-central-1
      pathStyle: true
      storageClass: STANDARD_IA
      sse: { type: 'aws:kms', kmsKeyId: key-1 }
      conditionalWrites: 'off'
    connections: 16
    rateLimit: { upload: 10MiB, download: 500KB }
    cacheDir: cache
`;

describe('remote repository destinations', () => {
  it('an s3: location compiles into the backend options, secrets resolved', () => {
    const { file, config } = load(S3_DEST);
    const d = config.destinations.offsite as RepositoryDestination;
    assert.equal(d.location, 's3:https://127.0.0.1:7480/backups/host1');
    assert.equal(d.path, 's3:https://127.0.0.1:7480/backups/host1');
    assert.equal(d.remote, 's3');
    assert.equal(d.requireMount, false);
    assert.equal(d.minFree, null);
    const o = d.backendOptions;
    assert.equal(o.connections, 16);
    assert.deepEqual(o.rateLimit, { upload: 10 * 1024 * 1024, download: 500_000 });
    assert.equal(o.cacheDir, path.join(path.dirname(file), 'cache'));
    assert.equal(o.s3?.accessKeyId, 'AKIATESTKEY0001');
    assert.equal(o.s3?.secretAccessKey, SECRET);
    assert.equal(o.s3?.region, 'eu-central-1');
    assert.equal(o.s3?.pathStyle, true);
    assert.equal(o.s3?.storageClass, 'STANDARD_IA');
    assert.deepEqual(o.s3?.sse, { type: 'aws:kms', kmsKeyId: 'key-1' });
    assert.equal(o.s3?.conditionalWrites, 'off');
    assert.equal(o.sftp, undefined);
  });

  it('no secret value shows in config show, JSON or inspect; their sources do', () => {
    const { config } = load(S3_DEST);
    for (const text of [JSON.stringify(redactConfig(config)), JSON.stringify(config), inspect(config, { depth: 9 })]) {
      assert.ok(!text.includes(SECRET), text);
      assert.ok(!text.includes('AKIATESTKEY0001'), text);
      assert.ok(!text.includes('repo-pw-Jx1'), text);
    }
    const shown = redactConfig(config) as { destinations: Record<string, { backendOptions: { s3: object } }> };
    assert.deepEqual(shown.destinations.offsite!.backendOptions.s3, {
      accessKeyId: '***(env:S3_KEY)',
      secretAccessKey: '***(env:S3_SECRET)',
      region: 'eu-central-1',
      pathStyle: true,
      storageClass: 'STANDARD_IA',
      conditionalWrites: 'off',
      sse: { type: 'aws:kms', kmsKeyId: 'key-1' },
    });
  });

  it('an sftp: location with its key and known_hosts files; the default connections', () => {
    const { file, config } = load(`  far:
    type: repository
    location: sftp:backup@192.0.2.7:2222:/srv/repo
    password: { env: PW }
    sftp: { keyFile: keys/id_ed25519, keyPassphrase: { env: S3_SECRET }, knownHosts: /etc/safehold/known_hosts }
`);
    const d = config.destinations.far as RepositoryDestination;
    assert.equal(d.remote, 'sftp');
    assert.equal(d.location, 'sftp:backup@192.0.2.7:2222:/srv/repo');
    assert.deepEqual(
      { ...d.backendOptions, sftp: { ...d.backendOptions.sftp } },
      {
        connections: 8,
        sftp: {
          keyFile: path.join(path.dirname(file), 'keys/id_ed25519'),
          keyPassphrase: SECRET,
          knownHosts: '/etc/safehold/known_hosts',
        },
      },
    );
    assert.ok(!JSON.stringify(redactConfig(config)).includes(SECRET));
    assert.ok(JSON.stringify(redactConfig(config)).includes('"keyPassphrase":"***(env:S3_SECRET)"'));
  });

  it('a local path as location is a local repository, relative to the file', () => {
    const { file, config } = load(`  here:
    type: repository
    location: ./repos/main
    password: { env: PW }
    requireMount: true
    minFree: 10%
`);
    const d = config.destinations.here as RepositoryDestination;
    const abs = path.join(path.dirname(file), 'repos/main');
    assert.equal(d.remote, null);
    assert.equal(d.location, abs);
    assert.equal(d.path, abs);
    assert.deepEqual(d.backendOptions, {});
    assert.equal(d.requireMount, true);
  });

  it('refuses an unknown scheme, a malformed location, both or neither of path and location', () => {
    assert.deepEqual(
      problems(`  x:
    type: repository
    location: b2:bucket/prefix
    password: { env: PW }
`),
      [
        "4:15: destinations.x.location: unknown scheme 'b2:': expected 's3:https://host[:port]/bucket[/prefix]' or 's3:bucket[/prefix]', 'sftp:user@host[:port]:/path' or a local path (write './b2:bucket/prefix' for a relative path with a ':')",
      ],
    );
    const [bad] = problems(`  x:
    type: repository
    location: s3://bucket/prefix
    password: { env: PW }
`);
    assert.match(bad!, /^4:15: destinations\.x\.location: invalid S3 location "s3:\/\/bucket\/prefix": write s3:https/);
    const [both] = problems(`  x:
    type: repository
    path: /srv/repo
    location: sftp:u@h:/r
    password: { env: PW }
`);
    assert.equal(both, "5:15: destinations.x.location: give either 'path' (a local directory) or 'location', not both");
    const [neither] = problems(`  x:
    type: repository
    password: { env: PW }
`);
    assert.match(neither!, /destinations\.x: a repository needs 'path' \(a local directory\) or 'location'/);
  });

  it('credentials in an S3 URL are refused without showing them', () => {
    const lines = problems(`  x:
    type: repository
    location: s3:https://AKIAX:${SECRET}@s3.example.com/bucket
    password: { env: PW }
`);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /credentials do not belong in the location/);
    assert.ok(!lines[0]!.includes(SECRET), lines[0]);
  });

  it('refuses settings that cannot apply where the repository is, saying why', () => {
    assert.deepEqual(
      problems(`  x:
    type: repository
    location: sftp:u@h:/r
    password: { env: PW }
    requireMount: true
    minFree: 10GiB
    s3: { region: eu-west-1 }
`),
      [
        '6:19: destinations.x.requireMount: applies to local repositories only: a repository reached over SFTP has no local mount point to check',
        '7:14: destinations.x.minFree: applies to local repositories only: a repository reached over SFTP has no local file system whose free space to read',
        '8:9: destinations.x.s3: s3 settings need an s3: location, and this location is sftp:',
      ],
    );
    assert.deepEqual(
      problems(`  x:
    type: repository
    path: /srv/repo
    password: { env: PW }
    connections: 4
    sftp: { keyFile: /k }
`),
      [
        '6:18: destinations.x.connections: applies to remote repositories only (s3: or sftp: locations), not to /srv/repo',
        '7:11: destinations.x.sftp: applies to remote repositories only (s3: or sftp: locations), not to /srv/repo',
      ],
    );
  });

  it('refuses half the S3 credentials, a missing secret variable, a bad rate and a KMS key without KMS', () => {
    const lines = problems(`  x:
    type: repository
    location: s3:my-bucket/host1
    password: { env: PW }
    s3:
      secretAccessKey: { env: NOT_SET }
      sse: { type: AES256, kmsKeyId: k }
    rateLimit: { upload: fast }
`);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /destinations\.x\.rateLimit\.upload: expected a size per second like '10MiB'/);
    assert.deepEqual(
      problems(`  x:
    type: repository
    location: s3:my-bucket/host1
    password: { env: PW }
    s3:
      secretAccessKey: { env: NOT_SET }
      sse: { type: AES256, kmsKeyId: k }
`),
      [
        '7:24: destinations.x.s3.secretAccessKey: environment variable NOT_SET is not set',
        "7:24: destinations.x.s3.secretAccessKey: give both 'accessKeyId' and 'secretAccessKey', or neither (then the AWS SDK's chain: AWS_* variables, profile)",
        "8:38: destinations.x.s3.sse.kmsKeyId: a KMS key goes with type 'aws:kms', not 'AES256'",
      ],
    );
  });
});
