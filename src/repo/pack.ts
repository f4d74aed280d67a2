// Pack files: many sealed blobs back to back, then a sealed header listing
// them, then the header's length (uint32 little-endian). The header lets an
// index be rebuilt from packs alone. A pack's name is the SHA-256 of its bytes.
//
// Header plaintext: one 41-byte entry per blob, in file order:
//   type (1 byte: 0 data, 1 tree) | id (32 bytes) | sealed length (uint32 LE) | raw length (uint32 LE, 0 = stored uncompressed)

import { open, seal } from './crypto.ts';
import { SafeholdError } from '../core/errors.ts';

export type BlobType = 'data' | 'tree';

export interface PackEntry {
  type: BlobType;
  id: string;
  offset: number;
  length: number;
  /** Length after decompression; 0 when the blob is stored uncompressed. */
  rawLength: number;
}

/** Bytes of one header entry. */
export const PACK_ENTRY_BYTES = 41;
const ENTRY_BYTES = PACK_ENTRY_BYTES;
const HEADER_AAD = Buffer.from('safehold-pack-header-v1');

/**
 * Assembles one pack. Blobs are copied into one buffer as they arrive, so
 * the caller's buffers can be freed at once; the buffer can be handed back
 * (`buffer`) and reused for the next pack.
 */
export class PackBuilder {
  private buf: Buffer;
  readonly entries: PackEntry[] = [];
  size = 0;

  constructor(buffer?: Buffer) {
    this.buf = buffer ?? Buffer.allocUnsafeSlow(1024 * 1024);
  }

  /** The underlying buffer, for reuse once the finished pack is written. */
  get buffer(): Buffer {
    return this.buf;
  }

  add(type: BlobType, id: string, sealed: Uint8Array, rawLength: number): PackEntry {
    const e: PackEntry = { type, id, offset: this.size, length: sealed.length, rawLength };
    this.reserve(sealed.length);
    this.buf.set(sealed, this.size);
    this.entries.push(e);
    this.size += sealed.length;
    return e;
  }

  get count(): number {
    return this.entries.length;
  }

  /** Appends the sealed header and its length; returns the pack's bytes (a view of `buffer`). */
  finish(key: Buffer): Buffer {
    const header = Buffer.alloc(this.entries.length * ENTRY_BYTES);
    this.entries.forEach((e, i) => {
      const o = i * ENTRY_BYTES;
      header[o] = e.type === 'tree' ? 1 : 0;
      Buffer.from(e.id, 'hex').copy(header, o + 1);
      header.writeUInt32LE(e.length, o + 33);
      header.writeUInt32LE(e.rawLength, o + 37);
    });
    const sealedHeader = seal(key, header, HEADER_AAD);
    this.reserve(sealedHeader.length + 4);
    this.buf.set(sealedHeader, this.size);
    this.buf.writeUInt32LE(sealedHeader.length, this.size + sealedHeader.length);
    return this.buf.subarray(0, this.size + sealedHeader.length + 4);
  }

  private reserve(n: number): void {
    if (this.size + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.size + n, this.buf.length * 2));
    this.buf.copy(bigger, 0, 0, this.size);
    this.buf = bigger;
  }
}

/** Length of the trailing part (sealed header + 4) given the last 4 bytes of a pack. */
export function headerLength(tail4: Uint8Array): number {
  return Buffer.from(tail4.buffer, tail4.byteOffset, 4).readUInt32LE(0);
}

/** Parses the sealed header of a pack of `packSize` bytes; `sealedHeader` is the bytes before the final 4. */
export function parseHeader(key: Buffer, sealedHeader: Uint8Array, packSize: number, what: string): PackEntry[] {
  const header = open(key, sealedHeader, HEADER_AAD, `${what} header`);
  if (header.length % ENTRY_BYTES !== 0) throw new SafeholdError('CORRUPT', `${what}: header has a bad length`);
  const entries: PackEntry[] = [];
  let offset = 0;
  for (let o = 0; o < header.length; o += ENTRY_BYTES) {
    const t = header[o];
    if (t !== 0 && t !== 1) throw new SafeholdError('CORRUPT', `${what}: unknown blob type ${t}`);
    const length = header.readUInt32LE(o + 33);
    entries.push({
      type: t === 1 ? 'tree' : 'data',
      id: header.subarray(o + 1, o + 33).toString('hex'),
      offset,
      length,
      rawLength: header.readUInt32LE(o + 37),
    });
    offset += length;
  }
  if (offset + sealedHeader.length + 4 !== packSize) {
    throw new SafeholdError(
      'CORRUPT',
      `${what}: blobs and header add up to ${offset + sealedHeader.length + 4} bytes, file has ${packSize}`,
    );
  }
  return entries;
}

/** Parses a whole pack held in memory. */
export function parsePack(key: Buffer, pack: Uint8Array, what: string): PackEntry[] {
  if (pack.length < 4) throw new SafeholdError('CORRUPT', `${what}: too short to be a pack`);
  const hl = headerLength(pack.subarray(pack.length - 4));
  if (hl + 4 > pack.length) throw new SafeholdError('CORRUPT', `${what}: header length ${hl} exceeds the file`);
  return parseHeader(key, pack.subarray(pack.length - 4 - hl, pack.length - 4), pack.length, what);
}

export function blobAad(id: string): Buffer {
  return Buffer.from(id, 'hex');
}

export function sealBlob(key: Buffer, id: string, stored: Uint8Array): Buffer {
  return seal(key, stored, blobAad(id));
}

export function openBlob(key: Buffer, id: string, sealed: Uint8Array): Buffer {
  return open(key, sealed, blobAad(id), `blob ${id.slice(0, 12)}`);
}
