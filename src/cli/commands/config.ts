// safehold config validate|show: checks the configuration file (every
// problem at once, one per line) or prints its compiled form with secrets
// redacted. The file comes from --config or SAFEHOLD_CONFIG. The loader
// (zod, yaml, croner) is imported on first use: other commands start faster.

import { SafeholdError } from '../../core/errors.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { configFile, loadConfigFrom } from '../session.ts';

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export const configCommand: Command = {
  name: 'config',
  summary: 'validate or show the configuration file (safehold.yaml)',
  usage: `safehold config validate|show [--config FILE] [--json]

  validate   check the file: prints 'ok: …', or every problem (file:line:col: path: what was expected), exit 1;
             then warnings (exit code still 0): a plan that runs more often than its keep rules keep
             snapshots, paths and destinations that do not exist, repositories not initialised
  show       print the compiled configuration as JSON, secrets shown as ***(env:NAME); each activity
             also lists 'resolvedTargets', the configured targets it takes

  -c, --config FILE   the configuration file (or SAFEHOLD_CONFIG)`,
  options: {},
  async run(ctx) {
    const [sub, ...extra] = ctx.positionals;
    if (sub !== 'validate' && sub !== 'show') {
      throw new SafeholdError(
        'USAGE',
        sub === undefined
          ? "config needs a subcommand: 'validate' or 'show'"
          : `unknown subcommand 'config ${sub}' (expected 'validate' or 'show')`,
      );
    }
    if (extra.length > 0)
      throw new SafeholdError('USAGE', `unexpected argument '${extra[0]}' (see 'safehold config --help')`);
    const file = configFile(ctx.values, ctx.env);
    const config = await loadConfigFrom(ctx.values, ctx.env);
    if (sub === 'show') {
      const { redactConfig } = await import('../../config/redact.ts');
      const { configuredTargets } = await import('../../config/activity-targets.ts');
      const doc = redactConfig(config) as { plans: Record<string, { activities: Record<string, unknown>[] }> };
      for (const p of Object.values(config.plans)) {
        p.activities.forEach((a, i) => {
          doc.plans[p.name]!.activities[i]!.resolvedTargets = configuredTargets(a, config);
        });
      }
      ctx.out.result(doc, () => ctx.out.line(JSON.stringify(doc, null, 2)));
      return EXIT.ok;
    }
    const n = {
      plans: Object.keys(config.plans).length,
      activities: Object.values(config.plans).reduce((s, p) => s + p.activities.length, 0),
      targets: Object.keys(config.targets).length,
      destinations: Object.keys(config.destinations).length,
      sites: Object.keys(config.sites).length,
    };
    const { locationWarnings, retentionWarnings } = await import('../../config/config-warnings.ts');
    const warnings = [...retentionWarnings(config), ...(await locationWarnings(config))];
    ctx.out.result({ ok: true, file: config.file, ...n, warnings }, () => {
      ctx.out.line(
        `ok: ${count(n.plans, 'plan')} (${count(n.activities, 'activity').replace(/ys$/, 'ies')}), ${count(n.targets, 'target')}, ${count(n.destinations, 'destination')}, ${count(n.sites, 'site')} in ${file}`,
      );
      for (const w of warnings) ctx.out.line(`warning: ${file}: ${w.path}: ${w.message}`);
    });
    return EXIT.ok;
  },
};
