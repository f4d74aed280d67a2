// A small pool of worker threads running one module. Jobs are queued and sent
// to workers in batches (one message carries several jobs; a worker keeps a
// few batches queued so it never waits on the main thread). A worker streams
// events back, also batched; a job is finished by an event with done: true.
// Used to chunk, hash, compress and seal files on every core.

import os from 'node:os';
import { Worker, parentPort } from 'node:worker_threads';
import type { Transferable } from 'node:worker_threads';
import { SafeholdError } from '../../core/errors.ts';

interface Job<M> {
  seq: number;
  msg: unknown;
  transfer: Transferable[];
  onMessage: (m: M) => void;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Slot<M> {
  worker: Worker;
  jobs: Map<number, Job<M>>;
}

interface ToWorker {
  jobs: { seq: number; msg: unknown }[];
}
interface FromWorker<M> {
  events: { seq: number; m: M }[];
}

/**
 * Worker threads to use: SAFEHOLD_WORKERS, else `perCore` per core, 2 to 4.
 * Backups use two per core because their workers block on file reads (cold
 * caches): while one waits for the disk, another computes (2 cores, /usr/share
 * cold: 2 workers 17.8 s, 4 workers 13-15 s). Restores are CPU-bound (writes
 * go to the page cache) and use one per core (2 workers 7.2 s, 4 workers 8.0 s).
 */
export function workerCount(perCore: number, env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.SAFEHOLD_WORKERS);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 64) : Math.max(2, Math.min(4, perCore * os.availableParallelism()));
}

/** Jobs per message to a worker, and how few may be left in flight before sending more. */
const BATCH = 8;
const LOW_WATER = 4;

export class WorkerPool<M extends { done?: boolean }> {
  private readonly slots: Slot<M>[] = [];
  private readonly queue: Job<M>[] = [];
  private failed: unknown = null;
  /** Closed on purpose: the workers' exit is not a failure, and jobs left behind are abandoned. */
  private closed = false;
  private seq = 0;

  constructor(moduleUrl: URL, size: number, workerData: unknown) {
    for (let i = 0; i < size; i++) {
      // A small young generation: workers make short-lived buffers and little
      // else, and V8's default lets each one hold ~30 MiB more than it needs.
      const worker = new Worker(moduleUrl, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      const slot: Slot<M> = { worker, jobs: new Map() };
      worker.on('message', (msg: FromWorker<M>) => {
        for (const { seq, m } of msg.events) {
          const job = slot.jobs.get(seq);
          if (!job) continue;
          job.onMessage(m);
          if (m.done) {
            slot.jobs.delete(seq);
            job.resolve();
          }
        }
        this.pump();
      });
      worker.on('error', (e) =>
        this.fail(new SafeholdError('INTERNAL', `worker thread failed: ${e.message}`, { cause: e })),
      );
      worker.on('exit', (code) => {
        if (code !== 0 && !this.failed && !this.closed)
          this.fail(new SafeholdError('INTERNAL', `worker thread exited with ${code}`));
      });
      this.slots.push(slot);
    }
  }

  /** Queues a job; `transfer` lists buffers to move (not copy) to the worker. */
  run(msg: unknown, onMessage: (m: M) => void, transfer: Transferable[] = []): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.queue.push({ seq: this.seq++, msg, transfer, onMessage, resolve, reject });
      // Let the caller queue more jobs in this tick, so batches fill up.
      if (this.queue.length === 1) queueMicrotask(() => this.pump());
    });
  }

  private pump(): void {
    // Share what is queued evenly: a few large jobs must not all go to one worker.
    const share = Math.max(1, Math.min(BATCH, Math.ceil(this.queue.length / this.slots.length)));
    for (const slot of [...this.slots].sort((a, b) => a.jobs.size - b.jobs.size)) {
      if (this.queue.length === 0) return;
      if (slot.jobs.size > LOW_WATER) continue;
      const batch = this.queue.splice(0, share);
      for (const j of batch) slot.jobs.set(j.seq, j);
      slot.worker.postMessage(
        { jobs: batch.map((j) => ({ seq: j.seq, msg: j.msg })) } satisfies ToWorker,
        batch.flatMap((j) => j.transfer),
      );
    }
  }

  private fail(e: unknown): void {
    this.failed = e;
    for (const s of this.slots) {
      for (const j of s.jobs.values()) j.reject(e);
      s.jobs.clear();
    }
    for (const j of this.queue.splice(0)) j.reject(e);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/**
 * Worker side: runs `handle` for each job of each batch. `emit` queues an
 * event (with buffers to transfer); events go back in one message once
 * `flushBytes` of transfers accumulate, and at the end of every batch.
 */
export function serveJobs<M>(
  handle: (msg: unknown, emit: (m: M, transfer?: ArrayBuffer) => void) => void,
  flushBytes = 4 * 1024 * 1024,
): void {
  const port = parentPort;
  if (!port) throw new Error('serveJobs runs only in a worker thread');
  let events: { seq: number; m: M }[] = [];
  let transfer: Transferable[] = [];
  let bytes = 0;
  const flush = () => {
    if (events.length === 0) return;
    port.postMessage({ events } satisfies FromWorker<M>, transfer);
    events = [];
    transfer = [];
    bytes = 0;
  };
  port.on('message', (msg: ToWorker) => {
    for (const { seq, msg: job } of msg.jobs) {
      handle(job, (m, t) => {
        events.push({ seq, m });
        if (t) {
          transfer.push(t);
          bytes += t.byteLength;
        }
        if (bytes >= flushBytes) flush();
      });
    }
    flush();
  });
}
