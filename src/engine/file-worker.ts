// Worker thread body for backups: reads one file, splits it with the
// content-defined chunker, and for each chunk computes the keyed id,
// compresses and seals it. Chunks stream back to the archiver; a final
// event reports the size read or the error met.

import fs from 'node:fs';
import { isMainThread, workerData } from 'node:worker_threads';
import { Chunker, gearTable } from '../repo/chunker.ts';
import type { ChunkerParams } from '../repo/chunker.ts';
import { blobId } from '../repo/crypto.ts';
import { sealBlob } from '../repo/pack.ts';
import { maybeCompress } from '../repo/repository.ts';
import { serveJobs } from './worker-pool.ts';

export interface FileWorkerInit {
  encrypt: Uint8Array;
  mac: Uint8Array;
  chunkerSeed: Uint8Array;
  chunker: ChunkerParams;
}

export interface FileJob {
  path: string;
  /** Size seen by lstat: the first read is sized to it, so small files cost one read. */
  size: number;
}

export type FileWorkerMessage =
  | { done?: false; id: string; sealed: Uint8Array; rawLength: number; length: number }
  | { done: true; size: number; error?: string; errorCode?: string };

const READ_SIZE = 8 * 1024 * 1024;

if (!isMainThread) {
  const init = workerData as FileWorkerInit;
  const encrypt = Buffer.from(init.encrypt);
  const mac = Buffer.from(init.mac);
  const chunker = new Chunker(init.chunker, gearTable(init.chunkerSeed));

  serveJobs<FileWorkerMessage>((msg, emit) => {
    const job = msg as FileJob;
    const emitChunk = (chunk: Uint8Array) => {
      const id = blobId(mac, chunk).toString('hex');
      const { stored, rawLength } = maybeCompress(chunk);
      // seal() returns unpooled memory, so the whole buffer can move without a copy.
      const sealed = sealBlob(encrypt, id, stored);
      emit({ id, sealed, rawLength, length: chunk.length }, sealed.buffer as ArrayBuffer);
    };
    let fd = -1;
    let size = 0;
    try {
      fd = fs.openSync(job.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
      // Buffers are never reused: the chunker returns views into them.
      let want = Math.min(READ_SIZE, job.size + 1);
      for (;;) {
        const buf = Buffer.allocUnsafeSlow(want);
        const n = fs.readSync(fd, buf, 0, want, null);
        if (n === 0) break;
        size += n;
        for (const c of chunker.push(buf.subarray(0, n))) emitChunk(c);
        // A short read usually means end of file: probe with a small buffer.
        want = n < want ? 64 * 1024 : READ_SIZE;
      }
      const last = chunker.finish();
      if (last) emitChunk(last);
      emit({ done: true, size });
    } catch (e) {
      chunker.finish();
      const err = e as NodeJS.ErrnoException;
      emit({ done: true, size, error: err.message, ...(err.code ? { errorCode: err.code } : {}) });
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  });
}
