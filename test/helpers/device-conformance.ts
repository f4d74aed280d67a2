// The conformance suite every DeviceAdapter must pass, run against the
// appliance simulator (test/helpers/appliance-server.ts) through the adapter's
// own wire: registers node:test tests. `make` builds a simulated device with
// the given dials and an adapter connected to it.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSafeholdError } from '../../src/core/errors.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import type { DeviceAdapter, QuiesceState } from '../../src/drivers/device/adapter.ts';
import { applianceBackupContent } from './appliance-server.ts';
import type { ApplianceCall, ApplianceOptions, ApplianceState } from './appliance-server.ts';

export interface SimDevice {
  adapter: DeviceAdapter;
  /** The token the simulator expects, null when none. */
  token: string | null;
  read(): Promise<ApplianceState>;
  update(fn: (s: ApplianceState) => void): Promise<void>;
  close(): Promise<void>;
}

export interface Connection {
  timeoutMs?: number;
  /** The token the adapter presents; absent: the right one. */
  token?: string | null;
  /** Nothing answers at the adapter's address (server closed / program missing). */
  down?: boolean;
}

export type MakeDevice = (opts: ApplianceOptions, conn?: Connection) => Promise<SimDevice>;

export interface SuiteOptions {
  /** Real-time quiesce delay long enough that a state read right after the request still sees 'quiescing'. */
  delayMs: number;
  /** Adapter timeout for the hung-device tests. */
  timeoutMs: number;
}

async function rejectsWith(
  p: Promise<unknown>,
  code: ErrorCode,
  check: (e: Error & { retryable: boolean }) => void = () => {},
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSafeholdError(e), `expected a SafeholdError, got ${String(e)}`);
    assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    check(e);
    return true;
  });
}

async function drain(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}

function sameBytes(actual: Buffer, expected: Buffer, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(
    actual.equals(expected),
    `${what}: content differs (starts ${JSON.stringify(actual.subarray(0, 60).toString('latin1'))})`,
  );
}

function ops(calls: ApplianceCall[]): string[] {
  return calls.map((c) => (c.unit === null ? c.op : `${c.op}:${c.unit}`));
}

