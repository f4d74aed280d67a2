// What makes a stopped data directory start as a standby of a primary:
// standby.signal, primary_conninfo (the password, when the primary's URL has
// one, is written there as pg_basebackup -R does; it is never shown),
// primary_slot_name, the server's own port, and no leftover read-only fence.
// Also creates the physical replication slot on the primary when asked.

import { readAutoConf, setAutoConf, writeStandbySignal } from './data-dir.ts';
import { withServer } from './pg-sql.ts';
import type { SqlOptions } from './pg-sql.ts';
import { conninfoOf, pgTarget } from './pg-target.ts';

export interface StandbyConfig {
  /** URL or conninfo of the primary to follow. */
  readonly primary: string;
  readonly slot?: string;
  /** The standby's own port (kept across pg_rewind/pg_basebackup, which copy the primary's settings). */
  readonly port?: number;
}

/** Creates the physical slot on the primary unless it exists; true when it was created. */
export async function ensureSlot(primary: string, slot: string, o: SqlOptions = {}): Promise<boolean> {
  return withServer(
    primary,
    async (q) => {
      const have = await q('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      if (have.length > 0) return false;
      await q('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
      return true;
    },
    o,
  );
}

/** The application_name of the current primary_conninfo, kept so synchronous_standby_names still matches. */
async function currentAppName(dataDir: string): Promise<string | null> {
  const old = await readAutoConf(dataDir, 'primary_conninfo');
  const m = old ? /application_name\s*=\s*(?:'((?:\\.|[^'\\])*)'|(\S+))/.exec(old) : null;
  return m ? (m[1] ?? m[2] ?? null) : null;
}

/** Writes standby.signal and the replication settings into postgresql.auto.conf of a stopped `dataDir`. */
export async function configureStandby(dataDir: string, c: StandbyConfig): Promise<void> {
  const t = pgTarget(c.primary);
  const app = await currentAppName(dataDir);
  const conninfo = conninfoOf(t, { password: true, dbname: false }) + (app ? ` application_name='${app}'` : '');
  await setAutoConf(dataDir, {
    primary_conninfo: conninfo,
    primary_slot_name: c.slot ?? null,
    default_transaction_read_only: null,
    ...(c.port ? { port: c.port } : {}),
  });
  await writeStandbySignal(dataDir);
}
