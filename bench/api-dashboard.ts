// The dashboard API under load (issue 6): fills a catalog with 100,000 plan
// runs of 20 plans (5 backup tasks each: ~500,000 tasks holding ~1,060,000
// snapshot ids: 2 per succeeded task, 3 for the first unit), 2,000 alerts and a few leases, bulk-inserted in one
// transaction with prepared statements; starts the REST API on loopback with
// a real viewer token (catalog token store, real authenticator); then drives
// each endpoint with wrk (50 connections) and prints p50/p95/p99 latency and
// requests/s, as a Markdown table and (with --json FILE) as JSON.
//
// Usage: node bench/api-dashboard.ts [--runs 100000] [--duration 20] [--connections 50] [--json FILE] [--keep]
// Needs wrk on PATH (bench/api-dashboard.sh installs it with apt-get).

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DatabaseSync } from 'node:sqlite';
import type { AddressInfo } from 'node:net';
import type { Config, FilesTarget, Plan } from '../src/config/types.ts';
import { systemClock } from '../src/core/clock.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import { buildApiApp } from '../src/api/http/app.ts';
import { auditTo, createAuthenticator, createToken } from '../src/api/auth/index.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    duration: { type: 'string', default: '20' },
    connections: { type: 'string', default: '50' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const PLANS = 20;
const UNITS = 5;
const SNAPS_PER_TASK = 2;
const HOUR = 3_600_000;

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function benchConfig(dir: string): Config {
  const targets: Record<string, FilesTarget> = {};
  const plans: Record<string, Plan> = {};
  for (let p = 1; p <= PLANS; p++) {
    const n = String(p).padStart(2, '0');
    const units: Record<string, { paths: string[]; exclude: string[] }> = {};
    for (let u = 1; u <= UNITS; u++) units[`u${u}`] = { paths: [path.join(dir, 'src', n, `u${u}`)], exclude: [] };
    targets[`T${n}`] = { kind: 'files', name: `T${n}`, site: null, units };
    plans[`plan-${n}`] = {
      name: `plan-${n}`,
      description: `bench plan ${n}`,
      destination: 'repo',
      window: { type: 'always' },
      schedule: p % 2 ? { cron: `${p} * * * *`, timezone: 'UTC' } : { cron: `${p} 2 * * *`, timezone: 'Europe/Zurich' },
      activities: [
        {
          name: 'files',
          kind: 'backup',
          targets: [`T${n}`],
          retention: null,
          units: '*',
          quiesce: false,
          quiesceTimeoutMs: 60_000,
          preTask: null,
          postTask: null,
          tags: [],
          purge: null,
          to: null,
          timeoutMs: 3_600_000,
          group: null,
          allowEmpty: false,
        },
      ],
      retry: {
        scheduled: { intervalMs: 600_000, maxDurationMs: 14_400_000 },
        purge: { intervalMs: 600_000, maxDurationMs: 21_600_000 },
        onDemand: null,
      },
      retention: null,
      prePlan: null,
      postPlan: null,
      timeoutMs: 36_000_000,
    };
  }
  return {
    file: path.join(dir, 'safehold.yaml'),
    settings: {
      backupsEnabled: true,
      dataDir: path.join(dir, 'data'),
      quiesceGraceMs: 200,
      maxParallelRuns: 2,
      lockMaxAgeMs: 12 * HOUR,
      lockHeartbeatTimeoutMs: 300_000,
      shutdownGraceMs: 5_000,
      metrics: { enabled: true, protect: false },
    },
    sites: {},
    targets,
    plans,
    alerts: [],
    groups: {},
    restorePlans: {},
    runbooks: {},
    destinations: {
      repo: {
        type: 'repository',
        name: 'repo',
        path: path.join(dir, 'repo'),
        location: path.join(dir, 'repo'),
        remote: null,
        backendOptions: {},
        password: { source: 'inline', value: 'x' },
        requireMount: false,
        minFree: null,
        site: null,
      },
    },
  };
}

/** Fills the catalog: RUNS runs spread over the plans (one an hour each, newest now), 5 tasks each, 2 snapshot ids per succeeded task. */
function fill(dbPath: string, now: number): { tasks: number; snapshots: number } {
  const db = new DatabaseSync(dbPath);
  db.exec('PRAGMA busy_timeout = 5000');
  const run =
    db.prepare(`INSERT INTO plan_runs (id, plan, run_trigger, config_file, started_at, finished_at, status, reason, pid, hostname, scheduled_for)
    VALUES (?, ?, ?, NULL, ?, ?, ?, ?, 1, 'bench', ?)`);
  const task =
    db.prepare(`INSERT INTO tasks (id, run_id, seq, activity, kind, target, unit, status, reason, started_at, finished_at, snapshots, bytes)
    VALUES (?, ?, ?, 'files', 'backup', ?, ?, ?, ?, ?, ?, ?, ?)`);
  const alert = db.prepare('INSERT INTO alerts (id, event, severity, summary, details, at) VALUES (?, ?, ?, ?, ?, ?)');
  const lease = db.prepare(
    "INSERT INTO leases (scope, kind, holder, run_id, pid, hostname, created_at, heartbeat_at) VALUES (?, 'backup', 'bench', ?, 1, 'bench', ?, ?)",
  );
  let tasks = 0;
  let snapshots = 0;
  const perPlan = Math.ceil(RUNS / PLANS);
  db.exec('BEGIN');
  for (let i = 0; i < RUNS; i++) {
    const p = (i % PLANS) + 1;
    const k = Math.floor(i / PLANS); // k-th run of the plan, oldest first
    const n = String(p).padStart(2, '0');
    const id = randomBytes(8).toString('hex');
    const started = now - (perPlan - k) * HOUR + p * 60_000;
    const newest = k === perPlan - 1;
    const r =
      newest && p <= 2
        ? 'running'
        : i % 50 === 7
          ? 'failed'
          : i % 50 === 13
            ? 'partial'
            : i % 100 === 21
              ? 'skipped'
              : 'succeeded';
    const finished = r === 'running' ? null : started + 60_000 + (i % 600) * 1000;
    run.run(
      id,
      `plan-${n}`,
      k % 10 === 0 ? 'on-demand' : 'scheduled',
      started,
      finished,
      r,
      r === 'failed' ? 'a unit failed' : null,
      started,
    );
    if (r === 'skipped') continue;
    for (let u = 1; u <= UNITS; u++) {
      const ok = r === 'succeeded' || (r === 'partial' && u !== 3);
      const status = r === 'running' ? (u === 1 ? 'running' : 'pending') : ok ? 'succeeded' : 'failed';
      const fin = r === 'running' ? null : started + u * 10_000;
      const snaps =
        status === 'succeeded'
          ? JSON.stringify(
              Array.from({ length: u === 1 ? SNAPS_PER_TASK + 1 : SNAPS_PER_TASK }, () =>
                randomBytes(32).toString('hex'),
              ),
            )
          : status === 'failed'
            ? '[]'
            : null;
      if (status === 'succeeded') snapshots += u === 1 ? SNAPS_PER_TASK + 1 : SNAPS_PER_TASK;
      task.run(
        `${id}-${u}`,
        id,
        u,
        `T${n}`,
        `u${u}`,
        status,
        status === 'failed' ? 'dump failed' : null,
        started + (u - 1) * 10_000,
        fin,
        snaps,
        status === 'succeeded' ? 1_000_000 + (i % 977) * 1024 : null,
      );
      tasks++;
    }
    if (newest && p <= 2) lease.run(`unit:T${n}/u1`, id, started, now - 5_000);
  }
  for (let a = 0; a < 2000; a++) {
    alert.run(
      randomBytes(8).toString('hex'),
      a % 3 ? 'run-failed' : 'stale-lock-cleared',
      a % 3 ? 'critical' : 'warning',
      `bench alert ${a}`,
      '{}',
      now - (2000 - a) * 600_000,
    );
  }
  db.exec('COMMIT');
  db.close();
  return { tasks, snapshots };
}

const LUA = `
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON {"requests":%d,"durationUs":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,"non2xx":%d,"socketErrors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`;

interface Result {
  path: string;
  requests: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  socketErrors: number;
}

function wrk(url: string, token: string, script: string, seconds: number, connections: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'wrk',
      [
        '-t1',
        `-c${connections}`,
        `-d${seconds}s`,
        '--timeout',
        '10s',
        '-s',
        script,
        '-H',
        `Authorization: Bearer ${token}`,
        url,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /WRKJSON (\{.*\})/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`wrk failed (${code}): ${out}`));
      const j = JSON.parse(m[1]!) as Record<string, number>;
      const ms = (us: number) => Math.round(us / 100) / 10;
      resolve({
        path: new URL(url).pathname + new URL(url).search,
        requests: j.requests!,
        rps: Math.round(j.requests! / (j.durationUs! / 1e6)),
        p50Ms: ms(j.p50!),
        p95Ms: ms(j.p95!),
        p99Ms: ms(j.p99!),
        maxMs: ms(j.max!),
        non2xx: j.non2xx!,
        socketErrors: j.socketErrors!,
      });
    });
  });
}

