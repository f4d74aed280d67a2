// Keeps the protection state of the catalog up to date and raises its
// alerts: after each evaluation the units found in violation are compared
// with those recorded; a unit that enters violation raises one critical
// 'protection-violation' alert, one that stays raises nothing more, one that
// leaves raises one notice (the same event, severity info). The server runs
// evaluations periodically (every `protection.checkEvery`, on the injected
// clock) while the configuration has a `protection:` section or any site.

import type { Catalog } from '../../catalog/catalog.ts';
import type { Config } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import type { AlertEvent } from '../../core/alert-event.ts';
import { evaluateProtection, unitLabel } from './evaluate.ts';
import type { ProtectionReport } from './report-types.ts';

export interface MonitorDeps {
  /** The configuration in force (read at each evaluation: a reload may change it). */
  config(): Config;
  catalog: Catalog;
  clock: Clock;
  alert(e: AlertEvent): void;
  log(level: 'info' | 'warn' | 'error', msg: string): void;
}

/** Records the report as the last one and its violations; raises the alerts of the units that entered or left. */
export function recordProtection(report: ProtectionReport, catalog: Catalog, alert: (e: AlertEvent) => void): void {
  const store = catalog.protection();
  const violating = report.units
    .filter((u) => !u.ok)
    .map((u) => ({
      plan: u.plan,
      target: u.target,
      unit: u.unit,
      rules: u.rules.filter((r) => !r.ok).map((r) => r.rule),
    }));
  const changes = store.update(report.units, violating);
  store.saveReport(report, report.evaluatedAt);
  for (const v of changes.entered) {
    const u = report.units.find((x) => x.plan === v.plan && x.target === v.target && x.unit === v.unit)!;
    const broken = u.rules.filter((r) => !r.ok);
    alert({
      event: 'protection-violation',
      severity: 'critical',
      summary: `${unitLabel(u)} is not protected: ${broken.map((r) => `${r.rule}: ${r.why}`).join('; ')}`,
      details: {
        plan: u.plan,
        target: u.target,
        unit: u.unit,
        rules: broken.map((r) => ({ rule: r.rule, expected: r.expected, actual: r.actual, why: r.why })),
      },
    });
  }
  for (const v of changes.left)
    alert({
      event: 'protection-violation',
      severity: 'info',
      summary: `${unitLabel(v)} is protected again: every rule is met`,
      details: {
        plan: v.plan,
        target: v.target,
        unit: v.unit,
        protected: true,
        violatedSince: v.since,
        rules: v.rules,
      },
    });
}

/** Periodic evaluations for the server. */
export class ProtectionMonitor {
  private readonly deps: MonitorDeps;
  private stopper: AbortController | null = null;

  constructor(deps: MonitorDeps) {
    this.deps = deps;
  }

  /** Whether the configuration asks for periodic evaluations. */
  static wanted(config: Config): boolean {
    return config.protection?.monitored ?? Object.keys(config.sites).length > 0;
  }

  /** One evaluation, recorded and alerted; null when the configuration does not ask for it. */
  async tick(): Promise<ProtectionReport | null> {
    const config = this.deps.config();
    if (!ProtectionMonitor.wanted(config)) return null;
    const report = await evaluateProtection({ config, catalog: this.deps.catalog, clock: this.deps.clock });
    recordProtection(report, this.deps.catalog, this.deps.alert);
    const bad = report.units.filter((u) => !u.ok).length;
    this.deps.log(bad ? 'warn' : 'info', `protection report: ${report.units.length} unit(s), ${bad} in violation`);
    return report;
  }

  /**
   * Evaluates now, then every `protection.checkEvery` until stop(), when the
   * configuration asks for it; otherwise nothing runs (and nothing waits on
   * the clock). Called again after a reload: starts or stops the loop as the
   * new configuration asks.
   */
  start(): void {
    if (!ProtectionMonitor.wanted(this.deps.config())) {
      this.stop();
      return;
    }
    if (this.stopper) return;
    const ac = new AbortController();
    this.stopper = ac;
    void (async () => {
      while (!ac.signal.aborted) {
        try {
          await this.tick();
        } catch (e) {
          this.deps.log('error', `protection report failed: ${e instanceof Error ? e.message : String(e)}`);
        }
        const every = this.deps.config().protection?.checkEveryMs ?? 15 * 60_000;
        try {
          await this.deps.clock.sleep(every, ac.signal);
        } catch {
          return;
        }
      }
    })();
  }

  stop(): void {
    this.stopper?.abort();
    this.stopper = null;
  }
}
