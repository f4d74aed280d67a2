// RTO and RPO of a failover or switchover, from the application's journal
// (one line per committed ETL row: payload, commit time, acknowledgement
// time, site, server) and the new primary's rows. RTO: from the event (the
// kill of the old primary, or the start of the switch) to the first row
// committed at the new site. RPO: the rows acknowledged at the old site that
// the new primary does not have, and the time span they cover.

import * as fs from 'node:fs';
import pg from 'pg';

interface JournalLine {
  payload: string;
  ackMs: number;
  site: string;
}

export interface Measurement {
  rtoMs: number | null;
  rpoRows: number;
  rpoMs: number;
  oldRows: number;
  newRows: number;
}

function readJournal(file: string): JournalLine[] {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [payload, , ack, site] = l.split(' ');
      return { payload: payload!, ackMs: Number(ack), site: site! };
    });
}

export async function measure(
  journal: string,
  o: { atMs: number; oldSite: string; newSite: string; newUrl: string },
): Promise<Measurement> {
  const lines = readJournal(journal);
  const old = lines.filter((l) => l.site === o.oldSite && l.ackMs <= o.atMs);
  const fresh = lines.filter((l) => l.site === o.newSite && l.ackMs > o.atMs);
  const c = new pg.Client({ connectionString: o.newUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  const present = new Set<string>();
  try {
    for (let i = 0; i < old.length; i += 10_000) {
      const batch = old.slice(i, i + 10_000).map((l) => l.payload);
      const r = await c.query('SELECT payload FROM rows WHERE payload = ANY($1)', [batch]);
      for (const row of r.rows as { payload: string }[]) present.add(row.payload);
    }
  } finally {
    await c.end().catch(() => {});
  }
  const missing = old.filter((l) => !present.has(l.payload));
  const kept = old.filter((l) => present.has(l.payload));
  const lastKept = kept.length ? Math.max(...kept.map((l) => l.ackMs)) : 0;
  const lastMissing = missing.length ? Math.max(...missing.map((l) => l.ackMs)) : 0;
  return {
    rtoMs: fresh.length ? Math.min(...fresh.map((l) => l.ackMs)) - o.atMs : null,
    rpoRows: missing.length,
    rpoMs: missing.length ? lastMissing - lastKept : 0,
    oldRows: old.length,
    newRows: fresh.length,
  };
}
