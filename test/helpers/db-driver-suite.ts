// The one suite every database driver passes (S8): back up a unit, mutate
// it, back it up again, restore both generations into new names and compare
// their content digests (row count and checksum of every table) with the
// source at each time; plus existing-name refusal and --clean, listing,
// dropping, a missing unit, an unreachable server, and a dump program that
// fails. Each driver's test file calls dbDriverSuite with its fixture.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { DbDriver } from '../../src/drivers/db/driver.ts';
import { SafeholdError } from '../../src/core/errors.ts';
import { NoMatchError } from '../../src/drivers/no-match.ts';

export interface DbFixture {
  /** A driver connected to the real server (or directory of files). */
  driver: DbDriver;
  /** A driver for the same kind that cannot reach its server (wrong port, missing directory). */
  unreachable: DbDriver;
  /** Creates unit `unit` with at least two tables and some rows (types worth checking: text with newlines and quotes, NULLs, numbers, timestamps, bytes). */
  seed(unit: string): Promise<void>;
  /** Changes `unit`: inserts, updates and deletes rows in more than one table. */
  mutate(unit: string): Promise<void>;
  /** Removes what the fixture made (units it knows of, named with its prefix). */
  cleanup(): Promise<void>;
  /** A fresh unit name unique to this run (the driver's naming rules). */
  name(tag: string): string;
}

async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(parts);
}

export function dbDriverSuite(title: string, make: () => Promise<DbFixture>): void {
  describe(`${title}: the database driver suite`, () => {
    it('backs up, mutates, backs up; both generations restore into new names with the content of their time', async (t) => {
      const f = await make();
      t.after(() => f.cleanup());
      const unit = f.name('src');
      await f.seed(unit);
      assert.ok((await f.driver.listUnits()).includes(unit), 'the new unit is listed');
      assert.equal(await f.driver.exists(unit), true);
      const before = await f.driver.digest(unit);
      assert.ok(Object.keys(before.tables).length >= 2, 'at least two tables');
      assert.ok(Object.values(before.tables).every((x) => x.rows > 0 && /^[0-9a-f]{16,}$/.test(x.checksum)));
      const b1 = await f.driver.backup(unit);
      const dump1 = await drain(b1.stream);
      assert.ok(dump1.length > 0);
      await f.mutate(unit);
      const after = await f.driver.digest(unit);
      assert.notDeepEqual(after, before, 'the mutation changed the digest');
      const b2 = await f.driver.backup(unit);
      const dump2 = await drain(b2.stream);
      const r1 = f.name('r1');
      const r2 = f.name('r2');
      await f.driver.restore(unit, Readable.from([dump1]), b1.format, { into: r1 });
      await f.driver.restore(unit, Readable.from([dump2]), b2.format, { into: r2 });
      assert.deepEqual(await f.driver.digest(r1), before, 'generation 1 restored as it was');
      assert.deepEqual(await f.driver.digest(r2), after, 'generation 2 restored as it was');
      assert.deepEqual(await f.driver.digest(unit), after, 'the source is untouched');
    });

    it('refuses to restore over an existing unit without clean; with clean replaces it', async (t) => {
      const f = await make();
      t.after(() => f.cleanup());
      const unit = f.name('src');
      await f.seed(unit);
      const want = await f.driver.digest(unit);
      const b = await f.driver.backup(unit);
      const dump = await drain(b.stream);
      const other = f.name('other');
      await f.seed(other);
      await f.mutate(other);
      const otherDigest = await f.driver.digest(other);
      await assert.rejects(
        f.driver.restore(unit, Readable.from([dump]), b.format, { into: other }),
        (e: unknown) => e instanceof SafeholdError && e.code === 'RESTORE_TARGET' && e.message.includes(other),
      );
      assert.deepEqual(await f.driver.digest(other), otherDigest, 'nothing was changed by the refused restore');
      await f.driver.restore(unit, Readable.from([dump]), b.format, { into: other, clean: true });
      assert.deepEqual(await f.driver.digest(other), want);
    });

    it('drops a unit; a missing unit, an empty target and an unreachable server fail with clear errors', async (t) => {
      const f = await make();
      t.after(() => f.cleanup());
      const unit = f.name('gone');
      const kept = f.name('kept');
      await f.seed(unit);
      await f.seed(kept);
      await f.driver.drop(unit);
      assert.equal(await f.driver.exists(unit), false);
      const listed = await f.driver.listUnits();
      assert.ok(!listed.includes(unit) && listed.includes(kept));
      // Once the target's filter matches nothing, listing fails rather than answering with nothing.
      await f.driver.drop(kept);
      await assert.rejects(
        f.driver.listUnits(),
        (e: unknown) =>
          e instanceof NoMatchError && e.code === 'NOT_FOUND' && / of target \S+ matches '/.test(e.message),
      );
      await assert.rejects(
        async () => drain((await f.driver.backup(unit)).stream),
        (e: unknown) => e instanceof SafeholdError && e.code === 'NOT_FOUND' && e.message.includes(unit),
      );
      const down = await f.unreachable.available();
      assert.ok(!down.ok && down.reason.length > 0, 'an unreachable server says why');
      await assert.rejects(f.unreachable.listUnits(), (e: unknown) => e instanceof SafeholdError && e.code === 'IO');
    });

    it('a damaged dump fails the restore with an error and leaves no half-restored unit under the name', async (t) => {
      const f = await make();
      t.after(() => f.cleanup());
      const unit = f.name('src');
      await f.seed(unit);
      const b = await f.driver.backup(unit);
      const dump = await drain(b.stream);
      const cut = dump.subarray(0, Math.floor(dump.length * 0.6));
      const into = f.name('cut');
      await assert.rejects(
        f.driver.restore(unit, Readable.from([cut]), b.format, { into }),
        (e: unknown) => e instanceof SafeholdError,
      );
      assert.equal(await f.driver.exists(into), false, 'a failed restore into a new name removes what it created');
    });

    it('declares its capabilities', async (t) => {
      const f = await make();
      t.after(() => f.cleanup());
      const c = f.driver.capabilities;
      for (const k of ['online', 'quiesce', 'units', 'staging', 'physical'] as const)
        assert.equal(typeof c[k], 'boolean', k);
      assert.equal(c.online, true, 'every database driver here backs up online');
    });
  });
}
