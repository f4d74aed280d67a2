// A child process's output as text: whole lines decoded as UTF-8 across read
// boundaries (a character split between two reads stays one character), LF
// or CR LF ending a line, a line longer than a maximum cut into pieces of
// that length; the last N items of a long capture with a count of the ones
// dropped; the tail of a text (a program's last words on stderr).

import { StringDecoder } from 'node:string_decoder';

/** Longest line passed on whole; longer ones arrive in pieces of this length. */
export const MAX_LINE = 64 * 1024;

/** Splits a byte stream into lines: `write` each chunk, `end` once (a last line without LF is passed on). */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private readonly onLine: (line: string) => void;
  private readonly maxLine: number;
  private buf = '';

  constructor(onLine: (line: string) => void, maxLine = MAX_LINE) {
    this.onLine = onLine;
    this.maxLine = Math.max(1, maxLine);
  }

  write(chunk: Buffer): void {
    this.buf += this.decoder.write(chunk);
    this.flush(false);
  }

  end(): void {
    this.buf += this.decoder.end();
    this.flush(true);
  }

  private flush(final: boolean): void {
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i > 0 && this.buf[i - 1] === '\r' ? i - 1 : i);
      this.buf = this.buf.slice(i + 1);
      this.emitLong(line);
    }
    while (this.buf.length > this.maxLine) {
      this.onLine(this.buf.slice(0, this.maxLine));
      this.buf = this.buf.slice(this.maxLine);
    }
    if (final && this.buf !== '') {
      this.onLine(this.buf);
      this.buf = '';
    }
  }

  /** A complete line, in pieces of at most maxLine characters. */
  private emitLong(line: string): void {
    let rest = line;
    while (rest.length > this.maxLine) {
      this.onLine(rest.slice(0, this.maxLine));
      rest = rest.slice(this.maxLine);
    }
    this.onLine(rest);
  }
}

/** The last `max` items pushed, and how many earlier ones were dropped. */
export class LastItems<T> {
  private readonly max: number;
  private items: T[] = [];
  private droppedCount = 0;

  constructor(max: number) {
    this.max = Math.max(0, max);
  }

  push(item: T): void {
    this.items.push(item);
    // Trim in batches: splicing on every push would be quadratic.
    if (this.items.length >= 2 * this.max) this.trim();
  }

  /** The kept items, oldest first. */
  get kept(): T[] {
    this.trim();
    return this.items;
  }

  get dropped(): number {
    this.trim();
    return this.droppedCount;
  }

  private trim(): void {
    if (this.items.length <= this.max) return;
    const excess = this.items.length - this.max;
    this.droppedCount += excess;
    this.items = this.items.slice(excess);
  }
}

/** The last `maxChars` characters of a byte stream decoded as UTF-8. */
export class TextTail {
  private readonly decoder = new StringDecoder('utf8');
  private readonly maxChars: number;
  private tail = '';

  constructor(maxChars: number) {
    this.maxChars = Math.max(0, maxChars);
  }

  add(chunk: Buffer): void {
    if (this.maxChars === 0) return;
    this.tail = (this.tail + this.decoder.write(chunk)).slice(-this.maxChars);
  }

  get text(): string {
    return this.tail;
  }
}
