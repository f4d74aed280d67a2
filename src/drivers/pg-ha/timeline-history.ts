// The timeline history of a primary (pg_wal/<TLI>.history: one line per
// earlier timeline, "parent-TLI<TAB>switch-point LSN<TAB>reason") and the
// point where it branched off a given older timeline.

import { withServer } from './pg-sql.ts';
import type { SqlOptions } from './pg-sql.ts';

export interface TimelineHistory {
  /** The primary's current timeline. */
  timeline: number;
  /** Earlier timelines and the LSN at which each was left. */
  switches: { timeline: number; at: string }[];
}

export function parseHistory(text: string): { timeline: number; at: string }[] {
  const out: { timeline: number; at: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    if (m) out.push({ timeline: Number(m[1]), at: m[2]!.toUpperCase() });
  }
  return out;
}

/** Reads the history of the primary's timeline (needs a superuser or pg_read_server_files). */
export async function primaryHistory(primary: string, o: SqlOptions = {}): Promise<TimelineHistory> {
  return withServer(
    primary,
    async (q) => {
      const [r] = await q<{ tli: number }>(
        `SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli`,
      );
      const timeline = Number(r!.tli);
      if (timeline <= 1) return { timeline, switches: [] };
      const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
      const [h] = await q<{ text: string }>('SELECT pg_read_file($1) AS text', [file]);
      return { timeline, switches: parseHistory(h?.text ?? '') };
    },
    o,
  );
}

/** Where the primary's history left `oldTimeline` (null when the primary is still on it or never was). */
export function divergence(h: TimelineHistory, oldTimeline: number): string | null {
  if (h.timeline === oldTimeline) return null;
  return h.switches.find((s) => s.timeline === oldTimeline)?.at ?? null;
}
