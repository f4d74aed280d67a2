// Worker thread body for restores: takes the bytes of one span of a pack and
// the files that need its blobs; decrypts, decompresses and verifies each
// blob, and writes it with synchronous calls. A file whose every blob is in
// the span ("whole") is created, written and given its mode, owner and times
// on one descriptor; other files were created by the restorer and only get
// their pieces written at their offsets. All-zero blobs are left as holes.

import fs from 'node:fs';
import { isMainThread, workerData } from 'node:worker_threads';
import { decodeBlobWith, memberOf } from '../../repo/repository.ts';
import { serveJobs } from '../shared/worker-pool.ts';
import { dataRuns } from './zero.ts';

export interface RestoreWorkerInit {
  encrypt: Uint8Array;
  mac: Uint8Array;
  owner: boolean;
}

export interface RestoreJobBlob {
  /** The stored blob's id (a member's group id: the associated data it is sealed with). */
  id: string;
  /** Offset in the job's bytes. */
  offset: number;
  length: number;
  rawLength: number;
  /** For a member of a group: its id and range in the group's plaintext. */
  slice?: { id: string; start: number; length: number };
}

export interface RestoreJobFile {
  dest: string;
  whole: boolean;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /** Index into `blobs`, and where in the file the blob goes. */
  pieces: { blob: number; offset: number }[];
}

export interface RestoreJob {
  bytes: Uint8Array;
  blobs: RestoreJobBlob[];
  files: RestoreJobFile[];
}

export type RestoreWorkerMessage = {
  done: true;
  bytes: number;
  wholeFiles: number;
  error?: string;
  errorCode?: string;
  path?: string;
};

const CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
const UPDATE = fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW;

if (!isMainThread) {
  const init = workerData as RestoreWorkerInit;
  const encrypt = Buffer.from(init.encrypt);
  const mac = Buffer.from(init.mac);

  serveJobs<RestoreWorkerMessage>((msg, emit) => {
    const job = msg as RestoreJob;
    const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.length);
    // Each stored blob (a group once for all its members) is decoded once and
    // dropped after its last use in this job.
    const decoded = new Map<number, Buffer>();
    const usesLeft = new Map<number, number>();
    for (const f of job.files)
      for (const p of f.pieces) {
        const o = job.blobs[p.blob]!.offset;
        usesLeft.set(o, (usesLeft.get(o) ?? 0) + 1);
      }
    const blob = (i: number): Buffer => {
      const b = job.blobs[i]!;
      let d = decoded.get(b.offset);
      if (!d) {
        // GCM with the id as associated data authenticates the blob; check --read-data also recomputes ids.
        d = decodeBlobWith(encrypt, mac, b.id, b.rawLength, bytes.subarray(b.offset, b.offset + b.length), false);
      }
      const left = usesLeft.get(b.offset)! - 1;
      usesLeft.set(b.offset, left);
      if (left > 0) decoded.set(b.offset, d);
      else decoded.delete(b.offset);
      // A member: its range in the group (the group's GCM tag authenticated its bytes).
      return b.slice
        ? memberOf(mac, d, b.slice.id, { group: b.id, start: b.slice.start, length: b.slice.length }, false)
        : d;
    };
    let written = 0;
    let wholeFiles = 0;
    let current = '';
    try {
      for (const f of job.files) {
        current = f.dest;
        const fd = f.whole ? createFresh(f.dest) : fs.openSync(f.dest, UPDATE);
        try {
          let end = 0;
          for (const p of f.pieces) {
            const data = blob(p.blob);
            written += data.length;
            // Runs of zero blocks are not written: they stay holes (sparse files).
            for (const [from, to] of dataRuns(data)) {
              writeAll(fd, data.subarray(from, to), p.offset + from);
              end = Math.max(end, p.offset + to);
            }
          }
          // Trailing zeros were skipped: extend to the full size, leaving a hole.
          if (f.whole && end < f.size) fs.ftruncateSync(fd, f.size);
          if (f.whole) {
            if (init.owner) fs.fchownSync(fd, f.uid, f.gid);
            fs.fchmodSync(fd, f.mode);
            fs.futimesSync(fd, f.mtime, f.mtime);
            wholeFiles++;
          }
        } finally {
          fs.closeSync(fd);
        }
      }
      emit({ done: true, bytes: written, wholeFiles });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { code?: string };
      emit({
        done: true,
        bytes: written,
        wholeFiles,
        error: err.message,
        errorCode: String(err.code ?? ''),
        path: current,
      });
    }
  });
}

/** Creates a new file, replacing whatever is there (never following a symlink). */
function createFresh(dest: string): number {
  try {
    return fs.openSync(dest, CREATE, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const st = fs.lstatSync(dest);
    if (st.isDirectory()) fs.rmSync(dest, { recursive: true });
    else fs.unlinkSync(dest);
    return fs.openSync(dest, CREATE, 0o600);
  }
}

function writeAll(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
}
