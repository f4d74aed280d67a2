-- Catalog schema 1: every CLI run and every snapshot seen.
-- Portable SQL (SQLite and PostgreSQL): TEXT and integer types only; times are
-- milliseconds since the Unix epoch. Times and byte counts are BIGINT because
-- PostgreSQL's INTEGER is 32-bit (SQLite gives BIGINT integer affinity).

CREATE TABLE runs (
  id              TEXT NOT NULL PRIMARY KEY,
  command         TEXT NOT NULL,
  args            TEXT,
  repository      TEXT,
  started_at      BIGINT NOT NULL,
  finished_at     BIGINT,
  status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
  error_code      TEXT,
  error           TEXT,
  files_new       BIGINT,
  files_changed   BIGINT,
  files_unchanged BIGINT,
  files_failed    BIGINT,
  bytes_read      BIGINT,
  bytes_added     BIGINT,
  snapshot_id     TEXT,
  pid             INTEGER,
  hostname        TEXT
);

CREATE INDEX runs_started_at ON runs (started_at);

CREATE TABLE snapshots (
  id         TEXT NOT NULL,
  repository TEXT NOT NULL,
  run_id     TEXT REFERENCES runs (id),
  time       BIGINT NOT NULL,
  hostname   TEXT NOT NULL,
  paths      TEXT NOT NULL,
  tags       TEXT NOT NULL,
  tree       TEXT NOT NULL,
  size       BIGINT,
  files      BIGINT,
  PRIMARY KEY (repository, id)
);
