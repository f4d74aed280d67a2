// The database driver contract (S6, S8). A driver knows one kind of database
// server (or file): it lists its units (databases), streams a unit's backup
// (no temporary full-size copy unless it declares staging space), restores a
// stream into the same or another name, and computes a content digest (row
// count and checksum of every table) so that backups, restores and drills can
// be compared with the source. Every driver passes one shared suite
// (test/helpers/db-driver-suite.ts). An operation stopped by its abort signal
// fails with CANCELLED ("... was cancelled": checkAborted, cancelled).

import type { Availability } from '../availability.ts';
import type { Readable } from 'node:stream';
import { SafeholdError } from '../../core/errors.ts';

export type DbKind = 'postgres' | 'mariadb' | 'sqlite';

export interface DbCapabilities {
  /** A backup may run while the database is in use and is one consistent snapshot of the unit. */
  readonly online: boolean;
  /** The driver itself can quiesce the unit (else quiescing is done by hooks). */
  readonly quiesce: boolean;
  /** The target has several units (databases); false: a single unit named 'default'. */
  readonly units: boolean;
  /** A backup first writes a full-size temporary copy (staging space is needed on the source side). */
  readonly staging: boolean;
  /** A physical backup of the whole server (every unit at one instant) is possible. */
  readonly physical: boolean;
  /** backup(unit, { withDigest }) gives the digest of exactly the dumped state (else it is taken just before the dump). */
  readonly snapshotDigest: boolean;
}

/** Row count and checksum of every table, by table name (schema-qualified where the server has schemas). */
export interface ContentDigest {
  readonly tables: Readonly<Record<string, { readonly rows: number; readonly checksum: string }>>;
}

export interface DbBackup {
  /** The dump; it fails (after its last byte) when the dump program fails. */
  readonly stream: Readable;
  /** The format of the stream, recorded with the snapshot (e.g. 'pg_dump-custom', 'mariadb-dump-sql', 'sqlite-db'). */
  readonly format: string;
  /**
   * With `withDigest`, from drivers that can: the digest of exactly the state
   * the stream holds (postgres: taken in the dump's exported snapshot, while
   * the dump runs). It settles once the stream has been read or destroyed.
   */
  readonly digest?: Promise<ContentDigest>;
}

export interface BackupOptions {
  readonly signal?: AbortSignal;
  /** Ask for the backup's digest (DbBackup.digest), from drivers that can give one. */
  readonly withDigest?: boolean;
}

export interface RestoreOptions {
  /** Restore into this unit name instead of the original (a new database, another file). */
  readonly into?: string;
  /** Replace an existing unit of that name (drop and recreate). Without it, an existing unit is refused (RESTORE_TARGET). */
  readonly clean?: boolean;
  readonly signal?: AbortSignal;
}

export interface DbDriver {
  readonly kind: DbKind;
  readonly capabilities: DbCapabilities;
  /** The target name, for messages. */
  readonly name: string;
  /** Whether the server (or directory) can be reached now; if not, why (never throws). */
  available(): Promise<Availability>;
  /** Unit names (databases), in a stable order. */
  listUnits(): Promise<string[]>;
  /** Whether a unit of this name exists. */
  exists(unit: string): Promise<boolean>;
  /** Streams one unit's online backup. */
  backup(unit: string, opts?: BackupOptions): Promise<DbBackup>;
  /** Restores a backup stream of `unit` (format as recorded) into `opts.into ?? unit`. */
  restore(unit: string, input: Readable, format: string, opts?: RestoreOptions): Promise<void>;
  /** Removes a unit (drills drop their scratch copy). */
  drop(unit: string): Promise<void>;
  /** Row counts and checksums of every table of a unit. */
  digest(unit: string): Promise<ContentDigest>;
}

/** The error of an operation stopped by its abort signal: "<what> was cancelled". */
export function cancelled(what: string, cause?: unknown): SafeholdError {
  return new SafeholdError('CANCELLED', `${what} was cancelled`, { cause });
}

/** Throws CANCELLED ("<what> was cancelled") once `signal` has fired. */
export function checkAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelled(what);
}