export function deviceAdapterConformanceSuite(name: string, make: MakeDevice, suite: SuiteOptions): void {
  async function withDevice(
    opts: ApplianceOptions,
    fn: (d: SimDevice) => Promise<void>,
    conn?: Connection,
  ): Promise<void> {
    const d = await make({ name: 'QA1', ...opts }, conn);
    try {
      await fn(d);
    } finally {
      await d.close();
    }
  }

  async function waitFor(a: DeviceAdapter, unit: string | null, want: QuiesceState, withinMs: number): Promise<void> {
    const end = performance.now() + withinMs;
    for (;;) {
      const s = await a.quiesceState(unit);
      if (s === want) return;
      assert.ok(performance.now() < end, `${unit ?? 'device'} still ${s}, wanted ${want} within ${withinMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  describe(`device adapter conformance: ${name}`, () => {
    it('available() is true for a reachable device and false for an unreachable one', () =>
      withDevice({}, async (d) => {
        assert.equal((await d.adapter.available()).ok, true);
        await d.update((s) => {
          s.available = false;
        });
        assert.equal((await d.adapter.available()).ok, false);
        await d.update((s) => {
          s.failOps = ['health'];
          s.available = true;
        });
        assert.equal((await d.adapter.available()).ok, false, 'a failing health check means unavailable');
        assert.deepEqual(ops((await d.read()).calls), ['health', 'health', 'health']);
      }));

    it('available() is false, without throwing, when nothing answers', () =>
      withDevice(
        {},
        async (d) => {
          assert.equal((await d.adapter.available()).ok, false);
        },
        { down: true },
      ));

    it('available() is false within the timeout when the device hangs', { timeout: 30_000 }, () =>
      withDevice(
        { latencyMs: { health: 30_000 } },
        async (d) => {
          const t0 = performance.now();
          assert.equal((await d.adapter.available()).ok, false);
          assert.ok(performance.now() - t0 < suite.timeoutMs + 2000, `took ${performance.now() - t0} ms`);
        },
        { timeoutMs: suite.timeoutMs },
      ),
    );

    it('listUnits() returns the units in device order', () =>
      withDevice({ units: ['DOMAIN2', 'default', 'DOMAIN1'] }, async (d) => {
        assert.deepEqual(await d.adapter.listUnits(), ['DOMAIN2', 'default', 'DOMAIN1']);
        await d.update((s) => {
          delete s.units.default;
        });
        assert.deepEqual(await d.adapter.listUnits(), ['DOMAIN2', 'DOMAIN1'], 'read live, not cached');
      }));

    it('quiesce moves a unit quiescing → quiesced over real time; unquiesce back to active', () =>
      withDevice({ quiesceDelayMs: suite.delayMs, unquiesceDelayMs: suite.delayMs }, async (d) => {
        const a = d.adapter;
        assert.equal(await a.quiesceState('DOMAIN1'), 'active');
        const t0 = performance.now();
        await a.quiesce('DOMAIN1', 60);
        const s1 = await a.quiesceState('DOMAIN1');
        if (performance.now() - t0 < suite.delayMs) assert.equal(s1, 'quiescing');
        await waitFor(a, 'DOMAIN1', 'quiesced', suite.delayMs * 4 + 5000);
        assert.ok(performance.now() - t0 >= suite.delayMs - 5, 'quiesced no earlier than the delay');
        assert.equal(await a.quiesceState('DOMAIN2'), 'active', 'other units untouched');
        assert.equal(await a.quiesceState(null), 'active', 'the device itself untouched');
        const t1 = performance.now();
        await a.unquiesce('DOMAIN1', 30);
        const s2 = await a.quiesceState('DOMAIN1');
        if (performance.now() - t1 < suite.delayMs) assert.equal(s2, 'unquiescing');
        await waitFor(a, 'DOMAIN1', 'active', suite.delayMs * 4 + 5000);
        const calls = (await d.read()).calls.filter((c) => c.op === 'quiesce' || c.op === 'unquiesce');
        assert.deepEqual(
          calls.map((c) => [c.op, c.unit, c.timeout]),
          [
            ['quiesce', 'DOMAIN1', 60],
            ['unquiesce', 'DOMAIN1', 30],
          ],
        );
      }));

    it('transitions follow the simulator clock when it is fixed (injected time)', () =>
      withDevice({ quiesceDelayMs: 180_000, fixedNow: 1_000_000 }, async (d) => {
        await d.adapter.quiesce('DOMAIN2', 120);
        await d.update((s) => {
          s.fixedNow = 1_000_000 + 179_999;
        });
        assert.equal(await d.adapter.quiesceState('DOMAIN2'), 'quiescing');
        await d.update((s) => {
          s.fixedNow = 1_000_000 + 180_000;
        });
        assert.equal(await d.adapter.quiesceState('DOMAIN2'), 'quiesced');
      }));

    it('a whole-device quiesce covers every unit; quiescedUnits() lists units not active', () =>
      withDevice({ units: { A: {}, B: { quiesced: true }, C: {} } }, async (d) => {
        const a = d.adapter;
        assert.deepEqual(await a.quiescedUnits(), ['B']);
        assert.equal(await a.quiesceState('B'), 'quiesced');
        await a.quiesce(null, 60);
        await waitFor(a, null, 'quiesced', 5000);
        assert.deepEqual(await a.quiescedUnits(), ['A', 'B', 'C']);
        assert.equal(await a.quiesceState('A'), 'quiesced', 'a unit takes the device state');
        await a.unquiesce(null, 60);
        await waitFor(a, null, 'active', 5000);
        assert.deepEqual(await a.quiescedUnits(), ['B'], 'a unit quiesced on its own stays quiesced');
        assert.deepEqual(
          (await d.read()).calls.filter((c) => c.op === 'quiesce').map((c) => c.unit),
          [null],
        );
      }));

    it('quiesce and unquiesce are idempotent; unquiesce cancels a quiesce that never completes', () =>
      withDevice({ neverQuiesce: true }, async (d) => {
        const a = d.adapter;
        await a.unquiesce('DOMAIN1', 10);
        assert.equal(await a.quiesceState('DOMAIN1'), 'active', 'unquiesce of an active unit is a no-op');
        await a.quiesce('DOMAIN1', 10);
        await a.quiesce('DOMAIN1', 10);
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(await a.quiesceState('DOMAIN1'), 'quiescing', 'stays quiescing');
        await a.unquiesce('DOMAIN1', 10);
        await waitFor(a, 'DOMAIN1', 'active', 5000);
        await d.update((s) => {
          s.neverQuiesce = false;
          s.neverUnquiesce = true;
        });
        await a.quiesce('DOMAIN1', 10);
        await waitFor(a, 'DOMAIN1', 'quiesced', 5000);
        await a.unquiesce('DOMAIN1', 10);
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(await a.quiesceState('DOMAIN1'), 'unquiescing', 'neverUnquiesce stays unquiescing');
      }));

    it('rejects a bad quiesce timeout before calling the device', () =>
      withDevice({}, async (d) => {
        await rejectsWith(d.adapter.quiesce('DOMAIN1', -1), 'INTERNAL');
        await rejectsWith(d.adapter.unquiesce(null, 1.5), 'INTERNAL');
        assert.deepEqual((await d.read()).calls, []);
      }));

    it('unsavedChanges() reports per unit; an unknown unit is a non-retryable IO error naming it', () =>
      withDevice({ units: { DOMAIN1: {}, DOMAIN2: { unsaved: true } } }, async (d) => {
        assert.equal(await d.adapter.unsavedChanges('DOMAIN1'), false);
        assert.equal(await d.adapter.unsavedChanges('DOMAIN2'), true);
        await rejectsWith(d.adapter.unsavedChanges('DOMAIN9'), 'IO', (e) => {
          assert.equal(e.retryable, false);
          assert.match(
            e.message,
            /^device QA1 \(.+\): unsaved-changes query of unit DOMAIN9 failed: .*unknown unit DOMAIN9/,
          );
        });
        await rejectsWith(d.adapter.quiesceState('DOMAIN9'), 'IO', (e) =>
          assert.match(e.message, /quiesce state of unit DOMAIN9 failed/),
        );
      }));

    it('freeSpace() and backupSize() report the device figures', () =>
      withDevice({ freeBytes: 123_456_789_012, backupBytes: 4321 }, async (d) => {
        assert.equal(await d.adapter.freeSpace(), 123_456_789_012);
        assert.equal(await d.adapter.backupSize(), 4321);
        await d.update((s) => {
          s.freeBytes = 0;
        });
        assert.equal(await d.adapter.freeSpace(), 0);
      }));

    it('backup streams the whole device; exports of persisted and running state differ', () =>
      withDevice({ backupBytes: 3 * 1024 * 1024 + 17, exportBytes: 50_000 }, async (d) => {
        const whole = await drain(await d.adapter.backup({ unit: null, kind: 'backup', state: 'persisted' }));
        sameBytes(
          whole,
          applianceBackupContent('QA1', { unit: null, kind: 'backup', state: 'persisted' }, 3 * 1024 * 1024 + 17),
          'device backup',
        );
        const persisted = await drain(await d.adapter.backup({ unit: 'DOMAIN2', kind: 'export', state: 'persisted' }));
        const running = await drain(await d.adapter.backup({ unit: 'DOMAIN2', kind: 'export', state: 'running' }));
        sameBytes(
          persisted,
          applianceBackupContent('QA1', { unit: 'DOMAIN2', kind: 'export', state: 'persisted' }, 50_000),
          'persisted export',
        );
        sameBytes(
          running,
          applianceBackupContent('QA1', { unit: 'DOMAIN2', kind: 'export', state: 'running' }, 50_000),
          'running export',
        );
        assert.ok(!persisted.equals(running));
        assert.match(running.subarray(0, 100).toString(), /device=QA1 kind=export unit=DOMAIN2 state=running/);
        const calls = (await d.read()).calls.map((c) => [c.op, c.unit, c.kind, c.state]);
        assert.deepEqual(calls, [
          ['backup', null, 'backup', 'persisted'],
          ['backup', 'DOMAIN2', 'export', 'persisted'],
          ['backup', 'DOMAIN2', 'export', 'running'],
        ]);
      }));

    it('rejects backup requests of the wrong shape before calling the device', () =>
      withDevice({}, async (d) => {
        await rejectsWith(d.adapter.backup({ unit: 'DOMAIN1', kind: 'backup', state: 'persisted' }), 'INTERNAL');
        await rejectsWith(d.adapter.backup({ unit: null, kind: 'export', state: 'running' }), 'INTERNAL');
        assert.deepEqual((await d.read()).calls, []);
      }));

    it('a backup stream ended early by the reader leaves the device usable', { timeout: 30_000 }, () =>
      withDevice({ backupBytes: 8 * 1024 * 1024 }, async (d) => {
        const s = await d.adapter.backup({ unit: null, kind: 'backup', state: 'persisted' });
        for await (const c of s) {
          assert.ok(c.length > 0);
          break;
        }
        assert.ok(s.destroyed);
        assert.deepEqual(await d.adapter.listUnits(), ['DOMAIN1', 'DOMAIN2']);
      }),
    );

    it('device-side failures are retryable IO errors naming device, address and operation', () =>
      withDevice({ failQuiesce: true, failUnquiesce: true, failBackup: true }, async (d) => {
        const named = (op: RegExp) => (e: Error & { retryable: boolean }) => {
          assert.equal(e.retryable, true, e.message);
          assert.match(e.message, /^device QA1 \(/);
          assert.ok(e.message.includes(d.adapter.address), `${e.message} names ${d.adapter.address}`);
          assert.match(e.message, op);
        };
        await rejectsWith(
          d.adapter.quiesce('DOMAIN1', 60),
          'IO',
          named(/quiesce unit DOMAIN1 failed: .*quiesce failed on the device/),
        );
        await rejectsWith(d.adapter.unquiesce(null, 60), 'IO', named(/unquiesce whole device failed/));
        await rejectsWith(
          d.adapter.backup({ unit: null, kind: 'backup', state: 'persisted' }),
          'IO',
          named(/backup of the whole device \(persisted\) failed/),
        );
        assert.equal(await d.adapter.quiesceState('DOMAIN1'), 'active', 'a failed quiesce changes nothing');
        await d.update((s) => {
          s.failOps = ['units'];
        });
        await rejectsWith(d.adapter.listUnits(), 'IO', named(/list units failed/));
      }));

    it(
      'a backup that breaks midway destroys the stream with an IO error, never ends cleanly',
      { timeout: 30_000 },
      () =>
        withDevice({ failBackup: 'midway', backupBytes: 2 * 1024 * 1024 }, async (d) => {
          const s = await d.adapter.backup({ unit: null, kind: 'backup', state: 'persisted' });
          let got = 0;
          await rejectsWith(
            (async () => {
              for await (const c of s) got += c.length;
            })(),
            'IO',
            (e) => {
              assert.equal(e.retryable, true);
              assert.match(e.message, /backup of the whole device \(persisted\) failed/);
            },
          );
          assert.ok(got < 2 * 1024 * 1024, `received ${got} bytes`);
        }),
    );

    it('an unavailable device fails every operation with a retryable IO error', () =>
      withDevice({ available: false }, async (d) => {
        await rejectsWith(d.adapter.listUnits(), 'IO', (e) => {
          assert.equal(e.retryable, true);
          assert.match(e.message, /list units failed: .*unreachable/);
        });
        await rejectsWith(d.adapter.freeSpace(), 'IO');
      }));

    it('nothing answering: operations fail with an IO error naming the device', () =>
      withDevice(
        {},
        async (d) => {
          await rejectsWith(d.adapter.listUnits(), 'IO', (e) =>
            assert.match(e.message, /^device QA1 \(.+\): list units failed: /),
          );
          await rejectsWith(d.adapter.backup({ unit: 'DOMAIN1', kind: 'export', state: 'running' }), 'IO', (e) =>
            assert.match(e.message, /export of unit DOMAIN1 \(running\) failed/),
          );
        },
        { down: true },
      ));

    it('a hung device fails the call within the timeout', { timeout: 30_000 }, () =>
      withDevice(
        { latencyMs: { quiesced: 30_000, backup: 30_000 } },
        async (d) => {
          for (const call of [
            () => d.adapter.quiescedUnits(),
            () => d.adapter.backup({ unit: null, kind: 'backup', state: 'persisted' }),
          ]) {
            const t0 = performance.now();
            await rejectsWith(call(), 'IO', (e) => {
              assert.equal(e.retryable, true);
              assert.match(e.message, new RegExp(`within ${suite.timeoutMs} ms`));
            });
            const ms = performance.now() - t0;
            assert.ok(ms >= suite.timeoutMs - 5 && ms < suite.timeoutMs + 3000, `failed after ${ms} ms`);
          }
        },
        { timeoutMs: suite.timeoutMs },
      ),
    );

    it('the token is presented, and a wrong one is refused without appearing in the message', () =>
      withDevice(
        { token: 'sekret-token-4f1e9' },
        async (d) => {
          await rejectsWith(d.adapter.listUnits(), 'IO', (e) => {
            assert.equal(e.retryable, false, 'a refused token is not retried');
            assert.ok(!e.message.includes('wrong-token-77aa'), e.message);
            assert.ok(!e.message.includes('sekret-token-4f1e9'), e.message);
            assert.ok(!JSON.stringify((e as { details?: unknown }).details).includes('wrong-token-77aa'));
          });
          assert.deepEqual(
            (await d.read()).calls.map((c) => c.status),
            [401],
          );
        },
        { token: 'wrong-token-77aa' },
      ));

    it('with the right token every call succeeds and no message contains it', () =>
      withDevice({ token: 'sekret-token-4f1e9', failOps: ['space'] }, async (d) => {
        assert.deepEqual(await d.adapter.listUnits(), ['DOMAIN1', 'DOMAIN2']);
        await rejectsWith(d.adapter.freeSpace(), 'IO', (e) =>
          assert.ok(!e.message.includes('sekret-token-4f1e9'), e.message),
        );
        assert.ok(!d.adapter.address.includes('sekret'));
      }));
  });
}
