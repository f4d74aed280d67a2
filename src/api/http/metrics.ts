// GET /metrics: Prometheus text exposition (format 0.0.4), computed from the
// catalog at scrape time with aggregate queries: plan runs by plan and status,
// last success per plan, bytes added, run durations (histogram), lock ages,
// repository sizes (pack files under data/, cached 60 s), alerts by event and
// the last protection report's verdict per unit and rule.
// Unauthenticated unless metrics.protect (then a viewer token); absent (404)
// when metrics.enabled is false.

import fs from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../../core/clock.ts';
import type { Config } from '../../config/types.ts';
import type { ApiApp, RouteContext } from './route-def.ts';
import type { ProtectionReport } from '../../plans/protection/report-types.ts';

export const DURATION_BUCKETS_S: readonly number[] = [1, 10, 60, 300, 900, 1800, 3600, 7200, 14400, 36000];
const SIZE_CACHE_MS = 60_000;

type Labels = Record<string, string>;

/** Builds one exposition: families in order, each with HELP, TYPE and its samples. */
export class Exposition {
  private readonly out: string[] = [];

  family(
    name: string,
    type: 'counter' | 'gauge' | 'histogram',
    help: string,
    samples: [Labels, number, string?][],
  ): void {
    this.out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    for (const [labels, value, suffix] of samples)
      this.out.push(`${name}${suffix ?? ''}${formatLabels(labels)} ${formatValue(value)}`);
  }

  text(): string {
    return `${this.out.join('\n')}\n`;
  }
}

function formatLabels(l: Labels): string {
  const parts = Object.entries(l).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`,
  );
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Sizes of each repository destination's data/ directory, recomputed at most once a minute. */
export class RepoSizes {
  private cache: { at: number; sizes: [string, number][] } | null = null;
  /** The configuration in force (read at each measurement: the server's changes at a reload). */
  private readonly config: () => Config;
  private readonly clock: Clock;

  constructor(config: () => Config, clock: Clock) {
    this.config = config;
    this.clock = clock;
  }

  async get(): Promise<[string, number][]> {
    const now = this.clock.now();
    if (this.cache && now - this.cache.at < SIZE_CACHE_MS) return this.cache.sizes;
    const sizes: [string, number][] = [];
    for (const d of Object.values(this.config().destinations)) {
      // Local repositories only: a remote one would be listed over the network at every sample.
      if (d.type === 'repository' && d.remote === null) sizes.push([d.name, await dirSize(path.join(d.path, 'data'))]);
    }
    this.cache = { at: now, sizes };
    return sizes;
  }
}

async function dirSize(dir: string): Promise<number> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else if (e.isFile())
      total += await fs.stat(p).then(
        (s) => s.size,
        () => 0,
      );
  }
  return total;
}

export async function renderMetrics(ctx: RouteContext, sizes: RepoSizes): Promise<string> {
  const q = ctx.queries;
  const now = ctx.deps.clock.now();
  const x = new Exposition();
  x.family(
    'safehold_plan_runs_total',
    'counter',
    'Plan runs recorded in the catalog, by plan and final (or current) status.',
    q.runCounts().map((r) => [{ plan: r.plan, status: r.status }, r.n]),
  );
  x.family(
    'safehold_plan_last_success_timestamp_seconds',
    'gauge',
    'When the newest succeeded run of each plan finished (Unix time).',
    q.lastSuccess().map((r) => [{ plan: r.plan }, r.at / 1000]),
  );
  x.family(
    'safehold_bytes_added_total',
    'counter',
    'Bytes added to repositories (or written to directories) by the backup and export tasks of each plan.',
    q.bytesAdded().map((r) => [{ plan: r.plan }, r.bytes]),
  );
  const hist: [Labels, number, string][] = [];
  for (const h of q.durationHistogram(DURATION_BUCKETS_S)) {
    DURATION_BUCKETS_S.forEach((b, i) => hist.push([{ plan: h.plan, le: String(b) }, h.buckets[i]!, '_bucket']));
    hist.push(
      [{ plan: h.plan, le: '+Inf' }, h.count, '_bucket'],
      [{ plan: h.plan }, h.sumS, '_sum'],
      [{ plan: h.plan }, h.count, '_count'],
    );
  }
  x.family(
    'safehold_plan_run_duration_seconds',
    'histogram',
    'Durations of finished plan runs (skipped and refused runs excluded).',
    hist,
  );
  x.family(
    'safehold_lock_age_seconds',
    'gauge',
    'Age of each lease held on a scope.',
    ctx.deps.catalog
      .leases()
      .list()
      .map((l) => [{ scope: l.scope, kind: l.kind }, (now - l.createdAt) / 1000]),
  );
  x.family(
    'safehold_repository_size_bytes',
    'gauge',
    'Size of the pack files of each repository destination (refreshed at most once a minute).',
    (await sizes.get()).map(([name, size]) => [{ destination: name }, size]),
  );
  x.family(
    'safehold_alerts_total',
    'counter',
    'Alerts raised, by event.',
    q.alertCounts().map((a) => [{ event: a.event }, a.n]),
  );
  const protection = protectionSamples(ctx);
  if (protection)
    x.family(
      'safehold_protection_ok',
      'gauge',
      "Whether each unit meets each protection rule (1) or not (0), from the server's last evaluation of the protection report.",
      protection,
    );
  return x.text();
}

/** One sample per unit and rule of the last protection report saved in the catalog; null before the first (no family). */
function protectionSamples(ctx: RouteContext): [Labels, number][] | null {
  const last = ctx.deps.catalog.protection().lastReport<ProtectionReport>();
  if (!last) return null;
  return last.report.units.flatMap((u) =>
    u.rules.map((r): [Labels, number] => [
      { plan: u.plan, target: u.target, unit: u.unit ?? '', rule: r.rule },
      r.ok ? 1 : 0,
    ]),
  );
}

export function metricsRoute(app: ApiApp, ctx: RouteContext): void {
  const m = ctx.deps.metrics;
  if (!m.enabled) return;
  const sizes = new RepoSizes(() => ctx.deps.config, ctx.deps.clock);
  app.get(
    '/metrics',
    {
      schema: {
        hide: true,
        operationId: 'getMetrics',
        tags: ['service'],
        'x-safehold-role': m.protect ? 'viewer' : 'none',
      },
    },
    async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await renderMetrics(ctx, sizes)),
  );
}
