// safehold alerts: lists the alerts recorded in the catalog, newest first,
// with how each was delivered on each channel.

import { formatTime } from '../../core/format.ts';
import { printTable } from '../output.ts';
import { SafeholdError } from '../../core/errors.ts';
import { ALERT_EVENTS, isAlertEvent } from '../../alerts/events.ts';
import { openCatalog } from '../session.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const alertsCommand: Command = {
  name: 'alerts',
  summary: 'list recorded alerts (newest first)',
  usage: `safehold alerts [--limit N] [--event EVENT]

Lists the alerts raised (newest first) and their delivery on each channel.
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
    const catalog = openCatalog(ctx.env);
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
            a.deliveries.length === 0
              ? '-'
              : a.deliveries.map((d) => `${d.channel} ${d.ok ? 'ok' : 'FAILED'}`).join(', '),
            a.summary,
          ]),
        );
      });
    } finally {
      catalog.close();
    }
    return EXIT.ok;
  },
};
