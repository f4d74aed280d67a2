// Tests of ApiQueries.planSummaries (the plans API's view of a plan's
// history): a refused or coalesced run does not stand for the plan's state,
// a partial run is not a success, and the newest finished copy task is the
// plan's offsite state.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from './catalog.ts';
import { ApiQueries } from './api-queries.ts';
import { ManualClock } from '../core/clock.ts';

it('plan summaries: last run that ran, refusal notice, full and partial success, last copy', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-apiq-'));
  const clock = new ManualClock(1_000_000);
  const catalog = Catalog.open(dir, clock);
  const q = ApiQueries.open(catalog.path, clock);
  t.after(() => {
    q.close();
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const store = catalog.planRuns();
  const run = (status: 'succeeded' | 'partial' | 'refused' | 'failed', copy?: 'succeeded' | 'failed') => {
    clock.advance(1000);
    const id = store.startRun({ plan: 'nightly', trigger: 'on-demand' });
    if (copy) {
      const task = store.addTask(id, {
        seq: 1,
        activity: 'off',
        kind: 'copy',
        target: 'T',
        unit: null,
        status: 'pending',
      });
      store.finishTask(task, { status: copy, reason: copy === 'failed' ? 'offsite unreachable' : null });
    }
    clock.advance(10);
    store.finishRun(id, status, status === 'refused' ? 'outside the maintenance window' : null);
    return { id, at: clock.now() };
  };
  const ok = run('succeeded', 'succeeded');
  const partial = run('partial', 'failed');
  assert.equal(q.planSummaries().get('nightly')!.lastRefused, null);
  const refused = run('refused');
  clock.advance(1000);
  store.recordCoalesced({ plan: 'nightly', scheduledFor: clock.now(), into: partial.id });
  const s = q.planSummaries().get('nightly')!;
  assert.equal(s.last!.id, partial.id, 'the newest run that ran: not the refused or coalesced one');
  assert.equal(s.lastRefused!.id, refused.id);
  assert.equal(s.lastSuccessAt, ok.at, 'a partial run is not a success');
  assert.equal(s.lastPartialAt, partial.at);
  assert.deepEqual(s.lastCopy, {
    runId: partial.id,
    status: 'failed',
    reason: 'offsite unreachable',
    at: partial.at - 10,
  });
  // A run that ran after the refusal: the notice goes.
  const later = run('failed');
  const s2 = q.planSummaries().get('nightly')!;
  assert.equal(s2.last!.id, later.id);
  assert.equal(s2.lastRefused, null);
});
