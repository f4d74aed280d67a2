// The command alert channel: runs a configured argv (no shell) with the
// alert's JSON on stdin and SAFEHOLD_ALERT_EVENT / _SEVERITY / _ID in its
// environment, with the channel's `env` on top of the allow-listed variables
// of core/child-env.ts (no secrets); exit 0 is a delivery. On timeout the
// whole process group is killed, so a shell's children do not outlive it.

import { spawn } from 'node:child_process';
import { childEnv } from '../core/child-env.ts';
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
export function runAlertCommand(payload: AlertPayload, cfg: CommandConfig): Promise<DeliveryResult> {
  const [file, ...args] = cfg.argv;
  if (!file) return Promise.resolve({ ok: false, detail: 'alert command is empty', attempts: 0 });
  const timeoutMs = cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(file, args, {
        stdio: ['pipe', 'ignore', 'pipe'],
        detached: true,
        env: childEnv({ ...(cfg.env ?? {}), SAFEHOLD_ALERT_EVENT: payload.event, SAFEHOLD_ALERT_SEVERITY: payload.severity, SAFEHOLD_ALERT_ID: payload.id }),
      });
    } catch (e) {
      resolve({ ok: false, detail: `cannot run ${file}: ${e instanceof Error ? e.message : String(e)}`, attempts: 1 });
      return;
    }
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const done = (r: DeliveryResult) => { if (!settled) { settled = true; clearTimeout(timer); resolve(r); } };
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
    }, timeoutMs);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => { stderr = (stderr + d).slice(-STDERR_KEEP); });
    child.stdin!.on('error', () => {}); // the command may exit without reading stdin
    child.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, detail: `cannot run ${file}: ${e.code ?? e.message}`, attempts: 1 }));
    child.on('close', (code, signal) => {
      const err = stderr.replace(/\s+/g, ' ').trim().slice(-300);
      if (timedOut) done({ ok: false, detail: `${file} timed out after ${timeoutMs} ms`, attempts: 1 });
      else if (code === 0) done({ ok: true, detail: `${file} exited 0`, attempts: 1 });
      else done({ ok: false, detail: `${file} ${signal ? `killed by ${signal}` : `exited ${code}`}${err ? `: ${err}` : ''}`, attempts: 1 });
    });
    child.stdin!.end(JSON.stringify(payload) + '\n');
  });
}
