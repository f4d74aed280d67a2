// The mariadb driver against the real MariaDB server on 127.0.0.1:3306: the
// shared database driver suite, plus the unit glob and exclusions, database
// names that need quoting, routines/triggers/views in the dump, a user with a
// password (it travels in MYSQL_PWD, and no other secret reaches the client
// programs), a wrong password, a dump program that fails after writing part
// of the dump, and missing client programs. Every database and user made
// here is named shtest_<random>_... and removed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import { dbDriverSuite } from '../../../test/helpers/db-driver-suite.ts';
import type { DbFixture } from '../../../test/helpers/db-driver-suite.ts';
import { createMariadbDriver } from './mariadb.ts';
import { renameTriggers } from './mariadb-rename.ts';
import type { MariadbDriverConfig } from './mariadb.ts';
import { SafeholdError } from '../../core/errors.ts';
import { NoMatchError } from '../no-match.ts';

const SERVER = { host: '127.0.0.1', port: 3306, user: 'root', password: null, timeoutMs: 10_000 } as const;
const q = (s: string) => `\`${s.replace(/`/g, '``')}\``;

async function admin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({
    host: SERVER.host,
    port: SERVER.port,
    user: 'root',
    multipleStatements: true,
    charset: 'utf8mb4',
  });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function seed(db: string): Promise<void> {
  const d = q(db);
  await admin(async (c) => {
    await c.query(`CREATE DATABASE ${d} CHARACTER SET utf8mb4;
      CREATE TABLE ${d}.people (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, note TEXT NULL,
        score DECIMAL(10,2) NULL, ratio DOUBLE NULL, born DATETIME(3) NULL, seen TIMESTAMP NULL, photo BLOB NULL) ENGINE=InnoDB;
      CREATE TABLE ${d}.\`order lines\` (person INT NOT NULL, item VARCHAR(50) NOT NULL, qty INT NOT NULL, price DECIMAL(8,2)) ENGINE=InnoDB;
      CREATE VIEW ${d}.big_orders AS SELECT person, item FROM ${d}.\`order lines\` WHERE qty > 10;
      CREATE TRIGGER ${d}.people_trim BEFORE INSERT ON ${d}.people FOR EACH ROW SET NEW.name = TRIM(NEW.name);
      CREATE PROCEDURE ${d}.hello() SELECT 'hello' AS greeting;`);
    await c.query(`INSERT INTO ${d}.people (name, note, score, ratio, born, seen, photo) VALUES
      ('Ann', 'line one\\nline "two"\\n''three'' \\\\ back', 12.5, 0.1, '2024-02-29 12:34:56.789', '2024-03-01 00:00:01', X'0001FF00'),
      ('Bob', NULL, NULL, NULL, NULL, NULL, NULL),
      ('Cy', '', 0, -1e300, '1999-12-31 23:59:59', '2038-01-19 03:14:07', X''),
      ('Dü 😀', 'unicode', 1, 2, NULL, NULL, NULL)`);
    const lines = Array.from({ length: 40 }, (_, i) => `(${1 + (i % 4)}, 'item ${i}', ${i}, ${i * 1.25})`).join(', ');
    await c.query(`INSERT INTO ${d}.\`order lines\` VALUES ${lines}`);
  });
}

async function mutate(db: string): Promise<void> {
  const d = q(db);
  await admin((c) =>
    c.query(`INSERT INTO ${d}.people (name, note) VALUES ('  Dee ', 'new');
    UPDATE ${d}.people SET note = NULL WHERE name = 'Ann';
    DELETE FROM ${d}.\`order lines\` WHERE qty % 7 = 0;
    UPDATE ${d}.\`order lines\` SET price = price + 1 WHERE qty = 3;`),
  );
}

async function dropAll(prefix: string): Promise<void> {
  await admin(async (c) => {
    const [r] = await c.query('SELECT schema_name AS n FROM information_schema.schemata WHERE schema_name LIKE ?', [
      `${prefix.replace(/_/g, '\\_')}%`,
    ]);
    for (const { n } of r as Array<{ n: string }>) await c.query(`DROP DATABASE IF EXISTS ${q(n)}`);
  });
}

function driverFor(over: Partial<MariadbDriverConfig> = {}) {
  return createMariadbDriver({ name: 'maria', ...SERVER, databases: '*', exclude: [], ...over });
}

function newPrefix(): string {
  return `shtest_${randomBytes(4).toString('hex')}_`;
}

