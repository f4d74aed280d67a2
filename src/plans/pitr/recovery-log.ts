// What a recovering server's log says (lc_messages=C, set for the run):
// where recovery stopped and why, the last transaction replayed, the end of
// redo, whether it paused or is ready, and the fatal errors that end it
// ("recovery ended before configured recovery target was reached").

export interface RecoveryState {
  /** "recovery stopping before commit of transaction 735, time 2026-…": the target was met. */
  stopping: string | null;
  /** Time of that stop, ISO. */
  stopTime: string | null;
  /** "redo done at 0/3056570". */
  redoDone: string | null;
  /** "last completed transaction was at log time …", ISO. */
  lastTransaction: string | null;
  paused: boolean;
  ready: boolean;
  /** The first FATAL or PANIC line. */
  fatal: string | null;
  /** Segments fetched so far (restored log file "…" from archive). */
  restored: number;
}

export function emptyRecoveryState(): RecoveryState {
  return {
    stopping: null,
    stopTime: null,
    redoDone: null,
    lastTransaction: null,
    paused: false,
    ready: false,
    fatal: null,
    restored: 0,
  };
}

/** A log timestamp ("2026-12-05 18:26:08.637956+00") as ISO. */
export function logTime(s: string): string | null {
  const m = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::?\d\d)?| UTC)?/.exec(s);
  if (!m) return null;
  let zone = (m[3] ?? 'Z').trim();
  if (zone === 'UTC') zone = 'Z';
  else if (zone.length === 3) zone = `${zone}:00`;
  const t = new Date(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}

/** Folds one log line into the state. */
export function readLogLine(s: RecoveryState, line: string): void {
  const stop = /LOG:\s+(recovery stopping .*)$/.exec(line);
  if (stop) {
    s.stopping = stop[1]!.trim();
    const t = /, time (.+)$/.exec(s.stopping);
    s.stopTime = t ? logTime(t[1]!) : null;
  }
  const redo = /LOG:\s+redo done at ([0-9A-F]+\/[0-9A-F]+)/.exec(line);
  if (redo) s.redoDone = redo[1]!;
  const last = /last completed transaction was at log time (.+)$/.exec(line);
  if (last) s.lastTransaction = logTime(last[1]!);
  if (/LOG:\s+restored log file "/.test(line)) s.restored++;
  if (/recovery has paused|pausing at the end of recovery/.test(line)) s.paused = true;
  if (/database system is ready to accept (read-only )?connections/.test(line) && !/read-only/.test(line))
    s.ready = true;
  const fatal = /(?:FATAL|PANIC):\s+(.*)$/.exec(line);
  if (fatal && s.fatal === null && !/the database system is (starting up|shutting down|not yet accepting)/.test(line))
    s.fatal = fatal[1]!.trim();
}

/** Reads the whole log text. */
export function readLog(text: string): RecoveryState {
  const s = emptyRecoveryState();
  for (const line of text.split('\n')) readLogLine(s, line);
  return s;
}
