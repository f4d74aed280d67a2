// GET /metrics over real HTTP: the Prometheus text format line by line
// (HELP and TYPE before the samples of each family, label syntax, values),
// the values computed from catalog data (runs by status, last success,
// bytes added, the duration histogram, lock ages, repository size cached a
// minute, alerts by event), and the enabled/protect settings.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import { apiRig } from './helpers/api-rig.ts';
import type { ApiRig } from './helpers/api-rig.ts';

const T0 = Date.UTC(2026, 5, 1);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses an exposition, checking every line's syntax; returns the samples and each family's type. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'));
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (m) {
      helps.add(m[1]!);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      assert.ok(helps.has(m[1]!), `HELP before TYPE of ${m[1]}`);
      assert.ok(!types.has(m[1]!), `one TYPE of ${m[1]}`);
      types.set(m[1]!, m[2]!);
      continue;
    }
    m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(
        line,
      );
    assert.ok(m, `sample line syntax: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(m[1]!) || types.get(family) === 'histogram', `TYPE declared before ${m[1]}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
    samples.push({ name: m[1]!, labels, value: Number(m[3]!.replace('+Inf', 'Infinity')) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find(
    (s) =>
      s.name === name &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v) &&
      Object.keys(s.labels).length === Object.keys(labels).length,
  )?.value;
}

describe('GET /metrics', () => {
  let r: ApiRig;
  const clock = new ManualClock(T0);
  before(async () => {
    r = await apiRig({ core: false, clock });
    const store = r.w.catalog.planRuns();
    const run = (plan: string, ms: number, status: 'succeeded' | 'failed', bytes: number | null) => {
      const id = store.startRun({ plan, trigger: 'scheduled' });
      const t = store.addTask(id, {
        seq: 1,
        activity: 'a',
        kind: 'backup',
        target: 'T',
        unit: null,
        status: 'pending',
      });
      clock.set(clock.now() + ms);
      store.finishTask(t, {
        status,
        snapshots: status === 'succeeded' ? ['x'] : [],
        ...(bytes !== null ? { bytes } : {}),
      });
      store.finishRun(id, status);
      clock.set(clock.now() + 1000);
    };
    run('nightly', 5_000, 'succeeded', 1000);
    run('nightly', 120_000, 'succeeded', 500);
    run('nightly', 7_000_000, 'failed', null);
    run('say "hi"\\', 2_000, 'succeeded', 7);
    store.recordCoalesced({ plan: 'nightly', scheduledFor: clock.now(), into: 'abc' });
    r.w.catalog.alerts().record({ event: 'run-failed', severity: 'critical', summary: 's', details: {} });
    r.w.catalog.alerts().record({ event: 'run-failed', severity: 'critical', summary: 's', details: {} });
    r.w.catalog.alerts().record({ event: 'stale-lock-cleared', severity: 'warning', summary: 's', details: {} });
    r.w.catalog.leases().acquire(['target:T'], { kind: 'backup', holder: 'h' });
    clock.set(clock.now() + 90_000);
  });
  after(() => r.close());

  it('is Prometheus text with the right values, without authentication by default', async () => {
    const res = await fetch(`${r.base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const { samples, types } = parse(await res.text());
    assert.deepEqual(Object.fromEntries(types), {
      safehold_plan_runs_total: 'counter',
      safehold_plan_last_success_timestamp_seconds: 'gauge',
      safehold_bytes_added_total: 'counter',
      safehold_plan_run_duration_seconds: 'histogram',
      safehold_lock_age_seconds: 'gauge',
      safehold_repository_size_bytes: 'gauge',
      safehold_alerts_total: 'counter',
    });
    assert.equal(value(samples, 'safehold_plan_runs_total', { plan: 'nightly', status: 'succeeded' }), 2);
    assert.equal(value(samples, 'safehold_plan_runs_total', { plan: 'nightly', status: 'failed' }), 1);
    assert.equal(value(samples, 'safehold_plan_runs_total', { plan: 'nightly', status: 'skipped' }), 1);
    assert.equal(
      value(samples, 'safehold_plan_runs_total', { plan: 'say "hi"\\', status: 'succeeded' }),
      1,
      'label values escaped and read back',
    );
    // nightly's second success finished at T0 + 5 s + 1 s + 120 s.
    assert.equal(
      value(samples, 'safehold_plan_last_success_timestamp_seconds', { plan: 'nightly' }),
      (T0 + 126_000) / 1000,
    );
    assert.equal(value(samples, 'safehold_bytes_added_total', { plan: 'nightly' }), 1500);
    const h = (le: string) => value(samples, 'safehold_plan_run_duration_seconds_bucket', { plan: 'nightly', le });
    assert.deepEqual(['1', '10', '60', '300', '3600', '7200', '14400', '+Inf'].map(h), [0, 1, 1, 2, 2, 3, 3, 3]);
    assert.equal(
      value(samples, 'safehold_plan_run_duration_seconds_count', { plan: 'nightly' }),
      3,
      'the coalesced (skipped) run is not a duration',
    );
    assert.equal(value(samples, 'safehold_plan_run_duration_seconds_sum', { plan: 'nightly' }), 5 + 120 + 7000);
    assert.equal(value(samples, 'safehold_lock_age_seconds', { scope: 'target:T', kind: 'backup' }), 90);
    assert.equal(value(samples, 'safehold_alerts_total', { event: 'run-failed' }), 2);
    assert.equal(value(samples, 'safehold_alerts_total', { event: 'stale-lock-cleared' }), 1);
    assert.equal(
      value(samples, 'safehold_repository_size_bytes', { destination: 'local' }),
      0,
      'a new repository has no packs',
    );
  });

  it('repository sizes are the pack files under data/, recomputed at most once a minute', async () => {
    const scrape = async () =>
      value(parse(await (await fetch(`${r.base}/metrics`)).text()).samples, 'safehold_repository_size_bytes', {
        destination: 'local',
      });
    assert.equal(await scrape(), 0);
    fs.mkdirSync(path.join(r.w.repoPath, 'data', 'ab'), { recursive: true });
    fs.writeFileSync(path.join(r.w.repoPath, 'data', 'ab', 'ab01'), Buffer.alloc(1234));
    fs.writeFileSync(path.join(r.w.repoPath, 'data', 'ab', 'ab02'), Buffer.alloc(66));
    await clock.advance(30_000);
    assert.equal(await scrape(), 0, 'cached');
    await clock.advance(31_000);
    assert.equal(await scrape(), 1300);
  });
});

describe('GET /metrics settings', () => {
  it('enabled=false: 404 in the error shape', async (t) => {
    const r = await apiRig({ core: false, metrics: { enabled: false, protect: false } });
    t.after(() => r.close());
    const res = await fetch(`${r.base}/metrics`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  it('protect=true: 401 without a token, 200 with a viewer token', async (t) => {
    const r = await apiRig({ core: false, metrics: { enabled: true, protect: true } });
    t.after(() => r.close());
    const anon = await fetch(`${r.base}/metrics`);
    assert.equal(anon.status, 401);
    await anon.text();
    const res = await r.get('/metrics', 'viewer');
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^# HELP safehold_plan_runs_total /);
  });
});
