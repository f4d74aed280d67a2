// The binary readers on real files: two throwaway clusters made once with
// initdb (default 16 MiB segments, and --wal-segsize=1), their first WAL
// segment's long page header and global/pg_control checked against
// pg_controldata and the segment's own name; then pages that are not a long
// header (a later page, flipped flags, impossible sizes, too short), a
// missing and a truncated control file. Skipped only when no PostgreSQL
// server programs (initdb) are installed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSafeholdError } from '../../core/errors.ts';
import { controlData } from '../pg-ha/data-dir.ts';
import { runPgOrThrow } from '../pg-ha/pg-bin.ts';
import { dataDirSystemId, segmentHeader } from './pg-control.ts';
import { lsnOfSegmentStart, parseWalName } from './wal-names.ts';

const INITDB = fs.globSync('/usr/lib/postgresql/*/bin/initdb').sort().at(-1);
const skip = INITDB ? false : 'no PostgreSQL server programs (/usr/lib/postgresql/*/bin/initdb) installed';

interface Cluster {
  dataDir: string;
  /** Name and first page of the first WAL segment. */
  wal: { name: string; page: Uint8Array };
  control: Map<string, string>;
}

let root = '';
const clusters: Record<'default' | 'small', Cluster> = {} as never;

async function makeCluster(name: string, extra: string[]): Promise<Cluster> {
  const parent = path.join(root, name);
  await fsp.mkdir(parent, { mode: 0o700 });
  if (process.getuid?.() === 0) await runPgOrThrow(['chown', 'postgres:postgres', parent], 'chown');
  const dataDir = path.join(parent, 'data');
  await runPgOrThrow([INITDB!, '-D', dataDir, '-U', 'postgres', '--auth=trust', '-N', ...extra], 'initdb', {
    asOwnerOf: parent,
    env: { LC_ALL: 'C', LANG: 'C' },
  });
  const walDir = path.join(dataDir, 'pg_wal');
  const first = (await fsp.readdir(walDir)).filter((f) => /^[0-9A-F]{24}$/.test(f)).sort()[0];
  assert.ok(first, `no WAL segment in ${walDir}`);
  const fh = await fsp.open(path.join(walDir, first), 'r');
  const page = new Uint8Array(8192 * 2);
  await fh.read(page, 0, page.length, 0);
  await fh.close();
  return { dataDir, wal: { name: first, page }, control: await controlData(dataDir) };
}

describe('PostgreSQL file headers', { skip }, () => {
  before(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'shtest-pgwal-'));
    await fsp.chmod(root, 0o755);
    clusters.default = await makeCluster('default', []);
    clusters.small = await makeCluster('small', ['--wal-segsize=1']);
  });

  after(async () => {
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });

  it('reads the long page header of a real segment as pg_controldata describes it', () => {
    for (const c of [clusters.default, clusters.small]) {
      const h = segmentHeader(c.wal.page);
      assert.equal(h.systemId, c.control.get('Database system identifier'));
      assert.equal(String(h.segSize), c.control.get('Bytes per WAL segment'));
      assert.equal(String(h.blockSize), c.control.get('WAL block size'));
      assert.equal(String(h.timeline), c.control.get("Latest checkpoint's TimeLineID"));
      if (INITDB!.includes('/15/')) assert.equal(h.magic, 0xd110, `magic 0x${h.magic.toString(16)}`);
      // The page address is where the segment named by the file starts.
      const w = parseWalName(c.wal.name, h.segSize)!;
      assert.equal(w.timeline, h.timeline);
      assert.equal(h.pageAddr, lsnOfSegmentStart(w.segno!, h.segSize));
    }
    assert.equal(segmentHeader(clusters.default.wal.page).segSize, 16 * 1024 * 1024);
    assert.equal(segmentHeader(clusters.small.wal.page).segSize, 1024 * 1024);
  });

  it('reads the system identifier from global/pg_control', async () => {
    for (const c of [clusters.default, clusters.small]) {
      assert.equal(await dataDirSystemId(c.dataDir), c.control.get('Database system identifier'));
    }
    assert.notEqual(await dataDirSystemId(clusters.default.dataDir), await dataDirSystemId(clusters.small.dataDir));
  });

  it('refuses a page that is not the long header of a segment', () => {
    const corrupt = (e: unknown) => isSafeholdError(e, 'CORRUPT');
    const good = clusters.default.wal.page;
    const mutate = (f: (v: DataView) => void) => {
      const copy = new Uint8Array(good.slice(0, 8192));
      f(new DataView(copy.buffer));
      return copy;
    };
    assert.throws(() => segmentHeader(good.subarray(8192)), corrupt); // the second page: short header or empty
    assert.throws(() => segmentHeader(good.subarray(0, 39)), corrupt);
    assert.throws(() => segmentHeader(new Uint8Array(8192)), corrupt);
    assert.throws(() => segmentHeader(mutate((v) => v.setUint16(2, 0, true))), corrupt); // no XLP_LONG_HEADER
    assert.throws(() => segmentHeader(mutate((v) => v.setUint16(2, 0x0102, true))), corrupt); // unknown flag
    assert.throws(() => segmentHeader(mutate((v) => v.setUint16(0, 0x1234, true))), corrupt); // magic
    assert.throws(() => segmentHeader(mutate((v) => v.setUint32(32, 3 * 1024 * 1024, true))), corrupt);
    assert.throws(() => segmentHeader(mutate((v) => v.setUint32(36, 1000, true))), corrupt);
    assert.throws(() => segmentHeader(mutate((v) => v.setBigUint64(8, 0x1000028n, true))), corrupt);
    // The header also reads from a view that does not start at its buffer's start.
    const shifted = new Uint8Array(8192 + 8);
    shifted.set(good.subarray(0, 8192), 8);
    assert.deepEqual(segmentHeader(shifted.subarray(8)), segmentHeader(good));
  });

  it('says null for a missing control file and refuses a truncated one', async () => {
    assert.equal(await dataDirSystemId(path.join(root, 'nowhere')), null);
    const fake = path.join(root, 'fake');
    await fsp.mkdir(path.join(fake, 'global'), { recursive: true });
    assert.equal(await dataDirSystemId(fake), null);
    await fsp.writeFile(path.join(fake, 'global', 'pg_control'), Buffer.from([1, 2, 3]));
    await assert.rejects(dataDirSystemId(fake), (e) => isSafeholdError(e, 'CORRUPT'));
  });
});
