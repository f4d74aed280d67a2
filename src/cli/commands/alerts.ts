// safehold alerts: lists the alerts recorded in the catalog, newest first,
// with how each was delivered on each channel (when, or why not).

import { formatTime } from '../../core/format.ts';
import { printTable } from '../output.ts';
import { SafeholdError } from '../../core/errors.ts';
import { ALERT_EVENTS, isAlertEvent } from '../../alerts/events.ts';
import { openCatalog } from '../session.ts';
import type { AlertDelivery } from '../../catalog/alerts.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

/** One delivery in the table: `hook ok 06:22:31Z` (when it was delivered), `pager FAILED`, `mail suppressed`. */
function deliveryCell(d: AlertDelivery): string {
  if (d.outcome === 'delivered') return `${d.channel} ok ${formatTime(d.at).slice(11)}`;
  return `${d.channel} ${d.outcome === 'failed' ? 'FAILED' : 'suppressed'}`;
}

export const alertsCommand: Command = {
  name: 'alerts',
  summary: 'list recorded alerts (newest first)',
  usage: `safehold alerts [--limit N] [--event EVENT]

Lists the alerts raised (newest first) and their delivery on each channel:
ok with the time it was delivered, FAILED, or suppressed by the channel's
filters (events, minSeverity); the reason of each failed or suppressed
delivery follows the table.
EVENT is one of: ${ALERT_EVENTS.join(', ')}.`,
  options: { limit: { type: 'string' }, event: { type: 'string' } },
  async run(ctx) {
    const limitRaw = str(ctx.values, 'limit') ?? '50';
    const limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1)
      throw new SafeholdError('USAGE', `--limit takes a whole number above 0, not '${limitRaw}'`);
    const event = str(ctx.values, 'event');
    if (event !== undefined && !isAlertEvent(event)) {
      throw new SafeholdError('USAGE', `--event must be one of ${ALERT_EVENTS.join(', ')}, not '${event}'`);
    }
    const catalog = await openCatalog(ctx);
    try {
      const alerts = catalog.alerts().list({ limit, ...(event ? { event } : {}) });
      ctx.out.result(alerts, () => {
        if (alerts.length === 0) {
          ctx.out.line('no alerts');
          return;
        }
        printTable(
          ctx.out.line.bind(ctx.out),
          ['ID', 'Time', 'Event', 'Severity', 'Delivered', 'Summary'],
          alerts.map((a) => [
            a.id.slice(0, 8),
            formatTime(a.at),
            a.event,
            a.severity,
            a.deliveries.length === 0 ? '-' : a.deliveries.map(deliveryCell).join(', '),
            a.summary,
          ]),
        );
        const notes = alerts.flatMap((a) =>
          a.deliveries
            .filter((d) => !d.ok)
            .map((d) => `${a.id.slice(0, 8)} ${d.channel} ${d.outcome}: ${d.detail ?? 'no reason recorded'}`),
        );
        if (notes.length > 0) ctx.out.line('');
        for (const n of notes) ctx.out.line(n);
      });
    } finally {
      catalog.close();
    }
    return EXIT.ok;
  },
};