async function makeFixture(): Promise<DbFixture> {
  const prefix = newPrefix();
  return {
    driver: driverFor({ databases: `${prefix}*` }),
    unreachable: driverFor({ port: 1, timeoutMs: 2000 }),
    seed,
    mutate,
    cleanup: () => dropAll(prefix),
    name: (t) => prefix + t,
  };
}

async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

dbDriverSuite('mariadb', makeFixture);

describe('mariadb driver', () => {
  it('lists the databases matching the glob minus the exclusions, never the system databases', async (t) => {
    const p = newPrefix();
    t.after(() => dropAll(p));
    await admin((c) => c.query(['g1', 'g2', 'g3', 'h1'].map((n) => `CREATE DATABASE ${q(p + n)}`).join(';')));
    assert.deepEqual(await driverFor({ databases: `${p}g*`, exclude: [`${p}g2`] }).listUnits(), [`${p}g1`, `${p}g3`]);
    assert.deepEqual(await driverFor({ databases: `${p}*`, exclude: [`${p}?1`] }).listUnits(), [`${p}g2`, `${p}g3`]);
    const all = await driverFor().listUnits();
    for (const sys of ['mysql', 'information_schema', 'performance_schema', 'sys']) assert.ok(!all.includes(sys), sys);
    assert.ok(all.includes(`${p}h1`));
    await assert.rejects(
      driverFor({ databases: `${p}shopp` }).listUnits(),
      (e: unknown) =>
        e instanceof NoMatchError &&
        e.message.startsWith(`no database of target `) &&
        e.message.includes(` matches '${p}shopp' (databases: `) &&
        e.message.includes(`${p}g1`) &&
        !e.message.includes('information_schema'),
      'a glob matching no database fails the listing',
    );
    // Everything excluded is what was asked: no error, no units.
    assert.deepEqual(await driverFor({ databases: `${p}g*`, exclude: [`${p}g*`] }).listUnits(), []);
  });

  it('the dump has no CREATE DATABASE or USE and carries the view, trigger and routine into the new name', async (t) => {
    const p = newPrefix();
    t.after(() => dropAll(p));
    const d = driverFor();
    await seed(`${p}src`);
    const b = await d.backup(`${p}src`);
    assert.equal(b.format, 'mariadb-dump-sql');
    const sql = (await drain(b.stream)).toString();
    assert.doesNotMatch(sql, /CREATE DATABASE|^USE /m);
    assert.match(sql, /-- Dump completed\n$/);
    await d.restore(`${p}src`, Readable.from([sql]), b.format, { into: `${p}copy` });
    await admin(async (c) => {
      await c.query(`DROP DATABASE ${q(`${p}src`)}`);
      const [v] = await c.query(`SELECT COUNT(*) AS n FROM ${q(`${p}copy`)}.big_orders`);
      assert.equal(Number((v as Array<{ n: number }>)[0]!.n), 29);
      await c.query(`INSERT INTO ${q(`${p}copy`)}.people (name) VALUES ('  padded  ')`);
      const [n] = await c.query(`SELECT name FROM ${q(`${p}copy`)}.people ORDER BY id DESC LIMIT 1`);
      assert.equal((n as Array<{ name: string }>)[0]!.name, 'padded', 'the trigger came along');
      const [r] = await c.query(
        `SELECT COUNT(*) AS n FROM information_schema.routines WHERE routine_schema = ? AND routine_name = 'hello'`,
        [`${p}copy`],
      );
      assert.equal(Number((r as Array<{ n: number }>)[0]!.n), 1, 'the procedure came along');
    });
  });

  it('quotes names: a database named with backticks and quotes round-trips; bad names are refused', async (t) => {
    const p = newPrefix();
    t.after(() => dropAll(p));
    const d = driverFor();
    const odd = `${p}a\`b'c"d e`;
    await seed(odd);
    assert.ok((await d.listUnits()).includes(odd));
    const dump = await drain((await d.backup(odd)).stream);
    const into = `${p}x\`; DROP DATABASE mysql; --`;
    await d.restore(odd, Readable.from([dump]), 'mariadb-dump-sql', { into });
    assert.deepEqual(await d.digest(into), await d.digest(odd));
    const usage = (e: unknown) => e instanceof SafeholdError && e.code === 'USAGE';
    for (const bad of [`${p}nul\0`, 'x'.repeat(65), `${p}trailing `, ''])
      await assert.rejects(d.backup(bad), usage, JSON.stringify(bad));
    await assert.rejects(
      d.restore(odd, Readable.from([dump]), 'mariadb-dump-sql', { into: 'mysql', clean: true }),
      usage,
    );
    await assert.rejects(d.drop('sys'), usage);
    await assert.rejects(d.restore(odd, Readable.from([dump]), 'pg_dump-custom', { into: `${p}fmt` }), usage);
    assert.equal(await d.exists(`${p}fmt`), false);
  });

  it('a user with a password backs up and restores (password via MYSQL_PWD); a wrong password fails without showing it', async (t) => {
    const p = newPrefix();
    const user = `${p}u`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    t.after(async () => {
      await admin((c) => c.query(`DROP USER IF EXISTS ${q(user)}@'127.0.0.1'`));
      await dropAll(p);
    });
    await admin((c) =>
      c.query(`CREATE USER ${q(user)}@'127.0.0.1' IDENTIFIED BY '${password}';
      GRANT ALL PRIVILEGES ON ${q(`${p.replace(/_/g, '\\_')}%`)}.* TO ${q(user)}@'127.0.0.1'`),
    );
    await admin((c) =>
      c.query(`CREATE DATABASE ${q(`${p}plain`)}; CREATE TABLE ${q(`${p}plain`)}.t (id INT PRIMARY KEY, v VARCHAR(20));
      INSERT INTO ${q(`${p}plain`)}.t VALUES (1, 'one'), (2, NULL)`),
    );
    const d = driverFor({ user, password });
    assert.equal((await d.available()).ok, true);
    const dump = await drain((await d.backup(`${p}plain`)).stream);
    assert.ok(!dump.toString().includes(password));
    await d.restore(`${p}plain`, Readable.from([dump]), 'mariadb-dump-sql', { into: `${p}plain2` });
    assert.deepEqual(await d.digest(`${p}plain2`), await d.digest(`${p}plain`));

    const wrong = driverFor({ user: 'root', password: 'Wr0ng-s3cret-pw' });
    const down = await wrong.available();
    assert.ok(!down.ok && /Access denied/.test(down.reason), 'the real cause is given');
    assert.ok(!JSON.stringify(down).includes('Wr0ng-s3cret-pw'), 'and never the password');
    for (const attempt of [() => wrong.listUnits(), () => wrong.backup(`${p}plain`), () => wrong.digest(`${p}plain`)]) {
      await assert.rejects(
        attempt(),
        (e: unknown) =>
          e instanceof SafeholdError &&
          e.code === 'IO' &&
          /Access denied/.test(e.message) &&
          !e.message.includes('Wr0ng-s3cret-pw') &&
          !e.retryable,
      );
    }
  });

  it('the client programs get the password in MYSQL_PWD and no other secret of the environment', async (t) => {
    const p = newPrefix();
    const user = `${p}u`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'shtest-bin-'));
    const saved = {
      SAFEHOLD_PASSWORD: process.env.SAFEHOLD_PASSWORD,
      SHTEST_OTHER_SECRET: process.env.SHTEST_OTHER_SECRET,
      MYSQL_PWD: process.env.MYSQL_PWD,
    };
    t.after(async () => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      fs.rmSync(bin, { recursive: true, force: true });
      await admin((c) => c.query(`DROP USER IF EXISTS ${q(user)}@'127.0.0.1'`));
      await dropAll(p);
    });
    await admin((c) =>
      c.query(`CREATE USER ${q(user)}@'127.0.0.1' IDENTIFIED BY '${password}';
      GRANT ALL PRIVILEGES ON ${q(`${p.replace(/_/g, '\\_')}%`)}.* TO ${q(user)}@'127.0.0.1'`),
    );
    await admin((c) =>
      c.query(
        `CREATE DATABASE ${q(`${p}src`)}; CREATE TABLE ${q(`${p}src`)}.t (id INT PRIMARY KEY); INSERT INTO ${q(`${p}src`)}.t VALUES (1)`,
      ),
    );
    // mariadb-dump itself, seen through a wrapper that records the environment it was given.
    const real = execFileSync('sh', ['-c', 'command -v mariadb-dump'], { encoding: 'utf8' }).trim();
    const envFile = path.join(bin, 'dump.env');
    fs.writeFileSync(path.join(bin, 'mariadb-dump'), `#!/bin/sh\nenv > '${envFile}'\nexec '${real}' "$@"\n`, {
      mode: 0o755,
    });
    Object.assign(process.env, {
      SAFEHOLD_PASSWORD: 'repo-pw-5e1f',
      SHTEST_OTHER_SECRET: 'other-secret-9c2d',
      MYSQL_PWD: 'parent-pw-0a0a',
    });
    const dump = await drain((await driverFor({ user, password, binDir: bin }).backup(`${p}src`)).stream);
    assert.match(dump.toString(), /INSERT INTO/);
    const env = new Map(
      fs
        .readFileSync(envFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    assert.equal(env.get('MYSQL_PWD'), password);
    assert.equal(env.get('PATH'), process.env.PATH);
    for (const name of ['SAFEHOLD_PASSWORD', 'SHTEST_OTHER_SECRET']) assert.equal(env.has(name), false, name);
    assert.ok(
      ![...env.values()].some(
        (v) => v.includes('repo-pw-5e1f') || v.includes('other-secret-9c2d') || v.includes('parent-pw-0a0a'),
      ),
    );
  });

  it('a dump program that fails midway fails the stream after its output, with its last error line', async (t) => {
    const p = newPrefix();
    t.after(() => dropAll(p));
    const db = `${p}broken`;
    await admin((c) =>
      c.query(`CREATE DATABASE ${q(db)}; CREATE TABLE ${q(db)}.a (x INT); INSERT INTO ${q(db)}.a VALUES (1);
      CREATE TABLE ${q(db)}.b (y INT); CREATE VIEW ${q(db)}.v AS SELECT y FROM ${q(db)}.b; DROP TABLE ${q(db)}.b`),
    );
    const b = await driverFor().backup(db);
    let bytes = 0;
    await assert.rejects(
      async () => {
        for await (const c of b.stream) bytes += (c as Buffer).length;
      },
      (e: unknown) =>
        e instanceof SafeholdError &&
        e.code === 'IO' &&
        e.message.includes('mariadb-dump of') &&
        /references invalid table/.test(e.message),
    );
    assert.ok(bytes > 0, 'the part of the dump written before the failure was delivered');
  });

  it('missing client programs are named; a restore that cannot run drops what it created', async (t) => {
    const p = newPrefix();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'shtest-nobin-'));
    t.after(async () => {
      fs.rmSync(empty, { recursive: true, force: true });
      await dropAll(p);
    });
    await seed(`${p}src`);
    const d = driverFor({ binDir: empty });
    await assert.rejects(
      async () => drain((await d.backup(`${p}src`)).stream),
      (e: unknown) =>
        e instanceof SafeholdError &&
        e.code === 'IO' &&
        e.message.includes('mariadb-dump is not installed (or not on PATH)'),
    );
    const dump = await drain((await driverFor().backup(`${p}src`)).stream);
    await assert.rejects(
      d.restore(`${p}src`, Readable.from([dump]), 'mariadb-dump-sql', { into: `${p}new` }),
      (e: unknown) =>
        e instanceof SafeholdError &&
        e.code === 'IO' &&
        e.message.includes('mariadb is not installed (or not on PATH)'),
    );
    assert.equal(await d.exists(`${p}new`), false);
  });

  it('a dump cut at a statement boundary is refused as incomplete', async (t) => {
    const p = newPrefix();
    t.after(() => dropAll(p));
    await seed(`${p}src`);
    const d = driverFor();
    const sql = (await drain((await d.backup(`${p}src`)).stream)).toString();
    const cut = sql.slice(0, sql.indexOf(';\n', sql.indexOf('INSERT INTO `order lines`')) + 2);
    assert.match(cut, /\);\n$/);
    await assert.rejects(
      d.restore(`${p}src`, Readable.from([cut]), 'mariadb-dump-sql', { into: `${p}cut` }),
      (e: unknown) => e instanceof SafeholdError && e.code === 'CORRUPT' && e.message.includes('incomplete'),
    );
    assert.equal(await d.exists(`${p}cut`), false);
  });

  it('cancelling ends a backup and a restore with CANCELLED; the cancelled restore drops its database', async (t) => {
    const p = newPrefix();
    t.after(() => dropAll(p));
    await seed(`${p}src`);
    const d = driverFor();
    const ac = new AbortController();
    const b = await d.backup(`${p}src`, { signal: ac.signal });
    ac.abort();
    const cancelled = (e: unknown) => e instanceof SafeholdError && e.code === 'CANCELLED';
    await assert.rejects(drain(b.stream), cancelled);
    const dump = await drain((await d.backup(`${p}src`)).stream);
    const input = new Readable({ read() {} });
    input.push(dump.subarray(0, dump.length >> 1));
    const ac2 = new AbortController();
    const restoring = d.restore(`${p}src`, input, 'mariadb-dump-sql', { into: `${p}half`, signal: ac2.signal });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await d.exists(`${p}half`), true, 'the restore is under way');
    ac2.abort();
    await assert.rejects(restoring, cancelled);
    assert.equal(await d.exists(`${p}half`), false);
    assert.equal(input.destroyed, true, 'the input is released');
  });

  it('a dump over its time limit fails; bad settings are CONFIG errors', async (t) => {
    const p = newPrefix();
    t.after(() => dropAll(p));
    await seed(`${p}src`);
    const b = await driverFor({ operationTimeoutMs: 1 }).backup(`${p}src`);
    await assert.rejects(
      drain(b.stream),
      (e: unknown) =>
        e instanceof SafeholdError && e.code === 'IO' && /did not finish within 1 ms/.test(e.message) && e.retryable,
    );
    for (const bad of [{ port: 0 }, { host: '' }, { user: '' }, { timeoutMs: 0 }, { operationTimeoutMs: -1 }]) {
      assert.throws(
        () => driverFor(bad),
        (e: unknown) => e instanceof SafeholdError && e.code === 'CONFIG',
        JSON.stringify(bad),
      );
    }
  });

  it('the digest tells NULL from empty and is independent of row order', async (t) => {
    const p = newPrefix();
    t.after(() => dropAll(p));
    const d = driverFor();
    const [a, b, c] = [`${p}a`, `${p}b`, `${p}c`];
    await admin((conn) =>
      conn.query(`CREATE DATABASE ${q(a)}; CREATE DATABASE ${q(b)}; CREATE DATABASE ${q(c)};
      CREATE TABLE ${q(a)}.t (k INT, v VARCHAR(10)); INSERT INTO ${q(a)}.t VALUES (1, 'x'), (2, ''), (2, ''), (3, NULL);
      CREATE TABLE ${q(b)}.t (k INT, v VARCHAR(10)); INSERT INTO ${q(b)}.t VALUES (3, NULL), (2, ''), (1, 'x'), (2, '');
      CREATE TABLE ${q(c)}.t (k INT, v VARCHAR(10)); INSERT INTO ${q(c)}.t VALUES (1, 'x'), (2, ''), (2, NULL), (3, NULL);`),
    );
    const [da, db, dc] = [await d.digest(a), await d.digest(b), await d.digest(c)];
    assert.deepEqual(da, db);
    assert.equal(da.tables.t!.rows, 4);
    assert.match(da.tables.t!.checksum, /^[0-9a-f]{32}$/);
    assert.notEqual(dc.tables.t!.checksum, da.tables.t!.checksum);
  });
});

