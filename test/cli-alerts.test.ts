// `safehold alerts` through the real CLI: alerts stored in the catalog of
// SAFEHOLD_DATA_DIR are listed newest first, filtered, as JSON and as a table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../src/catalog/catalog.ts';
import { ManualClock } from '../src/core/clock.ts';
import { lowSpace, runFailed } from '../src/alerts/events.ts';
import { baseEnv, runCli, show } from './helpers/cli.ts';

test('safehold alerts lists stored alerts with their deliveries (--json, --event, --limit, table)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cli-alerts-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'data');
  const env = {
    ...baseEnv(),
    SAFEHOLD_DATA_DIR: data,
    SAFEHOLD_PASSWORD: 'pw',
    SAFEHOLD_REPOSITORY: path.join(dir, 'repo'),
  };

  const empty = await runCli(['alerts', '--json'], { env });
  assert.equal(empty.code, 0, show(empty));
  assert.deepEqual(empty.json(), []);

  const clock = new ManualClock(Date.UTC(2026, 0, 5, 10));
  const catalog = Catalog.open(data, clock);
  const store = catalog.alerts();
  const a = store.record(lowSpace({ path: '/srv', freeBytes: 10, thresholdBytes: 100 }));
  clock.set(Date.UTC(2026, 0, 5, 11));
  const b = store.record(runFailed({ plan: 'nightly', runId: 'r1', reason: 'QA1 down' }));
  store.markDelivered(b, 'ops-hook', true, 'HTTP 200 from http://127.0.0.1/hook');
  store.markDelivered(b, 'pager', false, 'sh exited 1');
  catalog.close();

  const all = await runCli(['alerts', '--json'], { env });
  assert.equal(all.code, 0, show(all));
  const doc = all.json();
  assert.deepEqual(
    doc.map((x: { id: string }) => x.id),
    [b, a],
  );
  assert.deepEqual(doc[0], {
    id: b,
    event: 'run-failed',
    severity: 'critical',
    summary: 'plan nightly run r1 failed: QA1 down',
    details: { plan: 'nightly', runId: 'r1', reason: 'QA1 down' },
    at: Date.UTC(2026, 0, 5, 11),
    deliveries: [
      { channel: 'ops-hook', ok: true, detail: 'HTTP 200 from http://127.0.0.1/hook', at: Date.UTC(2026, 0, 5, 11) },
      { channel: 'pager', ok: false, detail: 'sh exited 1', at: Date.UTC(2026, 0, 5, 11) },
    ],
  });

  const filtered = await runCli(['alerts', '--event', 'low-space', '--json'], { env });
  assert.deepEqual(
    filtered.json().map((x: { id: string }) => x.id),
    [a],
  );
  const limited = await runCli(['alerts', '--limit', '1', '--json'], { env });
  assert.deepEqual(
    limited.json().map((x: { id: string }) => x.id),
    [b],
  );

  const human = await runCli(['alerts'], { env });
  assert.equal(human.code, 0, show(human));
  assert.match(
    human.stdout,
    new RegExp(
      `${b.slice(0, 8)} .* run-failed\\s+critical\\s+ops-hook ok, pager FAILED\\s+plan nightly run r1 failed: QA1 down`,
    ),
  );
  assert.match(human.stdout, new RegExp(`${a.slice(0, 8)} .* low-space\\s+warning\\s+-\\s+low space on /srv`));

  const bad = await runCli(['alerts', '--event', 'nonsense', '--json'], { env });
  assert.equal(bad.code, 2, show(bad));
  assert.equal(bad.json().error.code, 'USAGE');
});
