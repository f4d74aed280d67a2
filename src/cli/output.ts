// CLI output: with --json one JSON document on stdout and nothing else there;
// otherwise human lines. Progress goes to stderr, only on a TTY, redrawn at
// most every 200 ms and erased when done. Errors never carry stack traces.

import { formatBytes, formatDuration } from '../core/format.ts';

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(opts: { json: boolean; quiet: boolean; stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream }) {
    this.json = opts.json;
    this.quiet = opts.quiet;
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
  }

  /** Human text on stdout (suppressed with --json or --quiet). */
  line(s = ''): void {
    if (!this.json && !this.quiet) this.stdout.write(`${s}\n`);
  }

  /** The command's result: JSON document, or the human rendering. */
  result(doc: unknown, human: () => void): void {
    if (this.json) this.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    else if (!this.quiet) human();
  }

  /** A progress note on stderr (not with --quiet), so stdout keeps only the result. */
  info(s: string): void {
    if (!this.quiet) {
      this.clearProgress();
      this.stderr.write(`${s}\n`);
    }
  }

  /** A warning on stderr (not with --quiet). */
  warn(s: string): void {
    if (!this.quiet) this.stderr.write(`warning: ${s}\n`);
  }

  error(s: string): void {
    this.clearProgress();
    this.stderr.write(`safehold: ${s}\n`);
  }

  /** Shows a progress line from `render` every 200 ms on a TTY. */
  startProgress(render: (elapsedMs: number) => string): void {
    if (this.quiet || !this.stderr.isTTY) return;
    const t0 = Date.now();
    this.timer = setInterval(() => {
      const cols = this.stderr.columns || 80;
      this.stderr.write(`\r\x1b[2K${render(Date.now() - t0).slice(0, cols - 1)}`);
      this.drawn = true;
    }, 200);
    this.timer.unref();
  }

  clearProgress(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.stderr.write('\r\x1b[2K');
    this.drawn = false;
  }
}

export function rate(bytes: number, ms: number): string {
  return ms > 0 ? `${formatBytes((bytes * 1000) / ms)}/s` : '';
}

export { formatBytes, formatDuration };

/** A plain text table: a header, a rule, and rows padded to their columns. */
export function printTable(line: (s: string) => void, head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(w[i]!))
      .join('  ')
      .trimEnd();
  line(fmt(head));
  line(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) line(fmt(r));
}
