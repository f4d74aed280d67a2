// Reading the few binary facts PITR needs straight from PostgreSQL's files,
// without running a server program: the long page header at the start of
// every WAL segment (which cluster wrote it, on which timeline, where, with
// which segment and block size) and the system identifier at the start of a
// data directory's global/pg_control. Little-endian, as PostgreSQL writes
// them on x86_64 and arm64. Offsets checked against PostgreSQL 15 (initdb,
// pg_controldata) in pg-control.test.ts.
//
// XLogPageHeaderData:     uint16 xlp_magic @0, uint16 xlp_info @2,
//                         uint32 xlp_tli @4, uint64 xlp_pageaddr @8,
//                         uint32 xlp_rem_len @16 (padded to 24)
// XLogLongPageHeaderData: + uint64 xlp_sysid @24, uint32 xlp_seg_size @32,
//                         uint32 xlp_xlog_blcksz @36
// ControlFileData:        uint64 system_identifier @0

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';
import { isValidSegSize } from './wal-names.ts';

const LONG_HEADER_SIZE = 40;
/** xlp_info: this page starts with XLogLongPageHeaderData. */
const XLP_LONG_HEADER = 0x0002;
/** xlp_info: every flag PostgreSQL defines (XLP_ALL_FLAGS). */
const XLP_ALL_FLAGS = 0x0007;

export interface SegmentHeader {
  /** xlp_magic: the WAL format version (0xD110 for PostgreSQL 15). */
  magic: number;
  timeline: number;
  /** The WAL position of this page: the segment's start for its first page. */
  pageAddr: bigint;
  /** The cluster's system identifier, decimal as pg_controldata shows it. */
  systemId: string;
  segSize: number;
  blockSize: number;
}

function corrupt(why: string): SafeholdError {
  return new SafeholdError('CORRUPT', `not the start of a WAL segment: ${why}`);
}

const isBlockSize = (n: number) => n >= 1024 && n <= 65536 && (n & (n - 1)) === 0;

/**
 * From the first page of a WAL segment (XLogLongPageHeaderData): magic,
 * timeline, page address, system identifier (decimal string), segment size,
 * block size. Throws SafeholdError('CORRUPT', ...) when the page is not a long
 * WAL page header.
 */
export function segmentHeader(page: Uint8Array): SegmentHeader {
  if (page.length < LONG_HEADER_SIZE) throw corrupt(`only ${page.length} bytes, a page header has ${LONG_HEADER_SIZE}`);
  const v = new DataView(page.buffer, page.byteOffset, LONG_HEADER_SIZE);
  const magic = v.getUint16(0, true);
  const info = v.getUint16(2, true);
  const timeline = v.getUint32(4, true);
  const pageAddr = v.getBigUint64(8, true);
  const sysid = v.getBigUint64(24, true);
  const segSize = v.getUint32(32, true);
  const blockSize = v.getUint32(36, true);
  if ((magic & 0xf000) !== 0xd000) throw corrupt(`unknown format number 0x${magic.toString(16)}`);
  if ((info & XLP_LONG_HEADER) === 0 || (info & ~XLP_ALL_FLAGS) !== 0)
    throw corrupt(`page flags 0x${info.toString(16)} do not mark a long header`);
  if (timeline < 1) throw corrupt('timeline 0');
  if (!isValidSegSize(segSize)) throw corrupt(`segment size ${segSize} is not a power of 2 from 1 MiB to 1 GiB`);
  if (!isBlockSize(blockSize)) throw corrupt(`block size ${blockSize} is not a power of 2 from 1 kB to 64 kB`);
  if (pageAddr % BigInt(segSize) !== 0n) throw corrupt('the page address is not at a segment boundary');
  if (sysid === 0n) throw corrupt('system identifier 0');
  return { magic, timeline, pageAddr, systemId: sysid.toString(), segSize, blockSize };
}

/** The system identifier (decimal string) at the start of global/pg_control of a data directory; null if the file is missing. */
export async function dataDirSystemId(dataDir: string): Promise<string | null> {
  const file = path.join(dataDir, 'global', 'pg_control');
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    if (sysCode(e) === 'ENOENT' || sysCode(e) === 'ENOTDIR') return null;
    throw fromSystemError(e, `reading ${file}`);
  }
  try {
    const buf = new Uint8Array(8);
    const { bytesRead } = await fh.read(buf, 0, 8, 0);
    if (bytesRead < 8) throw new SafeholdError('CORRUPT', `${file} is too short to be a PostgreSQL control file`);
    const id = new DataView(buf.buffer).getBigUint64(0, true);
    if (id === 0n) throw new SafeholdError('CORRUPT', `${file} has no system identifier`);
    return id.toString();
  } catch (e) {
    throw fromSystemError(e, `reading ${file}`);
  } finally {
    await fh.close();
  }
}