describe('renaming the database in trigger headers', () => {
  const dump = [
    '-- Host: x    Database: shop\n',
    "INSERT INTO `t` VALUES\n(1,'/*!50003 CREATE*/ shop.x'),\n(2,'shop.');\n",
    'DELIMITER ;;\n',
    '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER shop.audit BEFORE INSERT ON shop.orders FOR EACH ROW SET NEW.a = shop.f() */;;\n',
    '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER `shop`.tr\n BEFORE UPDATE ON\n `shop` . `order lines` FOR EACH ROW BEGIN\n SET @x = 1;\nEND */;;\n',
    '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER plain AFTER DELETE ON orders FOR EACH ROW INSERT INTO other.log VALUES (1) */;;\n',
    '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER other.t2 AFTER DELETE ON other.orders FOR EACH ROW SET @y = 2 */;;\n',
    'DELIMITER ;\n-- Dump completed\n',
  ].join('');
  const want = dump
    .replace(
      'TRIGGER shop.audit BEFORE INSERT ON shop.orders',
      'TRIGGER `new``db`.audit BEFORE INSERT ON `new``db`.orders',
    )
    .replace(
      'TRIGGER `shop`.tr\n BEFORE UPDATE ON\n `shop` . `order lines`',
      'TRIGGER `new``db`.tr\n BEFORE UPDATE ON\n `new``db`.`order lines`',
    );

  it('rewrites only the qualifiers naming the original database, whatever the chunking', async () => {
    const bytes = Buffer.from(dump);
    for (const size of [1, 2, 7, 17, 18, 64, bytes.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const out = await drain(Readable.from(renameTriggers(Readable.from(chunks), 'shop', 'new`db')));
      assert.equal(out.toString(), want, `chunks of ${size}`);
    }
  });
});
