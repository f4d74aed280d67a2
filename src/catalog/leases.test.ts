// Tests of scope leases (S5): exclusion between backups and purges of one
// scope, all-or-nothing acquisition, the 12-hour maximum age, heartbeat
// timeouts and dead holders (ManualClock), and real concurrent processes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from './catalog.ts';
import { describeHolder, scopesOverlap, taskScope } from './leases.ts';
import { ManualClock } from '../core/clock.ts';

const CATALOG_TS = path.resolve(import.meta.dirname, 'catalog.ts');

function setup(t: { after: (fn: () => void) => void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-leases-'));
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 2, 0));
  const catalog = Catalog.open(dir, clock);
  t.after(() => {
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, clock, catalog, leases: catalog.leases() };
}

describe('scope leases', () => {
  it('a backup and a purge of one scope exclude each other, both ways, and release frees the scope', (t) => {
    const { leases } = setup(t);
    assert.ok(leases.acquire(['target:QA1'], { kind: 'backup', holder: 'run-a', runId: 'run-a' }).ok);
    const second = leases.acquire(['target:QA1'], { kind: 'backup', holder: 'run-b' });
    assert.equal(second.ok, false);
    const purge = leases.acquire(['target:QA1'], { kind: 'purge', holder: 'run-c' });
    assert.equal(purge.ok, false);
    if (!purge.ok) assert.equal(purge.heldBy.holder, 'run-a');
    assert.ok(leases.acquire(['target:QA2'], { kind: 'backup', holder: 'run-b' }).ok, 'other scopes are free');
    assert.equal(leases.release('run-a'), 1);
    assert.ok(leases.acquire(['target:QA1'], { kind: 'purge', holder: 'run-c' }).ok);
    assert.equal(
      leases.acquire(['target:QA1'], { kind: 'backup', holder: 'run-d' }).ok,
      false,
      'and a purge keeps backups out',
    );
  });

  it('takes all scopes or none', (t) => {
    const { leases } = setup(t);
    leases.acquire(['destination:local'], { kind: 'purge', holder: 'purger' });
    const r = leases.acquire(['target:QA1', 'destination:local'], { kind: 'backup', holder: 'backup' });
    assert.equal(r.ok, false);
    assert.deepEqual(
      leases.list().map((l) => [l.scope, l.holder]),
      [['destination:local', 'purger']],
      'target:QA1 was not taken',
    );
  });

  it('clears a lease older than 12 hours even with a fresh heartbeat, and says so', async (t) => {
    const { leases, clock } = setup(t);
    leases.acquire(['target:QA1'], { kind: 'backup', holder: 'stuck' });
    for (let i = 0; i < 12 * 12; i++) {
      await clock.advance(5 * 60_000 - 1);
      leases.heartbeat('stuck');
      if (i < 12 * 12 - 1)
        assert.equal(
          leases.acquire(['target:QA1'], { kind: 'backup', holder: 'next' }).ok,
          false,
          `still held after ${i}`,
        );
    }
    await clock.advance(1 + 144);
    const r = leases.acquire(['target:QA1'], { kind: 'backup', holder: 'next' });
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.cleared.map((c) => [c.lease.holder, c.why]),
      [['stuck', 'max-age']],
    );
  });

  it('reclaims a lease whose heartbeat stopped, after the heartbeat timeout', async (t) => {
    const { leases, clock } = setup(t);
    leases.acquire(['unit:TEST8/DOMAIN1'], { kind: 'backup', holder: 'quiet' });
    await clock.advance(5 * 60_000 - 1);
    assert.equal(leases.acquire(['unit:TEST8/DOMAIN1'], { kind: 'backup', holder: 'next' }).ok, false);
    await clock.advance(1);
    const r = leases.acquire(['unit:TEST8/DOMAIN1'], { kind: 'backup', holder: 'next' });
    assert.deepEqual(
      r.cleared.map((c) => c.why),
      ['heartbeat'],
    );
    assert.deepEqual(leases.sweep(), [], 'nothing else to sweep');
  });

  it("reclaims a dead process's lease at once", (t) => {
    const { dir, leases } = setup(t);
    const script = `
      import { Catalog } from ${JSON.stringify(CATALOG_TS)};
      const c = Catalog.open(${JSON.stringify(dir)});
      if (!c.leases().acquire(['target:QA1'], { kind: 'backup', holder: 'child' }).ok) process.exit(9);
      c.close();`;
    const r = spawnSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const got = leases.acquire(['target:QA1'], { kind: 'backup', holder: 'me' });
    assert.equal(got.ok, true);
    assert.deepEqual(
      got.cleared.map((c) => [c.lease.holder, c.why]),
      [['child', 'holder-gone']],
    );
  });

  it('lets exactly one of several processes racing for a scope have it', async (t) => {
    const { dir } = setup(t);
    const script = `
      import { Catalog } from ${JSON.stringify(CATALOG_TS)};
      const c = Catalog.open(${JSON.stringify(dir)});
      // All start at the same instant, and everyone stays alive until all have tried.
      const go = Number(process.argv[2]); while (Date.now() < go) {}
      const r = c.leases().acquire(['target:QA1'], { kind: process.argv[1], holder: 'p' + process.pid });
      console.log(r.ok ? 'won' : 'lost');
      setTimeout(() => c.close(), Math.max(0, go + 3000 - Date.now()));`;
    const kinds = ['backup', 'purge', 'backup', 'purge', 'backup', 'backup'];
    const start = String(Date.now() + 2500);
    const outs = await Promise.all(
      kinds.map(
        (k) =>
          new Promise<string>((resolve) => {
            const p = spawn(
              process.execPath,
              ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script, k, start],
              { stdio: ['ignore', 'pipe', 'inherit'] },
            );
            let out = '';
            p.stdout.on('data', (d: Buffer) => {
              out += d.toString();
            });
            p.on('close', () => resolve(out.trim()));
          }),
      ),
    );
    assert.equal(outs.filter((o) => o === 'won').length, 1, outs.join(','));
    assert.equal(outs.filter((o) => o === 'lost').length, kinds.length - 1, outs.join(','));
  });

  it('describes the holder for refusals', (t) => {
    const { leases, clock } = setup(t);
    leases.acquire(['target:QA1'], { kind: 'backup', holder: 'h', runId: 'abcdef0123456789' });
    const l = leases.list()[0]!;
    assert.match(
      describeHolder(l, clock.now() + 3 * 60_000),
      /^held by run abcdef01 \(backup, pid \d+ on .+\) since 2026-11-25 02:00:00Z, 3m ago$/,
    );
  });
});

