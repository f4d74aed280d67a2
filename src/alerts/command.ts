// The command alert channel: runs a configured argv (no shell) with the
// alert's JSON on stdin and SAFEHOLD_ALERT_EVENT / _SEVERITY / _ID in its
// environment, with the channel's `env` on top of the allow-listed variables
// of core/child-env.ts (no secrets); exit 0 is a delivery. On timeout the
// whole process group is stopped (core/child-process.ts: SIGTERM, SIGKILL
// after a grace period), so a shell's children do not outlive it.

import { childEnv } from '../core/child-env.ts';
import { runChild } from '../core/child-process.ts';
import type { AlertPayload } from './events.ts';
import type { DeliveryResult } from './webhook.ts';

export interface CommandConfig {
  argv: string[];
  /** Real-time limit; default 30 s. */
  timeoutMs?: number;
  /** The command's own environment variables, on top of the allow-listed ones (core/child-env.ts). */
  env?: Record<string, string>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const STDERR_KEEP = 2000;

/** Runs the command once. Never throws: failures are in the result. */
export async function runAlertCommand(payload: AlertPayload, cfg: CommandConfig): Promise<DeliveryResult> {
  const file = cfg.argv[0];
  if (!file) return { ok: false, detail: 'alert command is empty', attempts: 0 };
  const timeoutMs = cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const r = await runChild({
    argv: cfg.argv,
    timeoutMs,
    stdin: `${JSON.stringify(payload)}\n`,
    stderrTail: STDERR_KEEP,
    env: childEnv({
      ...(cfg.env ?? {}),
      SAFEHOLD_ALERT_EVENT: payload.event,
      SAFEHOLD_ALERT_SEVERITY: payload.severity,
      SAFEHOLD_ALERT_ID: payload.id,
    }),
  });
  const fail = (detail: string): DeliveryResult => ({ ok: false, detail, attempts: 1 });
  if (r.startError) return fail(`cannot run ${file}: ${r.startError.code ?? r.startError.reason}`);
  if (r.stopped === 'timeout') return fail(`${file} timed out after ${timeoutMs} ms`);
  if (r.exitCode === 0) return { ok: true, detail: `${file} exited 0`, attempts: 1 };
  const err = r.stderr.replace(/\s+/g, ' ').trim().slice(-300);
  return fail(`${file} ${r.signal ? `killed by ${r.signal}` : `exited ${r.exitCode}`}${err ? `: ${err}` : ''}`);
}
