// Worker thread body for `check --read-data`: verifies one whole pack: its
// name (SHA-256 of its bytes), its header, and every blob (decrypted,
// decompressed, id checked). Returns the problems found and the header's
// entries, which the checker compares with the index.

import { isMainThread, workerData } from 'node:worker_threads';
import { fileId } from '../../repo/crypto.ts';
import { parsePack } from '../../repo/pack.ts';
import type { PackEntry } from '../../repo/pack.ts';
import { decodeBlobWith, memberOf } from '../../repo/repository.ts';
import type { GroupMember } from '../../repo/repository.ts';
import { serveJobs } from '../shared/worker-pool.ts';

export interface CheckWorkerInit {
  encrypt: Uint8Array;
  mac: Uint8Array;
}

export interface CheckJob {
  pack: string;
  bytes: Uint8Array;
  /** Members of the groups in this pack, by group id: each one's id is recomputed from its slice. */
  members: Record<string, GroupMember[]>;
}

export interface CheckWorkerMessage {
  done: true;
  problems: { object: string; message: string }[];
  /** The header's entries; empty when the header could not be read. */
  entries: PackEntry[];
}

if (!isMainThread) {
  const init = workerData as CheckWorkerInit;
  const encrypt = Buffer.from(init.encrypt);
  const mac = Buffer.from(init.mac);

  serveJobs<CheckWorkerMessage>((msg, emit) => {
    const { pack, bytes: raw, members } = msg as CheckJob;
    const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
    const what = `pack ${pack.slice(0, 12)}`;
    const problems: CheckWorkerMessage['problems'] = [];
    const fail = (object: string, e: unknown) => {
      const m = e instanceof Error ? e.message : String(e);
      problems.push({ object, message: m.startsWith(`${object}: `) ? m.slice(object.length + 2) : m });
    };
    let entries: PackEntry[] = [];
    if (fileId(bytes) !== pack) fail(what, 'content does not match its name (SHA-256): the file was changed');
    try {
      entries = parsePack(encrypt, bytes, what);
      for (const e of entries) {
        try {
          const plain = decodeBlobWith(encrypt, mac, e.id, e.rawLength, bytes.subarray(e.offset, e.offset + e.length));
          for (const m of (e.type === 'data' && members[e.id]) || []) {
            try {
              memberOf(mac, plain, m.id, { group: e.id, start: m.start, length: m.length });
            } catch (x) {
              fail(`${what} blob ${m.id.slice(0, 12)}`, x);
            }
          }
        } catch (x) {
          fail(`${what} blob ${e.id.slice(0, 12)}`, x);
        }
      }
    } catch (e) {
      fail(what, e);
    }
    emit({ done: true, problems, entries });
  });
}
