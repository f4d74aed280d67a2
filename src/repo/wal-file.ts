// Archived PostgreSQL WAL files (docs/repository-format.md §20): one stored
// file of type `wal` per WAL file (segment, timeline history, backup label or
// partial segment), under a plain name the caller chooses. A file is a short
// clear header (magic, version, the keyed content hash, the uncompressed
// length), a tag authenticating that header for its name, then the zstd
// compressed content sealed with the header and the name as associated data:
// a duplicate check reads only the header, and no file or header passes for
// another name. Files are created, never replaced: re-archiving the same
// content is 'identical', different content under a taken name is refused.

import crypto from 'node:crypto';
import { createFile, removeFiles } from './backend/backend.ts';
import type { Backend, Handle } from './backend/backend.ts';
import { validName } from './backend/handle-checks.ts';
import { OVERHEAD, blobId, open, seal } from './crypto.ts';
import type { MasterKey } from './crypto.ts';
import { compress, decompress } from './encoding.ts';
import type { Repository } from './repository.ts';
import { SafeholdError, isSafeholdError } from '../core/errors.ts';
import { formatBytes } from '../core/format.ts';

export interface WalFileInfo {
  name: string;
  /** Stored (sealed) size in bytes. */
  size: number;
}

/** Largest WAL file accepted: PostgreSQL's largest segment size (`--wal-segsize` 1024). */
export const MAX_WAL_FILE_BYTES = 1024 * 1024 * 1024;
/**
 * zstd level for WAL content: the fastest regular level. Per 16 MiB segment
 * of pgbench WAL (CPU time, 2-core AMD EPYC): during a run with full-page
 * writes it stores 19.8 % in ~38 ms (at most ~60 ms), level 3 18.0 % in
 * ~52 ms (at most ~110 ms); bulk-load WAL 2.8 % in ~12 ms at either. The CPU
 * is taken from the database server's host while it archives.
 */
export const WAL_ZSTD_LEVEL = 1;

const MAGIC = Buffer.from('SHWL', 'ascii');
const VERSION = 1;
const HASH_BYTES = 32;
/** magic (4) ‖ version (1) ‖ content hash (32) ‖ uncompressed length u32le (4). */
const HEADER_BYTES = MAGIC.length + 1 + HASH_BYTES + 4;
/** The header and its tag: what a duplicate check reads. */
const PREFIX_BYTES = HEADER_BYTES + OVERHEAD;
const HEADER_LABEL = Buffer.from('safehold-wal-header-v1', 'ascii');
const BODY_LABEL = Buffer.from('safehold-wal-v1', 'ascii');
/** Attempts of a store whose name was taken by a file removed before its header could be read. */
const STORE_ATTEMPTS = 3;

interface WalHeader {
  hash: Buffer;
  rawLength: number;
}

/** Stores a WAL file under `name`, never replacing a different one. */
export async function storeWalFile(repo: Repository, name: string, data: Uint8Array): Promise<'stored' | 'identical'> {
  checkWalName(name);
  if (data.byteLength > MAX_WAL_FILE_BYTES) {
    throw new SafeholdError(
      'USAGE',
      `${name} is ${data.byteLength} bytes, more than the ${MAX_WAL_FILE_BYTES} bytes (${formatBytes(MAX_WAL_FILE_BYTES)}) a WAL file can be: not archived`,
      { details: { name, size: data.byteLength, max: MAX_WAL_FILE_BYTES } },
    );
  }
  const hash = blobId(repo.key.mac, data);
  const bytes = encodeWalFile(repo.key, name, hash, data);
  for (let attempt = 1; ; attempt++) {
    if (await createNew(repo.backend, walHandle(name), bytes)) return 'stored';
    const stored = await storedHash(repo, name);
    if (stored === undefined) {
      if (attempt < STORE_ATTEMPTS) continue; // removed meanwhile: create again
      throw new SafeholdError('IO', `${name} was taken and removed again ${attempt} times while archiving it`, {
        retryable: true,
        details: { name },
      });
    }
    if (crypto.timingSafeEqual(stored, hash)) return 'identical';
    throw new SafeholdError(
      'ALREADY_EXISTS',
      `${name} is already archived with different content: refusing to overwrite it`,
      {
        details: { name },
      },
    );
  }
}

/** Loads and verifies one WAL file: NOT_FOUND when missing, CORRUPT when it fails authentication, decompression or its hash. */
export async function loadWalFile(repo: Repository, name: string): Promise<Buffer> {
  checkWalName(name);
  const bytes = await repo.backend.load(walHandle(name));
  return decodeWalFile(repo.key, name, bytes);
}

/** The keyed content hash stored in a WAL file's header (hex), read with a ranged load; for duplicate checks. */
export async function walFileHash(repo: Repository, name: string): Promise<string> {
  checkWalName(name);
  const prefix = await repo.backend.load(walHandle(name), 0, PREFIX_BYTES);
  return readHeader(repo.key, name, prefix).hash.toString('hex');
}

/** HMAC-SHA256 of a WAL file's content with the repository's MAC key, hex. */
export function walContentHash(repo: Repository, data: Uint8Array): string {
  return blobId(repo.key.mac, data).toString('hex');
}

