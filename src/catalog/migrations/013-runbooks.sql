-- Catalog schema 13: runbook runs. A run keeps the runbook as it was compiled
-- when it started (resume uses it, not a newer configuration), the process
-- that owns it (pid, hostname, heartbeat), and one row per step attempt
-- phase; approvals are rows that the running engine polls for.

CREATE TABLE runbook_runs (
  id           TEXT NOT NULL PRIMARY KEY,
  runbook      TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('running', 'waiting', 'succeeded', 'failed', 'aborted', 'interrupted')),
  dry_run      INTEGER NOT NULL DEFAULT 0,
  vars         TEXT NOT NULL,
  definition   TEXT NOT NULL,
  started_by   TEXT NOT NULL,
  started_at   BIGINT NOT NULL,
  finished_at  BIGINT,
  pid          INTEGER,
  hostname     TEXT,
  heartbeat_at BIGINT,
  error        TEXT
);

CREATE INDEX runbook_runs_started_at ON runbook_runs (started_at);
CREATE INDEX runbook_runs_runbook ON runbook_runs (runbook, started_at);

CREATE TABLE runbook_steps (
  run_id      TEXT NOT NULL REFERENCES runbook_runs (id),
  seq         INTEGER NOT NULL,
  name        TEXT NOT NULL,
  kind        TEXT NOT NULL,
  phase       TEXT NOT NULL CHECK (phase IN ('main', 'rollback')),
  status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'waiting', 'interrupted', 'rolled-back')),
  attempt     INTEGER NOT NULL DEFAULT 0,
  started_at  BIGINT,
  finished_at BIGINT,
  outputs     TEXT,
  error       TEXT,
  idempotent  INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE runbook_approvals (
  run_id    TEXT NOT NULL REFERENCES runbook_runs (id),
  seq       INTEGER NOT NULL,
  step      TEXT NOT NULL,
  action    TEXT NOT NULL CHECK (action IN ('approve', 'rerun', 'mark-done')),
  principal TEXT NOT NULL,
  role      TEXT NOT NULL,
  at        BIGINT NOT NULL,
  used      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, seq)
);
