// Worker thread body for backups: reads one file, splits it with the
// content-defined chunker, and for each chunk computes the keyed id,
// compresses and seals it. Chunks stream back to the archiver; a final
// event reports the size read or the error met.

import fs from 'node:fs';
import { isMainThread, workerData } from 'node:worker_threads';
import { computeMasks, findCut, gearTable, toInt32Gear } from '../../repo/chunker.ts';
import type { ChunkerParams } from '../../repo/chunker.ts';
import { blobId } from '../../repo/crypto.ts';
import { sealBlob } from '../../repo/pack.ts';
import { compressBlob } from '../../repo/compression.ts';
import { serveJobs } from '../shared/worker-pool.ts';

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

/** Bytes read past maxSize before unread data moves to the window's front. */
const READ_SLACK = 1024 * 1024;

if (!isMainThread) {
  const init = workerData as FileWorkerInit;
  const encrypt = Buffer.from(init.encrypt);
  const mac = Buffer.from(init.mac);
  const params = init.chunker;
  const gear = toInt32Gear(gearTable(init.chunkerSeed));
  const masks = computeMasks(params.avgSize);
  // One read window per worker, reused for every file: the worker makes no
  // garbage per file but the sealed chunks it hands over. maxSize plus some
  // slack, so a whole chunk always fits after the unread rest moves to the front.
  const window = Buffer.allocUnsafeSlow(params.maxSize + READ_SLACK);

  const emitChunk = (chunk: Uint8Array, emit: (m: FileWorkerMessage, t?: ArrayBuffer) => void) => {
    const id = blobId(mac, chunk).toString('hex');
    const { stored, rawLength } = compressBlob(chunk);
    // seal() returns unpooled memory, so the whole buffer can move without a copy.
    const sealed = sealBlob(encrypt, id, stored);
    emit({ id, sealed, rawLength, length: chunk.length }, sealed.buffer as ArrayBuffer);
  };

  serveJobs<FileWorkerMessage>((msg, emit) => {
    const job = msg as FileJob;
    let fd = -1;
    let size = 0;
    try {
      fd = fs.openSync(job.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
      let start = 0;
      let end = 0;
      let eof = false;
      for (;;) {
        // Fill until a full maxSize is buffered (so the cut is final) or the file ends.
        while (!eof && end - start < params.maxSize) {
          if (end === window.length) {
            window.copyWithin(0, start, end);
            end -= start;
            start = 0;
          }
          const n = fs.readSync(fd, window, end, window.length - end, null);
          if (n === 0) eof = true;
          else {
            end += n;
            size += n;
          }
        }
        if (start === end) break;
        // Chunks are views into the window, consumed before the next read.
        const cut = findCut(window, start, end, params, gear, masks);
        emitChunk(window.subarray(start, cut), emit);
        start = cut;
      }
      emit({ done: true, size });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      emit({ done: true, size, error: err.message, ...(err.code ? { errorCode: err.code } : {}) });
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  });
}