/** Every archived WAL file, sorted by name. */
export async function listWalFiles(repo: Repository): Promise<WalFileInfo[]> {
  const files = await repo.backend.list('wal');
  return files
    .map((f) => ({ name: f.name, size: f.size }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Removes archived WAL files (batched where the backend can); a missing one is not an error. */
export async function removeWalFiles(repo: Repository, names: readonly string[]): Promise<void> {
  for (const n of names) checkWalName(n);
  await removeFiles(
    repo.backend,
    names.map((n) => walHandle(n)),
  );
}

/** The stored bytes of a WAL file: header ‖ header tag ‖ sealed zstd content. */
export function encodeWalFile(key: MasterKey, name: string, hash: Uint8Array, data: Uint8Array): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[MAGIC.length] = VERSION;
  header.set(hash, MAGIC.length + 1);
  header.writeUInt32LE(data.byteLength, MAGIC.length + 1 + HASH_BYTES);
  const tag = seal(key.encrypt, Buffer.alloc(0), aad(HEADER_LABEL, header, name));
  const body = seal(
    key.encrypt,
    data.byteLength === 0 ? data : compress(data, WAL_ZSTD_LEVEL),
    aad(BODY_LABEL, header, name),
  );
  return Buffer.concat([header, tag, body], PREFIX_BYTES + body.length);
}

/** Verifies and opens the stored bytes of the WAL file `name`; CORRUPT when anything does not hold. */
export function decodeWalFile(key: MasterKey, name: string, bytes: Uint8Array): Buffer {
  const what = `wal/${name}`;
  const h = readHeader(key, name, bytes);
  const header = Buffer.from(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const body = open(key.encrypt, bytes.subarray(PREFIX_BYTES), aad(BODY_LABEL, header, name), what);
  let data: Buffer;
  if (h.rawLength > 0) data = decompress(body, h.rawLength, what);
  else if (body.length === 0) data = body;
  else throw new SafeholdError('CORRUPT', `${what}: content does not match its declared length 0`);
  if (!crypto.timingSafeEqual(blobId(key.mac, data), h.hash)) {
    throw new SafeholdError('CORRUPT', `${what}: content does not match its hash`, { details: { name } });
  }
  return data;
}

/** Parses a WAL file's header from its first bytes and checks the header's tag for `name`. */
function readHeader(key: MasterKey, name: string, bytes: Uint8Array): WalHeader {
  const what = `wal/${name}`;
  if (bytes.length < PREFIX_BYTES) {
    throw new SafeholdError('CORRUPT', `${what}: too short for a WAL file header (${bytes.length} bytes)`, {
      details: { name },
    });
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (!b.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new SafeholdError('CORRUPT', `${what}: not an archived WAL file (wrong magic)`, { details: { name } });
  }
  const version = b[MAGIC.length]!;
  if (version !== VERSION) {
    throw new SafeholdError('CORRUPT', `${what}: WAL file format version ${version} is not supported`, {
      details: { name, version },
    });
  }
  const header = b.subarray(0, HEADER_BYTES);
  open(key.encrypt, b.subarray(HEADER_BYTES, PREFIX_BYTES), aad(HEADER_LABEL, header, name), `${what} header`);
  const rawLength = b.readUInt32LE(MAGIC.length + 1 + HASH_BYTES);
  if (rawLength > MAX_WAL_FILE_BYTES) {
    throw new SafeholdError('CORRUPT', `${what}: declared length ${rawLength} is over the WAL file limit`, {
      details: { name },
    });
  }
  return { hash: Buffer.from(b.subarray(MAGIC.length + 1, MAGIC.length + 1 + HASH_BYTES)), rawLength };
}

/**
 * The hash in the header of the stored file `name`, or undefined when it is
 * gone. A file whose header does not read or authenticate is CORRUPT: it is
 * never written over, since it might hold the only copy of that WAL file.
 */
async function storedHash(repo: Repository, name: string): Promise<Buffer | undefined> {
  try {
    return Buffer.from(await walFileHash(repo, name), 'hex');
  } catch (e) {
    if (isSafeholdError(e, 'NOT_FOUND')) return undefined;
    if (!isSafeholdError(e, 'CORRUPT')) throw e;
    throw new SafeholdError(
      'CORRUPT',
      `${name} is already archived, but the stored file is damaged (${e.message}): refusing to overwrite it`,
      { cause: e, details: { name } },
    );
  }
}

/**
 * Creates the file; false when the name is taken. A backend without saveNew
 * (none of Safehold's) gets a look first, so that only a racing writer in
 * the moment between the look and the save could be overwritten.
 */
async function createNew(b: Backend, h: Handle, bytes: Uint8Array): Promise<boolean> {
  if (!b.saveNew && (await exists(b, h))) return false;
  try {
    await createFile(b, h, bytes);
    return true;
  } catch (e) {
    if (isSafeholdError(e, 'ALREADY_EXISTS')) return false;
    throw e;
  }
}

async function exists(b: Backend, h: Handle): Promise<boolean> {
  try {
    await b.stat(h);
    return true;
  } catch (e) {
    if (isSafeholdError(e, 'NOT_FOUND')) return false;
    throw e;
  }
}

/** Associated data: label ‖ header (fixed length) ‖ name (UTF-8), so both are bound to the name. */
function aad(label: Buffer, header: Buffer, name: string): Buffer {
  return Buffer.concat([label, header, Buffer.from(name, 'utf8')]);
}

function walHandle(name: string): Handle {
  return { type: 'wal', name };
}

function checkWalName(name: string): void {
  if (!validName(name)) throw new SafeholdError('USAGE', `invalid WAL file name ${JSON.stringify(name)}`);
}
