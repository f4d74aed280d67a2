// The environment of programs Safehold starts: only the allow-listed
// variables of the parent (LC_* included), never Safehold's passwords nor a
// variable a secret was read from, plus the child's own variables; checked
// on the built environment and on what a real `env` child prints.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { INHERITED_ENV, childEnv, isSecretEnv, markSecretEnv } from './child-env.ts';

const parent: NodeJS.ProcessEnv = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/op',
  USER: 'op',
  LOGNAME: 'op',
  LANG: 'C.UTF-8',
  LC_TIME: 'C',
  LC_ALL: 'C.UTF-8',
  TZ: 'UTC',
  TMPDIR: '/tmp',
  SHELL: '/bin/sh',
  TERM: 'xterm',
  SAFEHOLD_PASSWORD: 'repo-pw',
  SAFEHOLD_NEW_PASSWORD: 'new-pw',
  SAFEHOLD_TO_PASSWORD: 'to-pw',
  SAFEHOLD_PASSWORD_FILE: '/etc/pw',
  SAFEHOLD_DATA_DIR: '/var/lib/safehold',
  SAFEHOLD_SNAPSHOT: 'stale',
  DB_PASSWORD: 'db-pw',
  AWS_SECRET_ACCESS_KEY: 'aws',
  http_proxy: 'http://u:p@proxy:3128',
  PGSSLMODE: 'require',
  NODE_OPTIONS: '--inspect',
};

test('only the allow-listed variables are inherited', () => {
  const env = childEnv({}, { base: parent });
  assert.deepEqual(Object.keys(env).sort(), [
    'HOME',
    'LANG',
    'LC_ALL',
    'LC_TIME',
    'LOGNAME',
    'PATH',
    'SHELL',
    'TERM',
    'TMPDIR',
    'TZ',
    'USER',
  ]);
  for (const name of INHERITED_ENV) assert.equal(env[name], parent[name], name);
});

test("the child's own variables are added, override inherited ones, and undefined unsets", () => {
  const env = childEnv(
    { SAFEHOLD_PLAN: 'nightly', API_TOKEN: 'own-token', TZ: 'Europe/Paris', LANG: undefined, SAFEHOLD_TASK: undefined },
    { base: parent },
  );
  assert.equal(env.SAFEHOLD_PLAN, 'nightly');
  assert.equal(env.API_TOKEN, 'own-token');
  assert.equal(env.TZ, 'Europe/Paris');
  assert.equal('LANG' in env, false);
  assert.equal('SAFEHOLD_TASK' in env, false);
});

test('Safehold passwords and variables a secret was read from are never inherited, even when allow-listed', () => {
  markSecretEnv('LC_SAFEHOLD_TEST_KEY');
  markSecretEnv('PGPASSWORD');
  assert.equal(isSecretEnv('LC_SAFEHOLD_TEST_KEY'), true);
  assert.equal(isSecretEnv('SAFEHOLD_FROM_PASSWORD'), true);
  assert.equal(isSecretEnv('LC_TIME'), false);
  const base = { ...parent, LC_SAFEHOLD_TEST_KEY: 'key-value', PGPASSWORD: 'other-target-pw', PGHOST: 'db1' };
  const env = childEnv({}, { base, inherit: (n) => n.startsWith('PG') || n.startsWith('SAFEHOLD_') });
  assert.equal(env.LC_SAFEHOLD_TEST_KEY, undefined);
  assert.equal(env.PGPASSWORD, undefined, 'a marked variable is not inherited through an extra rule either');
  assert.equal(env.SAFEHOLD_PASSWORD, undefined);
  assert.equal(env.SAFEHOLD_TO_PASSWORD, undefined);
  assert.equal(env.SAFEHOLD_PASSWORD_FILE, undefined);
  assert.equal(env.PGHOST, 'db1', 'the extra rule lets the client settings through');
  assert.equal(env.PGSSLMODE, 'require');
  assert.equal(env.SAFEHOLD_DATA_DIR, '/var/lib/safehold');
  // Given explicitly as the child's own, a marked variable is set: the configuration asked for it.
  assert.equal(childEnv({ PGPASSWORD: 'mine' }, { base }).PGPASSWORD, 'mine');
});

test('a real child sees exactly the built environment', () => {
  const env = childEnv({ SAFEHOLD_RUN: 'r1' }, { base: parent });
  const printed = execFileSync('/usr/bin/env', [], { env, encoding: 'utf8' });
  const lines = printed.trim().split('\n').sort();
  assert.deepEqual(
    lines,
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .sort(),
  );
  for (const secret of ['repo-pw', 'new-pw', 'to-pw', 'db-pw', 'aws', 'u:p@proxy'])
    assert.ok(!printed.includes(secret), secret);
});
