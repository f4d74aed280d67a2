// Loads the runbooks kept in files of their own: runbooks/NAME.yaml (or .yml)
// beside the configuration file, one runbook per file, the file name being
// the runbook's name. Each file is parsed, validated and compiled like the
// main file, and its problems name that file:line:col.

import fs from 'node:fs';
import nodePath from 'node:path';
import { SafeholdError, readFailureReason } from '../core/errors.ts';
import { compileRunbook, withSources } from './compile-runbooks.ts';
import { configError, errorFromLines, errorMap, problemsFromIssues } from './problems.ts';
import type { Problem } from './problems.ts';
import { STEP_NAME_RE, runbookSchema } from './schema-runbooks.ts';
import type { Config, Runbook } from './types.ts';
import { parseYaml } from './yaml-source.ts';

export interface RunbookFiles {
  runbooks: Record<string, Runbook>;
  /** One CONFIG error per file with problems. */
  errors: SafeholdError[];
  /** The files' texts, for the configuration's content hash. */
  texts: string[];
}

/** The runbooks directory of a configuration file. */
export function runbooksDir(configFile: string): string {
  return nodePath.join(nodePath.dirname(configFile), 'runbooks');
}

/** Reads runbooks/*.yaml beside `configFile`; `config` gives the plans they may run and the runbooks already defined. */
export function loadRunbookFiles(
  configFile: string,
  config: Pick<Config, 'plans' | 'restorePlans' | 'runbooks' | 'targets'>,
): RunbookFiles {
  const dir = runbooksDir(configFile);
  const out: RunbookFiles = { runbooks: {}, errors: [], texts: [] };
  let names: string[];
  try {
    names = fs
      .readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return out;
    throw new SafeholdError('CONFIG', `cannot read the runbooks directory ${dir}: ${readFailureReason(e)}`, {
      cause: e,
    });
  }
  for (const fileName of names) {
    const file = nodePath.join(dir, fileName);
    const name = fileName.replace(/\.ya?ml$/, '');
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      out.errors.push(new SafeholdError('CONFIG', `cannot read runbook file ${file}: ${readFailureReason(e)}`));
      continue;
    }
    out.texts.push(`${fileName}\n${text}`);
    const r = loadOne(file, name, text, config);
    if (r instanceof SafeholdError) out.errors.push(r);
    else out.runbooks[name] = r;
  }
  return out;
}

function loadOne(
  file: string,
  name: string,
  text: string,
  config: Pick<Config, 'plans' | 'restorePlans' | 'runbooks' | 'targets'>,
): Runbook | SafeholdError {
  const line = (message: string) => errorFromLines(file, [{ line: 1, col: 1, path: '', message }]);
  if (!STEP_NAME_RE.test(name))
    return line(`the file name must be the runbook's name: lower-case letters, digits and '-' (then .yaml)`);
  if (Object.hasOwn(config.runbooks, name))
    return line(`runbook '${name}' is also defined under 'runbooks' of the configuration file`);
  const src = parseYaml(text);
  if (src.errors.length > 0)
    return errorFromLines(
      file,
      src.errors.map((e) => ({ line: e.at?.line ?? null, col: e.at?.col ?? null, path: '', message: e.message })),
    );
  if (src.data === null || src.data === undefined)
    return line('expected a runbook (a map with steps), got an empty file');
  const parsed = runbookSchema.safeParse(src.data, { error: errorMap });
  if (!parsed.success) return configError(file, src, problemsFromIssues(parsed.error.issues, src.data));
  const problems: Problem[] = [];
  const rb = compileRunbook(name, parsed.data, {
    problems,
    root: src.data,
    prefix: [],
    plans: config.plans,
    restorePlans: config.restorePlans,
    targets: config.targets,
  });
  if (problems.length > 0) return configError(file, src, problems);
  return withSources(rb, src, file, []);
}

/** One CONFIG error holding the lines of several. */
export function mergeConfigErrors(errors: SafeholdError[]): SafeholdError {
  if (errors.length === 1) return errors[0]!;
  return new SafeholdError('CONFIG', errors.map((e) => e.message).join('\n'), {
    details: { problems: errors.flatMap((e) => (e.details?.problems as unknown[] | undefined) ?? []) },
  });
}
