-- Catalog schema 6: restore drills (S7). Each drill restored the latest
-- snapshot of a unit into a scratch place, verified it against what was
-- recorded at backup time, removed the scratch copy, and left this report.

CREATE TABLE drills (
  id          TEXT NOT NULL PRIMARY KEY,
  run_id      TEXT REFERENCES plan_runs (id),
  task_id     TEXT,
  plan        TEXT,
  target      TEXT NOT NULL,
  unit        TEXT,
  snapshot    TEXT,
  started_at  BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  restore_ms  BIGINT,
  verify_ms   BIGINT,
  status      TEXT NOT NULL CHECK (status IN ('passed', 'failed')),
  summary     TEXT NOT NULL,
  details     TEXT
);

CREATE INDEX drills_started_at ON drills (started_at);
