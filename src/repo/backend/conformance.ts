// The conformance suite every Backend must pass: registers node:test tests
// for one backend implementation. `make` returns a fresh, not yet created
// backend and a cleanup function for each test.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FILE_TYPES, removeFiles } from './backend.ts';
import type { Backend, FileInfo, FileType, Handle } from './backend.ts';
import { isSafeholdError } from '../../core/errors.ts';
import type { ErrorCode } from '../../core/errors.ts';

type MakeBackend = () => Promise<{ backend: Backend; cleanup: () => Promise<void> }>;

const MiB = 1024 * 1024;

/** A random 64-hex-digit name, like the ids the repository uses. */
function id(): string {
  return randomBytes(32).toString('hex');
}

/** Deterministic bytes that differ per seed, so mixed-up files are caught. */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSafeholdError(e), `expected a SafeholdError, got ${String(e)}`);
    assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return true;
  });
}

function sorted(list: FileInfo[]): FileInfo[] {
  return [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Compares buffers without dumping megabytes into a failure message. */
function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  assert.ok(
    Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected),
    `${what}: content differs`,
  );
}

export function backendConformanceSuite(name: string, make: MakeBackend): void {
  async function withBackend(fn: (b: Backend) => Promise<void>, create = true): Promise<void> {
    const { backend, cleanup } = await make();
    try {
      if (create) await backend.create();
      await fn(backend);
    } finally {
      await backend.close();
      await cleanup();
    }
  }

  describe(`backend conformance: ${name}`, () => {
    it('a fresh backend is empty and not initialised', () =>
      withBackend(async (b) => {
        assert.equal(typeof b.location, 'string');
        assert.equal(await b.exists(), false);
        for (const t of FILE_TYPES) assert.deepEqual(await b.list(t), [], `list(${t})`);
        await rejectsWith(b.load({ type: 'config', name: 'config' }), 'NOT_FOUND');
        await rejectsWith(b.stat({ type: 'data', name: id() }), 'NOT_FOUND');
        await b.remove({ type: 'keys', name: id() });
      }, false));

    it('create, then saving a config, makes exists() true', () =>
      withBackend(async (b) => {
        assert.equal(await b.exists(), false, 'no config yet');
        for (const t of FILE_TYPES) assert.deepEqual(await b.list(t), [], `list(${t}) after create`);
        await b.save({ type: 'config', name: 'config' }, Buffer.from('cfg'));
        assert.equal(await b.exists(), true);
        assert.deepEqual(await b.list('config'), [{ name: 'config', size: 3 }]);
      }));

    it('create is repeatable until a config exists, then fails with REPO_EXISTS', () =>
      withBackend(async (b) => {
        await b.create();
        await b.save({ type: 'config', name: 'config' }, Buffer.from('original'));
        await rejectsWith(b.create(), 'REPO_EXISTS');
        sameBytes(
          await b.load({ type: 'config', name: 'config' }),
          Buffer.from('original'),
          'config after failed create',
        );
      }));

    it('save and load round-trip every file type', () =>
      withBackend(async (b) => {
        const saved = new Map<FileType, { h: Handle; data: Buffer }>();
        for (const [i, t] of FILE_TYPES.entries()) {
          const h = { type: t, name: t === 'config' ? 'config' : id() };
          const data = pattern(100 + i * 37, i);
          await b.save(h, data);
          saved.set(t, { h, data });
        }
        for (const [t, { h, data }] of saved) {
          const got = await b.load(h);
          assert.ok(Buffer.isBuffer(got), `load(${t}) returns a Buffer`);
          sameBytes(got, data, `load(${t})`);
        }
      }));

    it('the name of the config is ignored', () =>
      withBackend(async (b) => {
        await b.save({ type: 'config', name: 'whatever' }, Buffer.from('c1'));
        sameBytes(await b.load({ type: 'config', name: 'config' }), Buffer.from('c1'), 'load');
        assert.deepEqual(await b.stat({ type: 'config', name: 'other' }), { name: 'config', size: 2 });
      }));

    it('the same name in different types names different files', () =>
      withBackend(async (b) => {
        const name = id();
        const types = FILE_TYPES.filter((t) => t !== 'config');
        for (const [i, t] of types.entries()) await b.save({ type: t, name }, pattern(50 + i, i));
        for (const [i, t] of types.entries()) sameBytes(await b.load({ type: t, name }), pattern(50 + i, i), t);
        await b.remove({ type: 'data', name });
        await rejectsWith(b.load({ type: 'data', name }), 'NOT_FOUND');
        const ix = types.indexOf('index');
        sameBytes(await b.load({ type: 'index', name }), pattern(50 + ix, ix), 'index survives removal of data');
      }));

    it('ranged loads return exactly the requested bytes', () =>
      withBackend(async (b) => {
        const h: Handle = { type: 'data', name: id() };
        const data = pattern(1000, 3);
        await b.save(h, data);
        const cases: [number, number | undefined][] = [
          [0, 10],
          [0, 1],
          [500, 100],
          [990, 10],
          [999, 1],
          [0, 1000],
          [0, 0],
          [500, 0],
          [1000, 0],
          [400, undefined],
          [1000, undefined],
          [0, undefined],
        ];
        for (const [off, len] of cases) {
          const got = await b.load(h, off, len);
          const want = data.subarray(off, len === undefined ? undefined : off + len);
          sameBytes(got, want, `load(${off}, ${len})`);
        }
      }));

    it('a range past the end fails with CORRUPT', () =>
      withBackend(async (b) => {
        const h: Handle = { type: 'data', name: id() };
        await b.save(h, pattern(1000, 4));
        await rejectsWith(b.load(h, 995, 10), 'CORRUPT');
        await rejectsWith(b.load(h, 0, 1001), 'CORRUPT');
        await rejectsWith(b.load(h, 1001, 0), 'CORRUPT');
        await rejectsWith(b.load(h, 1001), 'CORRUPT');
        await rejectsWith(b.load(h, 5000, 10), 'CORRUPT');
        const empty: Handle = { type: 'index', name: id() };
        await b.save(empty, new Uint8Array(0));
        await rejectsWith(b.load(empty, 0, 1), 'CORRUPT');
        sameBytes(await b.load(empty), Buffer.alloc(0), 'empty file');
      }));

    it('invalid ranges and names are rejected', () =>
      withBackend(async (b) => {
        const h: Handle = { type: 'data', name: id() };
        await b.save(h, pattern(10, 5));
        await assert.rejects(b.load(h, -1, 1), (e: unknown) => isSafeholdError(e));
        await assert.rejects(b.load(h, 0, -1), (e: unknown) => isSafeholdError(e));
        await assert.rejects(b.load(h, 0.5, 1), (e: unknown) => isSafeholdError(e));
        for (const bad of ['', '.', '..', '../config', 'a/b', 'a\\b', '.hidden', 'x\0y']) {
          await assert.rejects(
            b.save({ type: 'keys', name: bad }, Buffer.from('x')),
            (e: unknown) => isSafeholdError(e),
            `save ${JSON.stringify(bad)}`,
          );
          await assert.rejects(
            b.load({ type: 'data', name: bad }),
            (e: unknown) => isSafeholdError(e),
            `load ${JSON.stringify(bad)}`,
          );
        }
        assert.deepEqual(await b.list('keys'), []);
        assert.equal(await b.exists(), false, 'no config was written through a crafted name');
      }));

    it('loading or stating a missing file fails with NOT_FOUND', () =>
      withBackend(async (b) => {
        for (const t of FILE_TYPES) {
          const h = { type: t, name: t === 'config' ? 'config' : id() };
          await rejectsWith(b.load(h), 'NOT_FOUND');
          await rejectsWith(b.load(h, 0, 1), 'NOT_FOUND');
          await rejectsWith(b.load(h, 0, 0), 'NOT_FOUND');
          await rejectsWith(b.stat(h), 'NOT_FOUND');
        }
      }));

    it('stat reports sizes', () =>
      withBackend(async (b) => {
        for (const [i, size] of [0, 1, 4096, 100_000].entries()) {
          const h: Handle = { type: 'snapshots', name: id() };
          await b.save(h, pattern(size, i));
          assert.deepEqual(await b.stat(h), { name: h.name, size });
        }
      }));

    it('list returns exactly what was saved, per type', () =>
      withBackend(async (b) => {
        const expected = new Map<FileType, FileInfo[]>();
        for (const [i, t] of FILE_TYPES.entries()) {
          const infos: FileInfo[] = [];
          const count = t === 'config' ? 1 : 3 + i;
          for (let j = 0; j < count; j++) {
            // Two data names share a prefix, so one data/xx directory holds several files.
            const name =
              t === 'config' ? 'config' : j === 1 && t === 'data' ? infos[0]!.name.slice(0, 2) + id().slice(2) : id();
            const size = 10 * i + j;
            await b.save({ type: t, name }, pattern(size, j));
            infos.push({ name, size });
          }
          expected.set(t, infos);
        }
        for (const t of FILE_TYPES) assert.deepEqual(sorted(await b.list(t)), sorted(expected.get(t)!), `list(${t})`);
      }));

    it('remove deletes a file; removing a missing file is not an error', () =>
      withBackend(async (b) => {
        const keep: Handle = { type: 'locks', name: id() };
        const gone: Handle = { type: 'locks', name: id() };
        await b.save(keep, Buffer.from('keep'));
        await b.save(gone, Buffer.from('gone'));
        await b.remove(gone);
        await rejectsWith(b.load(gone), 'NOT_FOUND');
        await rejectsWith(b.stat(gone), 'NOT_FOUND');
        assert.deepEqual(await b.list('locks'), [{ name: keep.name, size: 4 }]);
        await b.remove(gone);
        await b.remove({ type: 'data', name: id() });
        await b.save({ type: 'config', name: 'config' }, Buffer.from('c'));
        await b.remove({ type: 'config', name: 'config' });
        assert.equal(await b.exists(), false);
        assert.deepEqual(await b.list('config'), []);
      }));

    it('removeMany removes a batch, missing names included, and nothing else', (t) =>
      withBackend(async (b) => {
        const removeMany = b.removeMany?.bind(b);
        if (!removeMany) return t.skip('this backend has no removeMany');
        await removeMany([]);
        const keep: Handle = { type: 'data', name: id() };
        const gone: Handle[] = Array.from({ length: 25 }, (_, i) => ({ type: i % 2 ? 'data' : 'index', name: id() }));
        for (const h of [keep, ...gone]) await b.save(h, Buffer.from(h.name.slice(0, 5)));
        const missing: Handle[] = [
          { type: 'data', name: id() },
          { type: 'locks', name: id() },
        ];
        await removeMany([...gone, ...missing, gone[0]!]);
        for (const h of gone) await rejectsWith(b.stat(h), 'NOT_FOUND');
        assert.deepEqual(await b.list('data'), [{ name: keep.name, size: 5 }]);
        assert.deepEqual(await b.list('index'), []);
        await removeMany(gone);
      }));

    it('removeFiles removes many files in parallel or in batches', () =>
      withBackend(async (b) => {
        const hs: Handle[] = Array.from({ length: 40 }, () => ({ type: 'snapshots', name: id() }));
        await Promise.all(hs.map((h) => b.save(h, Buffer.from('s'))));
        await removeFiles(b, [...hs.slice(10), { type: 'snapshots', name: id() }], 3);
        assert.deepEqual(
          sorted(await b.list('snapshots')),
          sorted(hs.slice(0, 10).map((h) => ({ name: h.name, size: 1 }))),
        );
        await removeFiles(b, []);
      }));

    it('saving over an existing file replaces it whole', () =>
      withBackend(async (b) => {
        const h: Handle = { type: 'index', name: id() };
        await b.save(h, pattern(2 * MiB, 1));
        await b.save(h, pattern(10, 2));
        sameBytes(await b.load(h), pattern(10, 2), 'after shrinking overwrite');
        assert.deepEqual(await b.stat(h), { name: h.name, size: 10 });
        assert.deepEqual(await b.list('index'), [{ name: h.name, size: 10 }]);
      }));

    it('readers during an overwrite see the old or the new file, never a mix', () =>
      withBackend(async (b) => {
        const h: Handle = { type: 'data', name: id() };
        const old = pattern(1 * MiB, 1);
        const neu = pattern(3 * MiB, 2);
        await b.save(h, old);
        let done = false;
        const saving = b.save(h, neu).finally(() => {
          done = true;
        });
        const seen: Buffer[] = [];
        do {
          seen.push(...(await Promise.all([b.load(h), b.load(h), b.load(h, 0, 4096)])));
        } while (!done);
        await saving;
        seen.push(await b.load(h));
        for (const [i, got] of seen.entries()) {
          const full = got.byteLength === 4096 ? [old.subarray(0, 4096), neu.subarray(0, 4096)] : [old, neu];
          assert.ok(
            full.some((want) => got.equals(want)),
            `read ${i} (${got.byteLength} bytes) is neither the old nor the new file`,
          );
        }
        sameBytes(seen.at(-1)!, neu, 'final read');
      }));

    it('a 20 MiB file round-trips', () =>
      withBackend(async (b) => {
        const h: Handle = { type: 'data', name: id() };
        const data = randomBytes(20 * MiB);
        await b.save(h, data);
        assert.deepEqual(await b.stat(h), { name: h.name, size: 20 * MiB });
        sameBytes(await b.load(h), data, 'whole');
        sameBytes(await b.load(h, 20 * MiB - 1024, 1024), data.subarray(20 * MiB - 1024), 'last KiB');
        sameBytes(await b.load(h, 7 * MiB + 3, 5 * MiB), data.subarray(7 * MiB + 3, 12 * MiB + 3), 'middle 5 MiB');
      }));

    it('500 concurrent saves are all stored and listed', () =>
      withBackend(async (b) => {
        const expected: FileInfo[] = [];
        const saves: Promise<void>[] = [];
        for (let i = 0; i < 500; i++) {
          const name = id();
          expected.push({ name, size: i });
          saves.push(b.save({ type: 'data', name }, pattern(i, i)));
        }
        await Promise.all(saves);
        assert.deepEqual(sorted(await b.list('data')), sorted(expected));
        const loaded = await Promise.all(expected.map((f) => b.load({ type: 'data', name: f.name })));
        for (let i = 0; i < 500; i++) sameBytes(loaded[i]!, pattern(i, i), `file ${i}`);
      }));

    it('stored data is isolated from the buffers passed to save and returned by load', () =>
      withBackend(async (b) => {
        const h: Handle = { type: 'keys', name: id() };
        const data = pattern(256, 9);
        const original = Buffer.from(data);
        await b.save(h, data);
        data.fill(0);
        const first = await b.load(h);
        sameBytes(first, original, 'after mutating the saved buffer');
        first.fill(1);
        const second = await b.load(h);
        sameBytes(second, original, 'after mutating a loaded buffer');
        assert.notEqual(first.buffer, second.buffer, 'two loads share memory');
        const part = await b.load(h, 10, 20);
        part.fill(2);
        sameBytes(await b.load(h), original, 'after mutating a ranged load');
      }));

    it('saving a view stores only the viewed bytes', () =>
      withBackend(async (b) => {
        const whole = new Uint8Array(100).map((_, i) => i);
        const h: Handle = { type: 'snapshots', name: id() };
        await b.save(h, whole.subarray(10, 20));
        sameBytes(await b.load(h), whole.subarray(10, 20), 'view of a plain Uint8Array');
        const buf = pattern(100, 1);
        await b.save(h, buf.subarray(50));
        sameBytes(await b.load(h), buf.subarray(50), 'view of a Buffer');
      }));

    it('saveNew creates a file and refuses an existing name with ALREADY_EXISTS', (t) =>
      withBackend(async (b) => {
        if (!b.saveNew) return t.skip('this backend has no saveNew');
        const h: Handle = { type: 'locks', name: id() };
        await b.saveNew(h, Buffer.from('first'));
        sameBytes(await b.load(h), Buffer.from('first'), 'created');
        await rejectsWith(b.saveNew(h, Buffer.from('second')), 'ALREADY_EXISTS');
        sameBytes(await b.load(h), Buffer.from('first'), 'untouched by the refused saveNew');
        assert.deepEqual(await b.list('locks'), [{ name: h.name, size: 5 }]);
        const saved: Handle = { type: 'keys', name: id() };
        await b.save(saved, Buffer.from('by save'));
        await rejectsWith(b.saveNew(saved, Buffer.from('x')), 'ALREADY_EXISTS');
        await b.remove(h);
        await b.saveNew(h, Buffer.from('again'));
        sameBytes(await b.load(h), Buffer.from('again'), 'created again after remove');
        const data: Handle = { type: 'data', name: id() };
        await b.saveNew(data, pattern(3000, 8));
        sameBytes(await b.load(data, 1000, 10), pattern(3000, 8).subarray(1000, 1010), 'data file');
      }));

    it('saveNew of the config creates the repository once', (t) =>
      withBackend(async (b) => {
        if (!b.saveNew) return t.skip('this backend has no saveNew');
        await b.saveNew({ type: 'config', name: 'config' }, Buffer.from('cfg1'));
        assert.equal(await b.exists(), true);
        await rejectsWith(b.saveNew({ type: 'config', name: 'other' }, Buffer.from('cfg2')), 'ALREADY_EXISTS');
        sameBytes(await b.load({ type: 'config', name: 'config' }), Buffer.from('cfg1'), 'config');
      }));

    it('concurrent saveNew of one name: exactly one wins, whole', (t) =>
      withBackend(async (b) => {
        const saveNew = b.saveNew?.bind(b);
        if (!saveNew) return t.skip('this backend has no saveNew');
        for (const type of ['locks', 'wal', 'config'] as const) {
          const h: Handle = { type, name: type === 'config' ? 'config' : id() };
          const contents = Array.from({ length: 16 }, (_, i) => pattern(1000 + i * 100, i));
          const results: PromiseSettledResult<void>[] = await Promise.allSettled(contents.map((c) => saveNew(h, c)));
          const winners: number[] = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
          assert.equal(winners.length, 1, `${type}: exactly one saveNew succeeds (got ${winners.length})`);
          for (const r of results) {
            if (r.status === 'rejected') {
              assert.ok(isSafeholdError(r.reason, 'ALREADY_EXISTS'), `${type}: loser fails with ALREADY_EXISTS`);
            }
          }
          sameBytes(await b.load(h), contents[winners[0]!]!, `${type}: the winner's content is stored`);
          assert.equal((await b.list(type)).length, 1, `${type}: one file listed`);
        }
      }));

    it('wal files keep their plain names (dots, dashes, any length), apart from other types', (t) =>
      withBackend(async (b) => {
        const system = '7312345678901234567';
        const names = [
          `${system}-000000010000000000000003`,
          `${system}-00000002.history`,
          `${system}-000000010000000000000002.00000028.backup`,
          `${system}-000000010000000000000004.partial`,
        ];
        for (const [i, name] of names.entries()) await b.save({ type: 'wal', name }, pattern(100 + i, i));
        assert.deepEqual(
          sorted(await b.list('wal')),
          sorted(names.map((name, i) => ({ name, size: 100 + i }))),
          'list(wal)',
        );
        for (const [i, name] of names.entries()) {
          sameBytes(await b.load({ type: 'wal', name }), pattern(100 + i, i), name);
          sameBytes(await b.load({ type: 'wal', name }, 10, 20), pattern(100 + i, i).subarray(10, 30), `${name} range`);
          assert.deepEqual(await b.stat({ type: 'wal', name }), { name, size: 100 + i });
        }
        for (const other of FILE_TYPES.filter((x) => x !== 'wal' && x !== 'config')) {
          assert.deepEqual(await b.list(other), [], `nothing listed in ${other}`);
        }
        await removeFiles(b, [
          { type: 'wal', name: names[0]! },
          { type: 'wal', name: `${system}-000000010000000000000009` },
        ]);
        await rejectsWith(b.load({ type: 'wal', name: names[0]! }), 'NOT_FOUND');
        assert.equal((await b.list('wal')).length, names.length - 1);
        if (!b.saveNew) return t.skip('this backend has no saveNew');
        await rejectsWith(b.saveNew({ type: 'wal', name: names[1]! }, Buffer.from('other')), 'ALREADY_EXISTS');
        sameBytes(await b.load({ type: 'wal', name: names[1]! }), pattern(101, 1), 'untouched by the refused saveNew');
        await b.saveNew({ type: 'wal', name: names[0]! }, Buffer.from('again'));
        sameBytes(await b.load({ type: 'wal', name: names[0]! }), Buffer.from('again'), 'created after remove');
      }));

    it('binary content with all 256 byte values survives', () =>
      withBackend(async (b) => {
        const data = Buffer.alloc(1024);
        for (let i = 0; i < 1024; i++) data[i] = i < 512 ? i & 0xff : 255 - (i & 0xff);
        const h: Handle = { type: 'data', name: id() };
        await b.save(h, data);
        sameBytes(await b.load(h), data, 'whole');
        for (let i = 0; i < 256; i++) {
          const one = await b.load(h, i, 1);
          assert.equal(one.byteLength, 1);
          assert.equal(one[0], i, `byte at ${i}`);
        }
      }));
  });
}
