// Fault injection for tests (kopia's "faulty storage"): wraps any backend and
// fails chosen calls — the Nth save/saveNew/load/list/stat/remove, optionally
// only of one file type — with a transient or permanent error, a request that
// never answers (the retry layer's timeout turns it into a retryable error),
// a connection reset mid-load, or a truncated body (load returns fewer bytes
// than stored). Without faults it is a transparent pass-through. It counts
// calls and records what it injected, so a test can assert that its faults
// were hit (and, with no faults, use it to count requests). A removeMany (when
// the inner backend has one) counts as one remove per file.

import { SafeholdError } from '../../core/errors.ts';
import type { Backend, FileInfo, FileType, Handle } from './backend.ts';

export type FaultOp = 'save' | 'saveNew' | 'load' | 'list' | 'stat' | 'remove';

/**
 * transient/permanent: an error (retryable or not); timeout: a promise that
 * never settles; reset: a retryable connection reset after part of a load;
 * truncate: load returns only the first half of the bytes.
 */
export type FaultKind = 'transient' | 'permanent' | 'timeout' | 'reset' | 'truncate';

export interface Fault {
  op: FaultOp;
  /** The first call (1-based, counted per op — and per type when `type` is given) that fails. */
  nth: number;
  kind: FaultKind;
  /** How many consecutive calls from the Nth fail (default 1). */
  times?: number;
  /** Count only calls on files of this type. */
  type?: FileType;
  /** save/saveNew: store the file first, then fail (the answer was lost). */
  afterWrite?: boolean;
}

export interface InjectedFault {
  op: FaultOp;
  kind: FaultKind;
  what: string;
  call: number;
}

export class FaultyBackend implements Backend {
  readonly location: string;
  readonly saveNew?: (h: Handle, data: Uint8Array) => Promise<void>;
  readonly cleanTmp?: (olderThanMs: number, now: number) => Promise<number>;
  readonly removeMany?: (hs: readonly Handle[]) => Promise<void>;
  /** Every fault injected so far, in order. */
  readonly injected: InjectedFault[] = [];
  private readonly inner: Backend;
  private readonly faults: Fault[];
  private readonly counts = new Map<string, number>();

  constructor(inner: Backend, faults: readonly Fault[] = []) {
    this.inner = inner;
    this.location = inner.location;
    this.faults = faults.map((f) => ({ ...f }));
    for (const f of this.faults) {
      if (!Number.isSafeInteger(f.nth) || f.nth < 1) throw new SafeholdError('INTERNAL', `fault nth ${f.nth}`);
      if ((f.kind === 'reset' || f.kind === 'truncate') && f.op !== 'load') {
        throw new SafeholdError('INTERNAL', `a ${f.kind} fault is for loads, not ${f.op}`);
      }
    }
    if (inner.saveNew) {
      this.saveNew = (h, data) => this.write('saveNew', h, () => inner.saveNew!(h, data));
    }
    if (inner.cleanTmp) this.cleanTmp = (olderThanMs, now) => inner.cleanTmp!(olderThanMs, now);
    if (inner.removeMany) this.removeMany = (hs) => this.removeBatch(hs, inner.removeMany!.bind(inner));
  }

  /** How many calls of `op` (on files of `type`) were made so far, failed or not. */
  calls(op: FaultOp, type?: FileType): number {
    return this.counts.get(type ? `${op}:${type}` : op) ?? 0;
  }

  /** Adds faults while running (counts so far stay). */
  inject(...faults: Fault[]): void {
    this.faults.push(...faults.map((f) => ({ ...f })));
  }

  save(h: Handle, data: Uint8Array): Promise<void> {
    return this.write('save', h, () => this.inner.save(h, data));
  }

  async load(h: Handle, offset?: number, length?: number): Promise<Buffer> {
    const f = this.next('load', h.type, describe(h));
    if (f && f.kind !== 'truncate') return this.fail(f, 'load', describe(h));
    const got = await this.inner.load(h, offset, length);
    return f ? got.subarray(0, Math.floor(got.byteLength / 2)) : got;
  }

  async stat(h: Handle): Promise<FileInfo> {
    const f = this.next('stat', h.type, describe(h));
    if (f) return this.fail(f, 'stat', describe(h));
    return this.inner.stat(h);
  }

  async list(type: FileType): Promise<FileInfo[]> {
    const f = this.next('list', type, `list ${type}`);
    if (f) return this.fail(f, 'list', `list ${type}`);
    return this.inner.list(type);
  }

  async remove(h: Handle): Promise<void> {
    const f = this.next('remove', h.type, describe(h));
    if (f) return this.fail(f, 'remove', describe(h));
    return this.inner.remove(h);
  }

  /**
   * removeMany: each file counts as one remove call; a fault hit by any of
   * them fails the whole batch, before anything is removed.
   */
  private async removeBatch(
    hs: readonly Handle[],
    removeMany: (hs: readonly Handle[]) => Promise<void>,
  ): Promise<void> {
    let hit: { f: Fault; what: string } | undefined;
    for (const h of hs) {
      const f = this.next('remove', h.type, describe(h));
      hit ??= f && { f, what: describe(h) };
    }
    if (hit) return this.fail(hit.f, 'remove', hit.what);
    return removeMany(hs);
  }

  exists(): Promise<boolean> {
    return this.inner.exists();
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async write(op: 'save' | 'saveNew', h: Handle, store: () => Promise<void>): Promise<void> {
    const f = this.next(op, h.type, describe(h));
    if (!f) return store();
    if (f.afterWrite) await store();
    return this.fail(f, op, describe(h));
  }

  /** Counts a call; the fault it hits, if any (the first listed wins). */
  private next(op: FaultOp, type: FileType, what: string): Fault | undefined {
    let hit: Fault | undefined;
    for (const key of [op, `${op}:${type}`]) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    for (const f of this.faults) {
      if (f.op !== op) continue;
      const n = this.counts.get(f.type ? `${op}:${f.type}` : op)!;
      if (f.type && f.type !== type) continue;
      if (n >= f.nth && n < f.nth + (f.times ?? 1)) {
        hit = f;
        this.injected.push({ op, kind: f.kind, what, call: n });
        break;
      }
    }
    return hit;
  }

  private fail(f: Fault, op: FaultOp, what: string): Promise<never> {
    const where = `${op} ${what} at ${this.location}`;
    switch (f.kind) {
      case 'timeout':
        return new Promise<never>(() => {});
      case 'permanent':
        return Promise.reject(new SafeholdError('IO', `${where}: injected permanent fault (access denied)`));
      case 'reset':
        return Promise.reject(
          new SafeholdError('IO', `${where}: connection reset mid-transfer (injected)`, { retryable: true }),
        );
      default:
        return Promise.reject(
          new SafeholdError('IO', `${where}: injected transient fault (503 slow down)`, { retryable: true }),
        );
    }
  }
}

function describe(h: Handle): string {
  return h.type === 'config' ? 'config' : `${h.type}/${h.name.slice(0, 12)}`;
}
