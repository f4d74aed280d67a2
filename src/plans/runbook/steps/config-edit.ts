// The `config-edit` step: sets and removes keys of an INI, YAML or JSON file
// (the format from the extension unless given; dotted keys for sections and
// nesting). The original is kept as FILE.bak-<UTC time>, and the new text is
// written to a temporary file beside it, synced and renamed over the file, so
// a reader sees the old or the new file, never a half-written one. Setting
// values the file already has changes nothing (idempotent). Outputs:
// changed, backupFile (empty when nothing changed), changes.

import fs from 'node:fs';
import nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { SafeholdError, readFailureReason } from '../../../core/errors.ts';
import type { ConfigEditParams } from '../../../config/runbook-params.ts';
import { editText, formatOf } from './config-formats.ts';
import type { ConfigChange, EditResult } from './config-formats.ts';
import type { StepContext, StepKind } from '../step-kind.ts';

function fileOf(p: ConfigEditParams, ctx: StepContext): string {
  return nodePath.resolve(nodePath.dirname(ctx.config.file), p.file);
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SafeholdError('RUNBOOK_STEP_FAILED', `cannot read ${file}: ${readFailureReason(e)}`, { cause: e });
  }
}

function computeEdit(p: ConfigEditParams, file: string): EditResult {
  return editText(formatOf(file, p.format), readText(file), p.set ?? {}, p.remove ?? []);
}

function show(v: ConfigChange['old']): string {
  return v === undefined ? '(absent)' : JSON.stringify(v);
}

export function describeChange(c: ConfigChange): string {
  return c.new === undefined ? `remove ${c.key} (was ${show(c.old)})` : `${c.key}: ${show(c.old)} → ${show(c.new)}`;
}

/** 20261205T121314.123Z: a backup suffix that sorts by time. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '');
}

/** Writes `text` over `file` atomically (temporary file in the same directory, fsync, rename), keeping its mode. */
export function writeAtomically(file: string, text: string): void {
  const tmp = nodePath.join(
    nodePath.dirname(file),
    `.${nodePath.basename(file)}.tmp-${randomBytes(4).toString('hex')}`,
  );
  const mode = fs.statSync(file).mode & 0o7777;
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export const configEditStep: StepKind<ConfigEditParams> = {
  kind: 'config-edit',
  idempotent: true,
  async plan(p, ctx) {
    const file = fileOf(p, ctx);
    const edit = computeEdit(p, file);
    if (edit.changes.length === 0) return [`${file}: no change (already as wanted)`];
    return edit.changes.map((c) => `${file}: ${describeChange(c)}`);
  },
  async run(p, ctx) {
    const file = fileOf(p, ctx);
    const edit = computeEdit(p, file);
    if (edit.changes.length === 0) return { changed: false, backupFile: '', changes: 0 };
    const backup = `${file}.bak-${stamp(ctx.clock.now())}`;
    try {
      fs.copyFileSync(file, backup, fs.constants.COPYFILE_EXCL);
      writeAtomically(file, edit.text);
    } catch (e) {
      throw new SafeholdError('RUNBOOK_STEP_FAILED', `cannot write ${file}: ${readFailureReason(e)}`, { cause: e });
    }
    for (const c of edit.changes) ctx.log(`${file}: ${describeChange(c)}`);
    return { changed: true, backupFile: backup, changes: edit.changes.length };
  },
};