async function main(): Promise<void> {
  if (spawnSync('wrk', ['-v'], { stdio: 'ignore' }).error)
    throw new Error('wrk is not installed: apt-get install -y wrk (or run bench/api-dashboard.sh)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-api-bench-'));
  const config = benchConfig(dir);
  fs.mkdirSync(path.join(dir, 'repo', 'data', '00'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'repo', 'data', '00', 'pack'), Buffer.alloc(4096));
  const now = Date.now();
  const catalog = Catalog.open(path.join(dir, 'data'));
  let t = performance.now();
  const filled = fill(catalog.path, now);
  const fillS = (performance.now() - t) / 1000;
  log(
    `filled ${RUNS} runs, ${filled.tasks} tasks, ${filled.snapshots} snapshot ids in ${fillS.toFixed(1)} s; catalog ${(fs.statSync(catalog.path).size / 1e6).toFixed(0)} MB`,
  );
  const { token } = createToken(catalog, { role: 'viewer', name: 'bench', createdBy: 'bench' });
  const app = await buildApiApp({
    core: null,
    catalog,
    config,
    clock: systemClock,
    auth: createAuthenticator(catalog),
    audit: auditTo(catalog),
    metrics: { enabled: true, protect: false },
    log: () => {},
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const script = path.join(dir, 'report.lua');
  fs.writeFileSync(script, LUA);
  const results: Result[] = [];
  try {
    // One request each first: correct answers, and warm statement caches.
    const d = (await (
      await fetch(`${base}/api/dashboard`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as Record<string, unknown[]>;
    t = performance.now();
    await (await fetch(`${base}/api/dashboard`, { headers: { authorization: `Bearer ${token}` } })).text();
    log(
      `one dashboard: ${(performance.now() - t).toFixed(1)} ms; ${d.plans!.length} plans, ${d.running!.length} running, ${d.locks!.length} locks, ${d.alerts!.length} alerts, ${d.protection!.length} protection rows`,
    );
    const seconds = Number(args.duration);
    const conns = Number(args.connections);
    const targets: [string, number][] = [
      ['/api/dashboard', seconds],
      ['/api/runs?limit=50', Math.ceil(seconds / 2)],
      ['/api/snapshots?limit=50', Math.ceil(seconds / 2)],
      ['/api/charts?plan=plan-07&days=30', Math.ceil(seconds / 2)],
    ];
    for (const [p, s] of targets) {
      log(`wrk ${p}: ${conns} connections, ${s} s`);
      results.push(await wrk(base + p, token, script, s, conns));
    }
  } finally {
    await app.close();
    catalog.close();
    if (!args.keep) fs.rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
  const cpu = os.cpus()[0]?.model ?? '?';
  process.stdout.write(
    `${new Date(now).toISOString().slice(0, 10)}, ${os.cpus().length} × ${cpu}, Node ${process.version}; ${RUNS} runs, ${filled.tasks} tasks, ${filled.snapshots} snapshot ids (fill ${fillS.toFixed(1)} s); wrk -t1 -c${args.connections}\n\n`,
  );
  process.stdout.write(
    '| endpoint | requests/s | p50 ms | p95 ms | p99 ms | max ms | non-2xx |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n',
  );
  for (const r of results)
    process.stdout.write(
      `| \`GET ${r.path}\` | ${r.rps} | ${r.p50Ms} | ${r.p95Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.non2xx + r.socketErrors} |\n`,
    );
  if (args.json)
    fs.writeFileSync(
      args.json,
      `${JSON.stringify({ date: new Date(now).toISOString(), runs: RUNS, ...filled, fillS, results }, null, 2)}\n`,
    );
  if (results.some((r) => r.non2xx + r.socketErrors > 0)) process.exitCode = 1;
}

await main();
