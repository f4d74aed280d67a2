// A program's stdout as a Readable (backup streams of command targets and
// device programs, database dumps), run the one way of core/child-process.ts.
// The program is read ahead a little and then paused until the reader asks
// for more (backpressure); the stream ends only once the program is over,
// and fails instead, after its last byte has been read, when the caller's
// `failure` says how the program ended is a failure. Destroying the stream
// early stops the program and its process group.

import { Readable } from 'node:stream';
import { Supervised } from './child-supervisor.ts';
import type { ChildOptions, ChildOutcome } from './child-supervisor.ts';

export interface StreamOptions extends ChildOptions {
  /**
   * Stops the program ('timeout') when the reader has asked for data and
   * none came for this long (the first byte included). Time the reader
   * takes does not count.
   */
  readonly idleTimeoutMs?: number;
  /** The error the stream fails with after its last byte, for how the program ended; null: a clean end. */
  readonly failure: (outcome: ChildOutcome) => Error | null;
}

export interface ChildStream {
  readonly stdout: Readable;
  /** How the program ended (also when the reader gave up: stopped 'cancel'). */
  readonly outcome: Promise<ChildOutcome>;
  /**
   * Resolves at the first byte of stdout, or at a clean end without any;
   * rejects with the failure when the program fails before its first byte.
   */
  readonly started: Promise<void>;
}

/** Bytes of stdout read ahead of the reader before the program is paused. */
const READ_AHEAD = 256 * 1024;

/** Starts the program and gives its stdout as a stream. */
export function streamChild(opts: StreamOptions): ChildStream {
  const queue: Buffer[] = [];
  let queued = 0;
  /** The reader asked for data that has not been pushed yet. */
  let wanted = false;
  let end: { error: Error | null } | null = null;
  let idle: NodeJS.Timeout | undefined;
  let begun = false;
  let onStarted: () => void = () => {};
  let onFailed: (e: Error) => void = () => {};
  const started = new Promise<void>((resolve, reject) => {
    onStarted = resolve;
    onFailed = reject;
  });
  started.catch(() => {});

  const arm = () => {
    clearTimeout(idle);
    if (opts.idleTimeoutMs !== undefined) idle = setTimeout(() => sup.stop('timeout'), opts.idleTimeoutMs);
  };
  // Hands queued chunks to the reader while it wants them; the end (or the failure) only once the queue is empty.
  const pump = () => {
    while (wanted && queue.length > 0) {
      const chunk = queue.shift()!;
      queued -= chunk.length;
      wanted = out.push(chunk);
    }
    if (queued < READ_AHEAD && end === null) sup.proc?.stdout?.resume();
    if (!wanted || queue.length > 0) return;
    if (end === null) {
      arm();
      return;
    }
    wanted = false;
    if (end.error === null) out.push(null);
    else out.destroy(end.error);
  };
  // highWaterMark 0: the stream asks only when its buffer is empty, so a failure never overtakes data.
  const out = new Readable({
    highWaterMark: 0,
    read() {
      wanted = true;
      pump();
    },
    destroy(err, cb) {
      clearTimeout(idle);
      queue.length = 0;
      sup.stop('cancel');
      sup.proc?.stdout?.destroy();
      cb(err);
    },
  });
  const sup: Supervised = new Supervised(opts, 'stream', (chunk) => {
    clearTimeout(idle);
    if (!begun) {
      begun = true;
      onStarted();
    }
    if (out.destroyed) return;
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= READ_AHEAD) sup.proc?.stdout?.pause();
    pump();
  });
  arm();
  sup.outcome.then((o) => {
    clearTimeout(idle);
    const error = opts.failure(o);
    if (error === null) onStarted();
    else if (!begun) onFailed(error);
    begun = true;
    end = { error };
    pump();
  });
  return { stdout: out, outcome: sup.outcome, started };
}
