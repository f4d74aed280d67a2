// `pg archive-push`: one file the server hands to archive_command (a WAL
// segment, a .partial segment, a timeline history or a backup-label file)
// stored in the repository under its cluster's system identifier. The
// cluster is read from the segment's own page header and checked against the
// server's data directory (archive_command runs there) and --cluster: WAL of
// another cluster is refused. A name already stored with the same content is
// a success (the server retries after a crash); different content is refused,
// never overwritten.

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { SafeholdError, fromSystemError } from '../../core/errors.ts';
import type { Repository } from '../../repo/repository.ts';
import { storeWalFile } from '../../repo/wal-file.ts';
import { dataDirSystemId, segmentHeader } from './pg-control.ts';
import { parseWalName } from './wal-names.ts';
import type { WalName } from './wal-names.ts';

export interface WalFileOptions {
  /** The server's data directory (default: the working directory, where the server runs archive and restore commands). */
  readonly pgdata?: string;
  /** The system identifier the file must belong to. */
  readonly cluster?: string;
}

export interface PushResult {
  readonly file: string;
  readonly cluster: string;
  readonly bytes: number;
  readonly outcome: 'stored' | 'identical';
}

/** The name a WAL file of a cluster is stored under in the repository. */
export function storedWalName(cluster: string, file: string): string {
  return `${cluster}-${file}`;
}

/** The cluster and WAL file a stored name stands for, or null for names of another form. */
export function parseStoredWalName(stored: string): { cluster: string; file: string; wal: WalName } | null {
  const m = /^(\d{1,20})-(.+)$/.exec(stored);
  const wal = m ? parseWalName(m[2]!) : null;
  return m && wal ? { cluster: m[1]!, file: m[2]!, wal } : null;
}

export function walNameOrThrow(file: string): WalName {
  const w = parseWalName(file);
  if (!w)
    throw new SafeholdError(
      'USAGE',
      `${JSON.stringify(file)} is not the name of a WAL segment, history or backup-label file`,
    );
  return w;
}

/** The cluster of this server: --cluster, else the data directory's pg_control (null when neither is known). */
export async function serverCluster(o: WalFileOptions): Promise<string | null> {
  if (o.cluster !== undefined) {
    if (!/^\d{1,20}$/.test(o.cluster))
      throw new SafeholdError(
        'USAGE',
        `--cluster takes a system identifier (digits), not ${JSON.stringify(o.cluster)}`,
      );
    return o.cluster;
  }
  return dataDirSystemId(o.pgdata ?? process.cwd());
}

/** The cluster a segment belongs to (its page header), checked against its name and size. */
function segmentCluster(file: string, wal: WalName, data: Buffer): string {
  const h = segmentHeader(data.subarray(0, 64));
  // The first segment of a new timeline starts as a copy of the old timeline's: its header may name an older one.
  if (h.timeline > wal.timeline)
    throw new SafeholdError(
      'CORRUPT',
      `${file}: its header names timeline ${h.timeline}, newer than its name's ${wal.timeline}`,
    );
  if (wal.kind === 'segment' && data.length !== h.segSize)
    throw new SafeholdError('CORRUPT', `${file} is ${data.length} bytes, but its cluster's segments are ${h.segSize}`);
  return h.systemId;
}

/** Which cluster `data` belongs to, refusing a file of another cluster than the server's. */
function clusterOf(file: string, wal: WalName, data: Buffer, server: string | null, o: WalFileOptions): string {
  const own = wal.kind === 'segment' || wal.kind === 'partial' ? segmentCluster(file, wal, data) : null;
  const cluster = own ?? server;
  if (cluster === null)
    throw new SafeholdError(
      'USAGE',
      `cannot tell which cluster ${file} belongs to: run in the server's data directory, or give --pgdata DIR or --cluster ID`,
    );
  if (server !== null && cluster !== server) {
    const whose = o.cluster !== undefined ? '--cluster' : 'this server (its pg_control)';
    throw new SafeholdError(
      'FORBIDDEN',
      `${file} belongs to the cluster with system identifier ${cluster}, but ${whose} is ${server}: WAL of another cluster is refused`,
    );
  }
  return cluster;
}

/** Stores one WAL file (`walPath` relative to the data directory, as %p is). */
export async function pushWal(repo: Repository, walPath: string, o: WalFileOptions = {}): Promise<PushResult> {
  const file = path.basename(walPath);
  const wal = walNameOrThrow(file);
  const full = path.resolve(o.pgdata ?? process.cwd(), walPath);
  let data: Buffer;
  try {
    data = await fsp.readFile(full);
  } catch (e) {
    throw fromSystemError(e, `reading ${full}`);
  }
  const cluster = clusterOf(file, wal, data, await serverCluster(o), o);
  const outcome = await storeWalFile(repo, storedWalName(cluster, file), data);
  return { file, cluster, bytes: data.length, outcome };
}
