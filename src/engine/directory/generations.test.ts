// Tests for plain-file generations (SPEC S2): rotation for each naming, a
// failed stream leaves the generations untouched, SIGKILLed writers never leave
// a partial file under a final name, and only closed generations are copied.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManualClock } from '../../core/clock.ts';
import { isSafeholdError } from '../../core/errors.ts';
import {
  cleanTemporaries,
  closedGenerations,
  copyClosedGenerations,
  generationTimestamp,
  writeGeneration,
} from './generations.ts';
import type { GenerationScheme } from './generations.ts';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-gen-'));
}

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

function sha(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** name → content of every file in dir. */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir).sort()) out[e] = fs.readFileSync(path.join(dir, e), 'utf8');
  return out;
}

describe('writeGeneration rotation', () => {
  it("naming 'old' keeps <name> and <name>.old over 5 writes", async () => {
    const dir = tmpDir();
    try {
      const s: GenerationScheme = { dir, name: 'cvp_backup_data', keep: 2, naming: 'old' };
      for (let i = 1; i <= 5; i++) {
        const r = await writeGeneration(s, chunks(`gen${i}`, '-body'));
        assert.equal(r.file, path.join(dir, 'cvp_backup_data'));
        assert.equal(r.size, `gen${i}-body`.length);
        assert.equal(r.sha256, sha(`gen${i}-body`));
        const expected: Record<string, string> = { cvp_backup_data: `gen${i}-body` };
        if (i > 1) expected['cvp_backup_data.old'] = `gen${i - 1}-body`;
        assert.deepEqual(contents(dir), expected);
      }
      assert.deepEqual(
        closedGenerations(s).map((g) => path.basename(g.file)),
        ['cvp_backup_data', 'cvp_backup_data.old'],
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const keep of [2, 3, 4]) {
    it(`naming 'numbered' with keep ${keep} over 5 writes`, async () => {
      const dir = tmpDir();
      try {
        const s: GenerationScheme = { dir, name: 'db.dump', keep, naming: 'numbered' };
        for (let i = 1; i <= 5; i++) {
          await writeGeneration(s, chunks(`g${i}`));
          const expected: Record<string, string> = {};
          for (let k = 0; k < Math.min(i, keep); k++) expected[k === 0 ? 'db.dump' : `db.dump.${k}`] = `g${i - k}`;
          assert.deepEqual(contents(dir), expected, `after write ${i}`);
        }
        const listed = closedGenerations(s);
        assert.deepEqual(
          listed.map((g) => path.basename(g.file)),
          ['db.dump', ...Array.from({ length: keep - 1 }, (_, k) => `db.dump.${k + 1}`)],
        );
        assert.ok(listed.every((g) => g.size === 2));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`naming 'timestamped' with keep ${keep} over 5 writes, newest also as <name>`, async () => {
      const dir = tmpDir();
      try {
        const clock = new ManualClock(Date.UTC(2026, 2, 4, 5, 6, 7));
        const s: GenerationScheme = { dir, name: 'site.tar.zst', keep, naming: 'timestamped' };
        const names: string[] = [];
        for (let i = 1; i <= 5; i++) {
          const r = await writeGeneration(s, chunks(`t${i}`), { clock });
          names.push(`site.tar.zst.${generationTimestamp(clock.now())}`);
          assert.equal(r.file, path.join(dir, names.at(-1)!));
          const expected: Record<string, string> = { 'site.tar.zst': `t${i}` };
          for (let k = 0; k < Math.min(i, keep); k++) expected[names[i - 1 - k]!] = `t${i - k}`;
          assert.deepEqual(contents(dir), expected, `after write ${i}`);
          await clock.advance(3_600_000 + 1000);
        }
        assert.equal(names[0], 'site.tar.zst.20260304T050607Z');
        assert.equal(names[1], 'site.tar.zst.20260304T060608Z');
        assert.deepEqual(
          closedGenerations(s).map((g) => path.basename(g.file)),
          names.slice(-keep).reverse(),
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('refuses a timestamped write that is not newer than the newest generation', async () => {
    const dir = tmpDir();
    try {
      const clock = new ManualClock();
      const s: GenerationScheme = { dir, name: 'x', keep: 3, naming: 'timestamped' };
      await writeGeneration(s, chunks('a'), { clock });
      await clock.advance(500); // same second
      await assert.rejects(writeGeneration(s, chunks('b'), { clock }), (e) => isSafeholdError(e, 'IO'));
      assert.deepEqual(Object.values(contents(dir)), ['a', 'a']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects unusable schemes', async () => {
    const dir = tmpDir();
    try {
      for (const s of [
        { dir, name: 'a', keep: 3, naming: 'old' },
        { dir, name: 'a/b', keep: 2, naming: 'numbered' },
        { dir, name: '..', keep: 2, naming: 'numbered' },
        { dir, name: 'a', keep: 0, naming: 'numbered' },
        { dir, name: 'a', keep: 2, naming: 'weekly' },
      ] as GenerationScheme[]) {
        await assert.rejects(writeGeneration(s, chunks('x')), (e) => isSafeholdError(e, 'CONFIG'), JSON.stringify(s));
      }
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finishes a rotation that was killed after <name> was linked as <name>.1', async () => {
    const dir = tmpDir();
    try {
      const s: GenerationScheme = { dir, name: 'n', keep: 3, naming: 'numbered' };
      fs.writeFileSync(path.join(dir, 'n'), 'A');
      fs.linkSync(path.join(dir, 'n'), path.join(dir, 'n.1'));
      fs.writeFileSync(path.join(dir, 'n.2'), 'B');
      await writeGeneration(s, chunks('C'));
      assert.deepEqual(contents(dir), { n: 'C', 'n.1': 'A', 'n.2': 'B' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops numbered generations beyond a reduced keep', async () => {
    const dir = tmpDir();
    try {
      for (let i = 1; i <= 4; i++)
        await writeGeneration({ dir, name: 'n', keep: 4, naming: 'numbered' }, chunks(`g${i}`));
      await writeGeneration({ dir, name: 'n', keep: 2, naming: 'numbered' }, chunks('g5'));
      assert.deepEqual(contents(dir), { n: 'g5', 'n.1': 'g4' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a failing stream', () => {
  for (const naming of ['old', 'numbered', 'timestamped'] as const) {
    it(`leaves the ${naming} generations exactly as they were and no temporary`, async () => {
      const dir = tmpDir();
      try {
        const clock = new ManualClock();
        const s: GenerationScheme = { dir, name: 'data', keep: naming === 'old' ? 2 : 3, naming };
        for (let i = 1; i <= 3; i++) {
          await writeGeneration(s, chunks(`g${i}`), { clock });
          await clock.advance(60_000);
        }
        const before = contents(dir);
        const inodes = fs.readdirSync(dir).map((e) => [e, fs.statSync(path.join(dir, e)).ino]);
        async function* failing(): AsyncIterable<Uint8Array> {
          yield Buffer.alloc(256 * 1024, 1);
          await new Promise((r) => setTimeout(r, 5));
          yield Buffer.alloc(256 * 1024, 2);
          throw new Error('source broke');
        }
        await assert.rejects(writeGeneration(s, failing(), { clock }), /source broke/);
        assert.deepEqual(contents(dir), before);
        assert.deepEqual(
          fs.readdirSync(dir).map((e) => [e, fs.statSync(path.join(dir, e)).ino]),
          inodes,
        );
        assert.deepEqual(await cleanTemporaries(s), []);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('a Readable that emits an error midway removes the temporary too', async () => {
    const dir = tmpDir();
    try {
      const { Readable } = await import('node:stream');
      const s: GenerationScheme = { dir, name: 'data', keep: 2, naming: 'old' };
      await writeGeneration(s, Readable.from([Buffer.from('good')]));
      let n = 0;
      const r = new Readable({
        read() {
          n++;
          if (n < 4) this.push(Buffer.alloc(64 * 1024, n));
          else this.destroy(new Error('disk vanished'));
        },
      });
      await assert.rejects(writeGeneration(s, r), /disk vanished/);
      assert.deepEqual(contents(dir), { data: 'good' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// A writer in a child process: generation `id` is CHUNKS chunks of CHUNK bytes
// filled with the text `<id>-<chunk>|`; it prints `start <id> <sha256>` before
// writing and `done <id>` after writeGeneration resolved.
const WRITER = `
import { createHash } from 'node:crypto';
const [modPath, clockPath, dir, name, naming, keep, firstId, chunks] = process.argv.slice(2);
const { writeGeneration } = await import(modPath);
const { ManualClock } = await import(clockPath);
const CHUNK = 64 * 1024;
const body = (id, i) => Buffer.alloc(CHUNK, id + '-' + i + '|');
const clock = new ManualClock();
for (let id = Number(firstId); ; id++) {
  const n = Number(chunks) + (id % 5) * 8;
  const h = createHash('sha256');
  for (let i = 0; i < n; i++) h.update(body(id, i));
  process.stdout.write('start ' + id + ' ' + h.digest('hex') + '\\n');
  clock.set(Date.UTC(2026, 0, 1) + id * 1000);
  async function* gen() {
    for (let i = 0; i < n; i++) {
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 1));
      yield body(id, i);
    }
  }
  await writeGeneration({ dir, name, naming, keep: Number(keep) }, gen(), { clock });
  process.stdout.write('done ' + id + '\\n');
}
`;

function sha256FileSync(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('SIGKILLed writers', () => {
  for (const [naming, keep] of [
    ['old', 2],
    ['numbered', 3],
    ['timestamped', 3],
  ] as const) {
    it(`never leave a partial file under a final name (${naming}, keep ${keep})`, async () => {
      const work = tmpDir();
      try {
        const dir = path.join(work, 'dest');
        const script = path.join(work, 'writer.mjs');
        fs.writeFileSync(script, WRITER);
        const s: GenerationScheme = { dir, name: 'backup', keep, naming };
        const shaOf = new Map<string, number>(); // sha256 → id
        let nextId = 1;
        let lastDone = 0;
        let partialsSeen = 0;
        const KILLS = 12;
        for (let k = 0; k < KILLS; k++) {
          const child = spawn(
            process.execPath,
            [
              '--disable-warning=ExperimentalWarning',
              script,
              path.join(import.meta.dirname, 'generations.ts'),
              path.join(import.meta.dirname, '..', '..', 'core', 'clock.ts'),
              dir,
              'backup',
              naming,
              String(keep),
              String(nextId),
              '16',
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
          });
          child.stderr.on('data', (d: Buffer) => {
            err += d.toString();
          });
          const exited = new Promise<void>((r) => child.on('close', () => r()));
          // Wait for the first write to begin, then kill at a random moment.
          const t0 = Date.now();
          while (!out.includes('start') && Date.now() - t0 < 10_000 && child.exitCode === null)
            await new Promise((r) => setTimeout(r, 5));
          assert.ok(out.includes('start'), `writer did not start: ${err}`);
          await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 250)));
          child.kill('SIGKILL');
          await exited;
          assert.equal(child.signalCode, 'SIGKILL', `writer ended on its own: ${err}`);
          for (const line of out.split('\n')) {
            const m = /^start (\d+) ([0-9a-f]{64})$/.exec(line);
            if (m) {
              shaOf.set(m[2]!, Number(m[1]));
              nextId = Math.max(nextId, Number(m[1]) + 1);
            }
            const d = /^done (\d+)$/.exec(line);
            if (d) lastDone = Math.max(lastDone, Number(d[1]));
          }

          // Every final name holds a complete generation, newest first, the last finished one included.
          const listed = closedGenerations(s);
          const ids = listed.map((g) => {
            const id = shaOf.get(sha256FileSync(g.file));
            assert.ok(id !== undefined, `${path.basename(g.file)} after kill ${k} is not a complete generation`);
            assert.equal(fs.statSync(g.file).size, g.size);
            return id;
          });
          for (let i = 1; i < ids.length; i++)
            assert.ok(ids[i - 1]! >= ids[i]!, `generations out of order: ${ids.join(',')}`);
          if (lastDone > 0)
            assert.ok(ids.includes(lastDone), `last finished generation ${lastDone} missing: ${ids.join(',')}`);
          // A kill between renaming the new generation in and dropping the oldest leaves one extra
          // (complete) generation: keeping an old backup a little longer is the safe side; the next
          // write drops it (the rotation tests check exact counts after every completed write).
          assert.ok(listed.length <= keep + 1, `${listed.length} generations after kill ${k} (keep ${keep})`);
          const fixed = path.join(dir, 'backup');
          if (lastDone > 0) assert.ok(shaOf.has(sha256FileSync(fixed)), '<name> is not a complete generation');
          // Anything else in the directory is a temporary, which cleanTemporaries removes.
          const finals = new Set([...listed.map((g) => path.basename(g.file)), 'backup']);
          const others = fs.existsSync(dir) ? fs.readdirSync(dir).filter((e) => !finals.has(e)) : [];
          assert.ok(
            others.every((e) => e.startsWith('.backup.tmp-')),
            `unexpected files: ${others.join(',')}`,
          );
          partialsSeen += others.length;
          const removed = await cleanTemporaries(s);
          assert.deepEqual(
            removed.map((p) => path.basename(p)),
            others.sort(),
          );
          // A kill before the writer made the directory leaves none: nothing to look at then.
          const left = fs.existsSync(dir) ? fs.readdirSync(dir).filter((e) => !finals.has(e)) : [];
          assert.deepEqual(left, []);
        }
        assert.ok(lastDone >= 1, 'no generation was ever completed');
        assert.ok(partialsSeen >= 1, 'no kill ever hit a write in progress');
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    });
  }
});

describe('copyClosedGenerations', () => {
  it('copies only closed generations and skips identical ones', async () => {
    const work = tmpDir();
    try {
      const src = path.join(work, 'src');
      const dst = path.join(work, 'offsite');
      const s: GenerationScheme = { dir: src, name: 'b', keep: 3, naming: 'numbered' };
      for (let i = 1; i <= 3; i++) await writeGeneration(s, chunks(`gen${i}`));
      fs.writeFileSync(path.join(src, '.b.tmp-999-abc'), 'partial'); // a write in progress
      fs.writeFileSync(path.join(src, 'b.partial'), 'not a generation');

      assert.deepEqual(await copyClosedGenerations(s, dst), { copied: ['b', 'b.1', 'b.2'], skipped: [] });
      assert.deepEqual(contents(dst), { b: 'gen3', 'b.1': 'gen2', 'b.2': 'gen1' });

      assert.deepEqual(await copyClosedGenerations(s, dst), { copied: [], skipped: ['b', 'b.1', 'b.2'] });

      // Same size, different content: copied again.
      fs.writeFileSync(path.join(dst, 'b.1'), 'genX');
      assert.deepEqual(await copyClosedGenerations(s, dst), { copied: ['b.1'], skipped: ['b', 'b.2'] });
      assert.equal(fs.readFileSync(path.join(dst, 'b.1'), 'utf8'), 'gen2');

      await writeGeneration(s, chunks('gen4'));
      assert.deepEqual(await copyClosedGenerations(s, dst), { copied: ['b', 'b.1', 'b.2'], skipped: [] });
      assert.deepEqual(contents(dst), { b: 'gen4', 'b.1': 'gen3', 'b.2': 'gen2' });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('copies timestamped generations without the <name> alias', async () => {
    const work = tmpDir();
    try {
      const clock = new ManualClock(Date.UTC(2026, 5, 1));
      const s: GenerationScheme = { dir: path.join(work, 'src'), name: 'b', keep: 2, naming: 'timestamped' };
      await writeGeneration(s, chunks('one'), { clock });
      await clock.advance(1000);
      await writeGeneration(s, chunks('two'), { clock });
      const dst = path.join(work, 'dst');
      assert.deepEqual(await copyClosedGenerations(s, dst), {
        copied: ['b.20260601T000001Z', 'b.20260601T000000Z'],
        skipped: [],
      });
      assert.deepEqual(contents(dst), { 'b.20260601T000000Z': 'one', 'b.20260601T000001Z': 'two' });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
