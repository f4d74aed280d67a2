// What a physical backup records for point-in-time recovery: the cluster's
// system identifier (asked over SQL before the backup starts) and the WAL
// positions pg_basebackup reports with --verbose ("write-ahead log start
// point: 0/2000028 on timeline 1", "write-ahead log end point: 0/2000100").

import type { BaseBackupMeta } from '../../repo/snapshot.ts';
import type { Clock } from '../../core/clock.ts';
import { catalogSql } from './postgres-connection.ts';
import type { PostgresDriverConfig } from './postgres-connection.ts';

/** Collects pg_basebackup's --verbose lines; `meta()` is complete once the program has ended. */
export class BaseBackupInfo {
  private startLsn: string | null = null;
  private timeline: number | null = null;
  private stopLsn: string | null = null;

  /** Feeds one stderr line of pg_basebackup --verbose. */
  line(l: string): void {
    const start = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/i.exec(l);
    if (start) {
      this.startLsn = start[1]!.toUpperCase();
      this.timeline = Number(start[2]);
    }
    const end = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/i.exec(l);
    if (end) this.stopLsn = end[1]!.toUpperCase();
  }

  /** The record, or null when pg_basebackup did not report both positions (an older or unusual version). */
  meta(systemId: string | null, clock: Clock): BaseBackupMeta | null {
    if (!systemId || this.startLsn === null || this.stopLsn === null || this.timeline === null) return null;
    return {
      systemId,
      timeline: this.timeline,
      startLsn: this.startLsn,
      stopLsn: this.stopLsn,
      stopTime: new Date(clock.now()).toISOString(),
    };
  }
}

/** The server's system identifier (decimal), or null when it cannot be asked (the backup then has no PITR record). */
export async function systemIdOf(cfg: PostgresDriverConfig): Promise<string | null> {
  try {
    return await catalogSql(cfg, 'reading the system identifier', async (c) => {
      const r = await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
      return r.rows[0]?.id ?? null;
    });
  } catch {
    return null;
  }
}
