-- Catalog schema 2: plan runs (S3), their tasks (S4), their log lines, and
-- quiesce records (a quiesce is recorded before it is issued, so a later
-- start can undo one left behind by a killed process).
-- Portable SQL (SQLite and PostgreSQL); times are milliseconds since the epoch.

CREATE TABLE plan_runs (
  id          TEXT NOT NULL PRIMARY KEY,
  plan        TEXT NOT NULL,
  run_trigger TEXT NOT NULL CHECK (run_trigger IN ('scheduled', 'on-demand', 'retry')),
  config_file TEXT,
  started_at  BIGINT NOT NULL,
  finished_at BIGINT,
  status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'refused', 'skipped', 'cancelled')),
  reason      TEXT,
  pid         INTEGER,
  hostname    TEXT
);

CREATE INDEX plan_runs_started_at ON plan_runs (started_at);

CREATE TABLE tasks (
  id          TEXT NOT NULL PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES plan_runs (id),
  seq         INTEGER NOT NULL,
  activity    TEXT NOT NULL,
  kind        TEXT NOT NULL,
  target      TEXT NOT NULL,
  unit        TEXT,
  status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
  reason      TEXT,
  started_at  BIGINT,
  finished_at BIGINT,
  snapshots   TEXT,
  bytes       BIGINT,
  UNIQUE (run_id, seq)
);

CREATE TABLE run_log (
  run_id  TEXT NOT NULL REFERENCES plan_runs (id),
  seq     INTEGER NOT NULL,
  task_id TEXT,
  at      BIGINT NOT NULL,
  level   TEXT NOT NULL CHECK (level IN ('info', 'warn', 'error')),
  message TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE quiesces (
  id           TEXT NOT NULL PRIMARY KEY,
  run_id       TEXT NOT NULL REFERENCES plan_runs (id),
  task_id      TEXT,
  target       TEXT NOT NULL,
  unit         TEXT,
  requested_at BIGINT NOT NULL,
  released_at  BIGINT,
  outcome      TEXT,
  pid          INTEGER,
  hostname     TEXT
);
