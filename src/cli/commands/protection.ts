// safehold protection: the protection report (docs/protection.md): for each
// unit the plans back up, its copies per destination and site, its last
// passed drill, and whether each rule holds and why. Reads only; the
// server's periodic evaluation is what records violations and alerts.

import { formatTime } from '../../core/format.ts';
import { systemClock } from '../../core/clock.ts';
import { evaluateProtection, unitLabel } from '../../plans/protection/evaluate.ts';
import type { ProtectionReport } from '../../plans/protection/report-types.ts';
import { printTable } from '../output.ts';
import type { Output } from '../output.ts';
import { commandConfig, openCatalog } from '../session.ts';
import type { Command } from '../command.ts';
import { okOrError } from '../exit-codes.ts';

export const protectionCommand: Command = {
  name: 'protection',
  summary: 'the protection report: copies, sites and drills of every unit against the rules',
  usage: `safehold protection [--config FILE] [--json]

For each unit the plans back up (plan/target/unit): the destinations holding
its copies (snapshots in repositories, closed generations in directories,
reached through the plan's destination and copy activities), on which sites,
the newest copy, the last passed restore drill, and for each rule (minCopies,
minSites, rpo, drillWithin) whether it holds and why.
Exits 0 when every unit meets every rule, 1 when some unit does not.`,
  options: {},
  async run(ctx) {
    const config = await commandConfig(ctx);
    const catalog = await openCatalog(ctx);
    try {
      const report = await evaluateProtection({ config, catalog, clock: systemClock });
      ctx.out.result(report, () => printReport(ctx.out, report));
      return okOrError(report.ok);
    } finally {
      catalog.close();
    }
  },
};

function printReport(out: Output, r: ProtectionReport): void {
  const line = out.line.bind(out);
  for (const d of r.destinations.filter((x) => x.error !== null)) line(`destination ${d.name}: ${d.error}`);
  if (r.units.length === 0) {
    line('no units backed up yet');
    return;
  }
  printTable(
    line,
    ['Unit', 'Rule', 'OK', 'Why'],
    r.units.flatMap((u) => u.rules.map((x) => [unitLabel(u), x.rule, x.ok ? 'ok' : 'VIOLATED', x.why])),
  );
  line();
  printTable(
    line,
    ['Unit', 'Copies', 'Newest per site', 'Last drill'],
    r.units.map((u) => [
      unitLabel(u),
      u.copies.map((c) => `${c.destination}:${c.count}`).join(' ') || '-',
      u.sites.map((s) => `${s.site} ${formatTime(s.newest)}`).join(', ') || '-',
      u.lastDrill === null ? '-' : formatTime(u.lastDrill),
    ]),
  );
  const bad = r.units.filter((u) => !u.ok).length;
  line();
  line(bad === 0 ? `all ${r.units.length} unit(s) protected` : `${bad} of ${r.units.length} unit(s) in violation`);
}
