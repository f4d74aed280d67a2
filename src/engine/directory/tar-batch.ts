// Output buffers of the tar writer. TarBatch copies header blocks and the
// contents of small files into one large buffer, so the zstd compressor gets
// few, large writes (each write to a zlib stream is a trip through the thread
// pool) instead of one per 512-byte header; full buffers wait in `ready` until
// the writer hands them downstream (at most one entry's worth is pending).
// BufferPool reuses the buffers zstd is done with, so a long archive does not
// allocate (and page in) fresh memory for every megabyte.

/** Free buffers kept per size. */
const KEEP = 16;

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly ours = new WeakSet<ArrayBufferLike>();

  /** A buffer of `size` bytes (contents undefined). */
  take(size: number): Buffer {
    const ab = this.free.get(size)?.pop();
    if (ab) return Buffer.from(ab);
    const b = Buffer.allocUnsafeSlow(size);
    this.ours.add(b.buffer);
    return b;
  }

  /** Returns a buffer from `take` (or a view of one) that nothing uses any more; others are ignored. */
  give(b: Buffer): void {
    const ab = b.buffer;
    if (!this.ours.has(ab) || !(ab instanceof ArrayBuffer)) return;
    let list = this.free.get(ab.byteLength);
    if (!list) this.free.set(ab.byteLength, (list = []));
    if (list.length < KEEP && !list.includes(ab)) list.push(ab);
  }
}

export class TarBatch {
  /** Full buffers, oldest first, to be handed downstream in this order. */
  readonly ready: Buffer[] = [];
  private readonly size: number;
  private readonly pool: BufferPool;
  private buf: Buffer;
  private len = 0;

  constructor(pool: BufferPool, size: number) {
    this.size = size;
    this.pool = pool;
    this.buf = pool.take(size);
  }

  /**
   * Room for `n` contiguous bytes at the end of the current buffer (moving it
   * to `ready` first when it has less); returns the buffer and offset to write
   * at. Call `commit` with the bytes actually used.
   */
  reserve(n: number): { buf: Buffer; off: number } {
    if (this.buf.length - this.len < n) {
      this.flush();
      if (this.buf.length < n) this.buf = Buffer.allocUnsafe(n);
    }
    return { buf: this.buf, off: this.len };
  }

  commit(n: number): void {
    this.len += n;
  }

  /** Appends a copy of `b`. */
  write(b: Buffer): void {
    const { buf, off } = this.reserve(b.length);
    b.copy(buf, off);
    this.len += b.length;
  }

  /** Appends `n` zero bytes. */
  zeros(n: number): void {
    const { buf, off } = this.reserve(n);
    buf.fill(0, off, off + n);
    this.len += n;
  }

  /** Moves what the current buffer holds (if anything) to `ready` and starts a new one. */
  flush(): void {
    if (this.len === 0) return;
    this.ready.push(this.buf.subarray(0, this.len));
    this.buf = this.pool.take(this.size);
    this.len = 0;
  }
}
