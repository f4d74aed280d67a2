// runSql against the real PostgreSQL and MariaDB servers of this machine:
// rows affected by a purge statement, server errors passed on, passwords
// never shown, connection failures marked retryable, a bad scheme refused.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SafeholdError } from '../../core/errors.ts';
import { redactDbUrl, runSql } from './sql-exec.ts';
import { sqlDialect } from '../../config/sql-url.ts';

const DB = `safehold_sql_${randomBytes(4).toString('hex')}`;
const PG = `postgres://postgres@127.0.0.1:5432`;
const MARIA = `mariadb://root@127.0.0.1:3306`;
const T = { timeoutMs: 10_000 };

const SEED = (now: string) => `CREATE TABLE events (id INT PRIMARY KEY, at TIMESTAMP NOT NULL);
INSERT INTO events VALUES (1, ${now} - INTERVAL '100' DAY), (2, ${now} - INTERVAL '95' DAY), (3, ${now} - INTERVAL '10' DAY), (4, ${now});`;

describe('runSql', () => {
  before(async () => {
    await runSql(`${PG}/postgres`, `CREATE DATABASE ${DB}`, T);
    await runSql(`${PG}/${DB}`, SEED('now()'), T);
    await runSql(`${MARIA}/`, `CREATE DATABASE ${DB}`, T);
    await runSql(`${MARIA}/${DB}`, SEED('NOW()'), T);
  });
  after(async () => {
    await runSql(`${PG}/postgres`, `DROP DATABASE IF EXISTS ${DB}`, T);
    await runSql(`${MARIA}/`, `DROP DATABASE IF EXISTS ${DB}`, T);
  });

  it('PostgreSQL: a DELETE reports the rows it removed, and they are gone', async () => {
    assert.deepEqual(await runSql(`${PG}/${DB}`, "DELETE FROM events WHERE at < now() - interval '90 days'", T), {
      rowsAffected: 2,
    });
    assert.deepEqual(await runSql(`${PG}/${DB}`, "DELETE FROM events WHERE at < now() - interval '90 days'", T), {
      rowsAffected: 0,
    });
    assert.deepEqual(
      await runSql(`${PG}/${DB}`, 'SELECT * FROM events', T),
      { rowsAffected: 0 },
      'a SELECT changes nothing',
    );
  });

  it('MariaDB: the same through mysql2 (mysql:// works too)', async () => {
    assert.deepEqual(await runSql(`${MARIA}/${DB}`, 'DELETE FROM events WHERE at < NOW() - INTERVAL 90 DAY', T), {
      rowsAffected: 2,
    });
    assert.deepEqual(
      await runSql(
        `mysql://root@127.0.0.1:3306/${DB}`,
        'DELETE FROM events WHERE id = 3; DELETE FROM events WHERE id = 4',
        T,
      ),
      { rowsAffected: 2 },
    );
  });

  it("a bad statement fails with the server's message, not retryable", async () => {
    await assert.rejects(
      runSql(`${PG}/${DB}`, 'DELETE FROM no_such_table', T),
      (e: unknown) =>
        e instanceof SafeholdError &&
        e.code === 'IO' &&
        !e.retryable &&
        /relation "no_such_table" does not exist/.test(e.message),
    );
    await assert.rejects(
      runSql(`${MARIA}/${DB}`, 'DELETE FROM no_such_table', T),
      (e: unknown) => e instanceof SafeholdError && /no_such_table' doesn't exist/.test(e.message),
    );
  });

  it('a wrong password is refused and never shown; a closed port is retryable', async () => {
    const pw = 'S3cret-Pw-xyz';
    await assert.rejects(runSql(`mariadb://root:${pw}@127.0.0.1:3306/${DB}`, 'SELECT 1', T), (e: unknown) => {
      assert.ok(e instanceof SafeholdError);
      assert.match(e.message, /^mariadb:\/\/root:\*\*\*@127\.0\.0\.1:3306\/.*Access denied/);
      assert.ok(!e.message.includes(pw));
      return true;
    });
    await assert.rejects(
      runSql(`postgres://u:${pw}@127.0.0.1:1/x`, 'SELECT 1', T),
      (e: unknown) =>
        e instanceof SafeholdError && e.retryable && /ECONNREFUSED/.test(e.message) && !e.message.includes(pw),
    );
  });

  it('only postgres and mariadb/mysql URLs are accepted', async () => {
    assert.equal(sqlDialect('postgresql://h/db'), 'postgres');
    assert.equal(sqlDialect('MySQL://h/db'), 'mariadb');
    assert.equal(sqlDialect('sqlite:///x'), null);
    await assert.rejects(
      runSql('oracle://u:pw@h/db', 'SELECT 1', T),
      (e: unknown) => e instanceof SafeholdError && e.code === 'CONFIG' && !e.message.includes(':pw@'),
    );
    assert.equal(redactDbUrl('postgres://u:p%40ss@h:5432/db'), 'postgres://u:***@h:5432/db');
  });
});