describe('scope hierarchy', () => {
  it('a whole-target lease and a unit lease of that target exclude each other, both ways; other targets are free', (t) => {
    const { leases } = setup(t);
    assert.ok(leases.acquire([taskScope('TEST8', 'DOMAIN1')], { kind: 'backup', holder: 'unit-run' }).ok);
    const whole = leases.acquire([taskScope('TEST8', null)], { kind: 'backup', holder: 'device-run' });
    assert.equal(whole.ok, false);
    if (!whole.ok) assert.equal(whole.heldBy.scope, 'unit:TEST8/DOMAIN1');
    assert.ok(
      leases.acquire([taskScope('TEST8', 'DOMAIN2')], { kind: 'backup', holder: 'other-unit' }).ok,
      'a sibling unit is free',
    );
    assert.ok(
      leases.acquire([taskScope('TEST80', null)], { kind: 'backup', holder: 'prefix-target' }).ok,
      'TEST80 is not a unit of TEST8',
    );
    leases.release('unit-run');
    leases.release('other-unit');
    assert.ok(leases.acquire([taskScope('TEST8', null)], { kind: 'purge', holder: 'device-run' }).ok);
    assert.equal(leases.acquire([taskScope('TEST8', 'DOMAIN3')], { kind: 'backup', holder: 'late' }).ok, false);
  });

  it('scopesOverlap is symmetric and exact', () => {
    assert.equal(scopesOverlap('target:A', 'unit:A/x'), true);
    assert.equal(scopesOverlap('unit:A/x', 'target:A'), true);
    assert.equal(scopesOverlap('unit:A/x', 'unit:A/y'), false);
    assert.equal(scopesOverlap('target:A', 'unit:AB/x'), false);
    assert.equal(scopesOverlap('destination:A', 'unit:A/x'), false);
    assert.equal(scopesOverlap('target:A', 'target:A'), true);
  });
});
