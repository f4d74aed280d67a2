// Promise wrappers over ssh2's callback SFTP calls, for the SFTP backend, and
// the pipelined transfers: a large read or write is split into chunks of the
// server's largest request and several chunks are kept in flight (one request
// at a time would wait a round trip per 256 KiB).

import type { Attributes, FileEntry, OpenMode, SFTPWrapper } from 'ssh2';

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

/** Chunks in flight per transfer. */
const WINDOW = 16;
const FALLBACK_CHUNK = 32 * 1024;

export function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

type Cb<T> = (err: Error | null | undefined, v: T) => void;

function call<T>(fn: (cb: Cb<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      fn((err, v) => (err ? reject(err) : resolve(v)));
    } catch (e) {
      reject(e);
    }
  });
}

export const open = (s: SFTPWrapper, path: string, flags: OpenMode, mode?: number): Promise<Buffer> =>
  call<Buffer>((cb) => s.open(path, flags, mode === undefined ? {} : { mode }, cb));

export const closeHandle = (s: SFTPWrapper, h: Buffer): Promise<void> =>
  call<void>((cb) => s.close(h, (e) => cb(e, undefined)));

export const fstat = (s: SFTPWrapper, h: Buffer): Promise<Attributes> => call<Attributes>((cb) => s.fstat(h, cb));

export const stat = (s: SFTPWrapper, path: string): Promise<Attributes> => call<Attributes>((cb) => s.stat(path, cb));

export const readdir = (s: SFTPWrapper, path: string): Promise<FileEntry[]> =>
  call<FileEntry[]>((cb) => s.readdir(path, cb));

export const mkdir = (s: SFTPWrapper, path: string, mode: number): Promise<void> =>
  call<void>((cb) => s.mkdir(path, { mode }, (e) => cb(e, undefined)));

export const unlink = (s: SFTPWrapper, path: string): Promise<void> =>
  call<void>((cb) => s.unlink(path, (e) => cb(e, undefined)));

export const rename = (s: SFTPWrapper, from: string, to: string): Promise<void> =>
  call<void>((cb) => s.rename(from, to, (e) => cb(e, undefined)));

export const posixRename = (s: SFTPWrapper, from: string, to: string): Promise<void> =>
  call<void>((cb) => s.ext_openssh_rename(from, to, (e) => cb(e, undefined)));

export const hardlink = (s: SFTPWrapper, from: string, to: string): Promise<void> =>
  call<void>((cb) => s.ext_openssh_hardlink(from, to, (e) => cb(e, undefined)));

export const fsync = (s: SFTPWrapper, h: Buffer): Promise<void> =>
  call<void>((cb) => s.ext_openssh_fsync(h, (e) => cb(e, undefined)));

function readChunk(s: SFTPWrapper, h: Buffer, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return call<number>((cb) => s.read(h, buf, off, len, pos, (e, n) => cb(e, n)));
}

function writeChunk(s: SFTPWrapper, h: Buffer, buf: Buffer, off: number, len: number, pos: number): Promise<void> {
  return call<void>((cb) => s.write(h, buf, off, len, pos, (e) => cb(e, undefined)));
}

/** Largest read/write the server accepts in one request (from its limits@openssh.com answer). */
function chunkSize(s: SFTPWrapper, which: '_maxReadLen' | '_maxWriteLen'): number {
  const n = (s as unknown as Record<string, unknown>)[which];
  return typeof n === 'number' && n > 0 ? n : FALLBACK_CHUNK;
}

/** Runs `fn` for every chunk [off, off+len) of `total` bytes, `WINDOW` at a time. */
async function pipelined(total: number, chunk: number, fn: (off: number, len: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < total && failed === undefined) {
      const off = next;
      const len = Math.min(chunk, total - off);
      next += len;
      try {
        await fn(off, len);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, Math.ceil(total / chunk)) }, worker));
  if (failed !== undefined) throw failed;
}

/**
 * Reads `length` bytes at `position`; returns how many it got before the end
 * of the file (fewer than `length` means the file is shorter).
 */
export async function readRange(s: SFTPWrapper, h: Buffer, buf: Buffer, position: number): Promise<number> {
  let shortAt = buf.length;
  await pipelined(buf.length, chunkSize(s, '_maxReadLen'), async (off, len) => {
    let got = 0;
    while (got < len) {
      const n = await readChunk(s, h, buf, off + got, len - got, position + off + got);
      if (!n) {
        shortAt = Math.min(shortAt, off + got);
        return;
      }
      got += n;
    }
  });
  return shortAt;
}

/** Writes all of `data` from offset 0. */
export async function writeAll(s: SFTPWrapper, h: Buffer, data: Buffer): Promise<void> {
  await pipelined(data.length, chunkSize(s, '_maxWriteLen'), (off, len) => writeChunk(s, h, data, off, len, off));
}
