// `safehold token`, `safehold user` and `safehold audit` through the real CLI:
// a created token is printed once and authenticates with its role, list never
// shows secrets, revoke ends it; users get passwords from --password-file,
// SAFEHOLD_USER_PASSWORD or a terminal prompt (never the repository's
// password) and can log in; passwd/remove end sessions; the audit log lists.

import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../src/catalog/catalog.ts';
import { createAuthenticator, auditTo } from '../src/api/auth/index.ts';
import { isSafeholdError } from '../src/core/errors.ts';
import { baseEnv, runCli, SAFEHOLD, show } from './helpers/cli.ts';
import type { CliResult } from './helpers/cli.ts';

function sandbox(t: TestContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cli-auth-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'data');
  const env = { ...baseEnv(), SAFEHOLD_DATA_DIR: data };
  const outputs: CliResult[] = [];
  const cli = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const r = await runCli(args, { env: { ...env, ...extra } });
    outputs.push(r);
    return r;
  };
  /** Opens the catalog the CLI wrote, runs `fn`, closes it. */
  const withCatalog = async <T>(fn: (c: Catalog) => Promise<T> | T): Promise<T> => {
    const c = Catalog.open(data);
    try {
      return await fn(c);
    } finally {
      c.close();
    }
  };
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  return { dir, env, cli, outputs, withCatalog, file };
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` }, cookies: {} });

test('token create prints the token once; it authenticates with its role; list hides secrets; revoke ends it', async (t) => {
  const { cli, outputs, withCatalog } = sandbox(t);
  const made = await cli(['token', 'create', '--role', 'operator', '--name', 'ci runner']);
  assert.equal(made.code, 0, show(made));
  const token = made.stdout.trim();
  assert.match(token, /^shk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.equal(made.stdout, `${token}\n`, 'stdout is the token alone');
  const id = token.slice(4, 20);
  assert.match(made.stderr, new RegExp(`token ${id} \\(operator, "ci runner"\\) created; it is shown only this once`));
  const secret = token.slice(21);

  const quiet = await cli(['token', 'create', '--role', 'viewer', '--quiet']);
  assert.match(quiet.stdout, /^shk_\S+\n$/, 'even --quiet prints the token');
  assert.equal(quiet.stderr, '');
  const json = await cli(['token', 'create', '--role', 'admin', '--json']);
  const doc = json.json();
  assert.deepEqual(Object.keys(doc).sort(), [
    'createdAt',
    'createdBy',
    'id',
    'lastUsedAt',
    'name',
    'revokedAt',
    'role',
    'token',
  ]);
  assert.equal(doc.role, 'admin');
  assert.equal(doc.name, 'admin token');
  assert.match(doc.createdBy, /^cli:/);

  const roles = await withCatalog(async (c) => {
    const auth = createAuthenticator(c);
    return [
      (await auth.authenticate(bearer(token)))?.role,
      (await auth.authenticate(bearer(quiet.stdout.trim())))?.role,
      (await auth.authenticate(bearer(doc.token)))?.role,
    ];
  });
  assert.deepEqual(roles, ['operator', 'viewer', 'admin']);

  const list = await cli(['token', 'list', '--json']);
  assert.equal(list.code, 0, show(list));
  const tokens = list.json();
  assert.deepEqual(
    tokens.map((x: { id: string; role: string }) => [x.id, x.role]).sort(),
    [
      [id, 'operator'],
      [quiet.stdout.slice(4, 20), 'viewer'],
      [doc.id, 'admin'],
    ].sort(),
  );
  assert.ok(tokens.every((x: Record<string, unknown>) => !('hash' in x) && !('token' in x)));
  assert.equal(tokens.find((x: { id: string }) => x.id === id).lastUsedAt !== null, true, 'the use was recorded');
  const table = await cli(['token', 'list']);
  assert.match(table.stdout, new RegExp(`${id}\\s+ci runner\\s+operator\\s+`));

  const revoked = await cli(['token', 'revoke', id]);
  assert.equal(revoked.code, 0, show(revoked));
  assert.equal(revoked.stdout, `token ${id} ("ci runner") revoked\n`);
  assert.equal(await withCatalog((c) => createAuthenticator(c).authenticate(bearer(token))), null);
  const again = await cli(['token', 'list', '--json']);
  assert.notEqual(again.json().find((x: { id: string }) => x.id === id).revokedAt, null);

  const unknown = await cli(['token', 'revoke', 'ffffffffffffffff']);
  assert.equal(unknown.code, 1, show(unknown));
  assert.match(unknown.stderr, /no token ffffffffffffffff/);
  const badRole = await cli(['token', 'create', '--role', 'root']);
  assert.equal(badRole.code, 2, show(badRole));
  assert.match(badRole.stderr, /--role must be one of viewer, operator, admin/);
  assert.equal((await cli(['token', 'frob'])).code, 2);

  // The secret appears in exactly one output: the one that created it.
  const holding = outputs.filter((r) => r.stdout.includes(secret) || r.stderr.includes(secret));
  assert.deepEqual(holding, [made]);
});

test('user add/passwd/role/remove/list: passwords from --password-file or SAFEHOLD_USER_PASSWORD, login works, never printed', async (t) => {
  const { cli, outputs, withCatalog, file } = sandbox(t);
  const pw1 = 'first-secret-pw';
  const pw2 = 'second-secret-pw';
  const pw3 = 'env-secret-pw';
  const add = await cli([
    'user',
    'add',
    'alice',
    '--role',
    'admin',
    '--password-file',
    file('pw1', `${pw1}\nignored\n`),
  ]);
  assert.equal(add.code, 0, show(add));
  assert.equal(add.stdout, 'user alice added (admin)\n');
  const bob = await cli(['user', 'add', 'bob', '--role', 'viewer', '--json'], {
    SAFEHOLD_USER_PASSWORD: pw3,
    SAFEHOLD_PASSWORD: 'repo-password',
  });
  assert.equal(bob.code, 0, show(bob));
  assert.equal(bob.json().role, 'viewer');

  // The repository's password is not a user's password.
  const noPw = await cli(['user', 'add', 'carol', '--role', 'viewer'], { SAFEHOLD_PASSWORD: 'repo-password-123' });
  assert.equal(noPw.code, 1, show(noPw));
  assert.match(
    noPw.stderr,
    /no password for user carol: use --password-file, set SAFEHOLD_USER_PASSWORD, or run on a terminal/,
  );
  const short = await cli(['user', 'add', 'carol', '--role', 'viewer'], { SAFEHOLD_USER_PASSWORD: 'short' });
  assert.equal(short.code, 2, show(short));
  assert.match(short.stderr, /at least 8 characters/);
  const dup = await cli(['user', 'add', 'alice', '--role', 'viewer'], { SAFEHOLD_USER_PASSWORD: pw3 });
  assert.equal(dup.code, 2, show(dup));
  assert.match(dup.stderr, /user alice already exists/);
  const badName = await cli(['user', 'add', 'no/slash', '--role', 'viewer'], { SAFEHOLD_USER_PASSWORD: pw3 });
  assert.equal(badName.code, 2, show(badName));

  const session = await withCatalog(async (c) => {
    const auth = createAuthenticator(c);
    assert.equal((await auth.login('bob', pw3, null)).role, 'viewer');
    return auth.login('alice', pw1, '127.0.0.1');
  });
  assert.equal(session.role, 'admin');

  const passwd = await cli(['user', 'passwd', 'alice', '--password-file', file('pw2', pw2)]);
  assert.equal(passwd.code, 0, show(passwd));
  assert.equal(passwd.stdout, 'password of alice changed; their sessions have ended\n');
  await withCatalog(async (c) => {
    const auth = createAuthenticator(c);
    assert.equal(
      await auth.authenticate({ headers: {}, cookies: { safehold_session: session.sessionId } }),
      null,
      'the old session ended',
    );
    await assert.rejects(auth.login('alice', pw1, null), (e) => isSafeholdError(e, 'WRONG_PASSWORD'));
    assert.equal((await auth.login('alice', pw2, null)).user, 'alice');
  });

  const role = await cli(['user', 'role', 'bob', '--role', 'operator']);
  assert.equal(role.code, 0, show(role));
  const list = await cli(['user', 'list', '--json']);
  assert.deepEqual(
    list.json().map((u: { name: string; role: string }) => [u.name, u.role]),
    [
      ['alice', 'admin'],
      ['bob', 'operator'],
    ],
  );
  assert.ok(list.json().every((u: Record<string, unknown>) => !('passwordHash' in u)));
  const table = await cli(['user', 'list']);
  assert.match(table.stdout, /^Name\s+Role\s+Created\s+Disabled\n[- ]+\nalice\s+admin\s+\S+ \S+\s+-\nbob\s+operator\s/);

  const rm = await cli(['user', 'remove', 'bob']);
  assert.equal(rm.code, 0, show(rm));
  assert.deepEqual(
    (await cli(['user', 'list', '--json'])).json().map((u: { name: string }) => u.name),
    ['alice'],
  );
  const rmAgain = await cli(['user', 'remove', 'bob']);
  assert.equal(rmAgain.code, 1, show(rmAgain));
  assert.match(rmAgain.stderr, /no user bob/);
  const passwdGhost = await cli(['user', 'passwd', 'ghost'], { SAFEHOLD_USER_PASSWORD: pw3 });
  assert.equal(passwdGhost.code, 1, show(passwdGhost));

  for (const r of outputs)
    for (const pw of [pw1, pw2, pw3])
      assert.ok(!r.stdout.includes(pw) && !r.stderr.includes(pw), `a password was printed:\n${show(r)}`);
});

test('user add asks for the password twice on a terminal, without echo', async (t) => {
  const { dir, env, withCatalog } = sandbox(t);
  const run = (name: string, answers: string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(
        'script',
        ['-qfec', `${SAFEHOLD} user add ${name} --role viewer; echo "EXIT=$?"`, '/dev/null'],
        { env: { ...env, HOME: dir }, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let screen = '';
      let answered = 0;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`timed out:\n${screen}`));
      }, 30_000);
      child.stdout.on('data', (d: Buffer) => {
        screen += d.toString();
        const prompts = screen.match(/password for user [^\n]*: /g)?.length ?? 0;
        while (answered < prompts && answered < answers.length) child.stdin.write(`${answers[answered++]}\r`);
      });
      child.on('error', reject);
      child.on('close', () => {
        clearTimeout(timer);
        resolve(screen);
      });
    });
  const ok = await run('dave', ['tty-password-1', 'tty-password-1']);
  assert.match(ok, /enter password for user dave: \r?\n?.*enter password for user dave again: /s);
  assert.match(ok, /user dave added \(viewer\)/);
  assert.match(ok, /EXIT=0/);
  assert.ok(!ok.includes('tty-password-1'), `echoed:\n${ok}`);
  const mismatch = await run('erin', ['tty-password-1', 'tty-password-2']);
  assert.match(mismatch, /the passwords do not match/);
  assert.match(mismatch, /EXIT=2/);
  await withCatalog(async (c) => {
    assert.equal((await createAuthenticator(c).login('dave', 'tty-password-1', null)).user, 'dave');
    assert.equal(c.users().get('erin'), undefined);
  });
});

test('safehold audit lists the audit log newest first (--limit, --json, table)', async (t) => {
  const { cli, withCatalog } = sandbox(t);
  const empty = await cli(['audit']);
  assert.equal(empty.code, 0, show(empty));
  assert.equal(empty.stdout, 'no audit entries\n');
  await withCatalog((c) => {
    const audit = auditTo(c);
    audit({
      at: Date.UTC(2026, 0, 5, 10),
      principal: 'alice',
      role: 'admin',
      method: 'POST',
      path: '/api/tokens',
      status: 201,
      ip: '10.0.0.7',
      requestId: 'req-1',
    });
    audit({
      at: Date.UTC(2026, 0, 5, 11),
      principal: null,
      role: null,
      method: 'POST',
      path: '/api/plans/nightly/run',
      status: 401,
      ip: '10.0.0.9',
      requestId: 'req-2',
      detail: 'no credentials',
    });
  });
  const json = await cli(['audit', '--json']);
  assert.deepEqual(json.json(), [
    {
      seq: 2,
      at: Date.UTC(2026, 0, 5, 11),
      principal: null,
      role: null,
      method: 'POST',
      path: '/api/plans/nightly/run',
      status: 401,
      ip: '10.0.0.9',
      requestId: 'req-2',
      detail: 'no credentials',
    },
    {
      seq: 1,
      at: Date.UTC(2026, 0, 5, 10),
      principal: 'alice',
      role: 'admin',
      method: 'POST',
      path: '/api/tokens',
      status: 201,
      ip: '10.0.0.7',
      requestId: 'req-1',
      detail: null,
    },
  ]);
  assert.deepEqual(
    (await cli(['audit', '--limit', '1', '--json'])).json().map((e: { seq: number }) => e.seq),
    [2],
  );
  const table = await cli(['audit']);
  assert.match(
    table.stdout,
    /\n2\s+2026-01-05 11:00:00Z\s+-\s+-\s+POST \/api\/plans\/nightly\/run\s+401\s+10\.0\.0\.9\s+req-2\s+no credentials\n1\s+2026-01-05 10:00:00Z\s+alice\s+admin\s+POST \/api\/tokens\s+201\s+10\.0\.0\.7\s+req-1\n$/,
  );
  const bad = await cli(['audit', '--limit', '0']);
  assert.equal(bad.code, 2, show(bad));
});
