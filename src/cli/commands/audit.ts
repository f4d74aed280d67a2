// safehold audit: the audit log of state-changing API requests (who, what,
// when, from where, with which status), newest first.

import { formatTime } from '../../core/format.ts';
import { SafeholdError } from '../../core/errors.ts';
import { printTable } from '../output.ts';
import { openCatalog } from '../session.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const auditCommand: Command = {
  name: 'audit',
  summary: 'list the API audit log (newest first)',
  usage: `safehold audit [--limit N]

Every state-changing request to the REST API, newest first (default 50):
time, principal (token id or user name) and role, method and path, HTTP
status, client address and request id.`,
  options: { limit: { type: 'string' } },
  async run(ctx) {
    if (ctx.positionals.length > 0) throw new SafeholdError('USAGE', 'usage: safehold audit [--limit N]');
    const raw = str(ctx.values, 'limit') ?? '50';
    const limit = Number(raw);
    if (!Number.isInteger(limit) || limit < 1)
      throw new SafeholdError('USAGE', `--limit takes a whole number above 0, not '${raw}'`);
    const catalog = await openCatalog(ctx);
    try {
      const entries = catalog.audit().list({ limit });
      ctx.out.result(entries, () => {
        if (entries.length === 0) {
          ctx.out.line('no audit entries');
          return;
        }
        printTable(
          ctx.out.line.bind(ctx.out),
          ['Seq', 'Time', 'Principal', 'Role', 'Request', 'Status', 'From', 'Request id', 'Detail'],
          entries.map((e) => [
            String(e.seq),
            formatTime(e.at),
            e.principal ?? '-',
            e.role ?? '-',
            `${e.method} ${e.path}`,
            String(e.status),
            e.ip ?? '-',
            e.requestId ?? '-',
            e.detail ?? '',
          ]),
        );
      });
    } finally {
      catalog.close();
    }
    return EXIT.ok;
  },
};
