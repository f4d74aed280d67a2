-- Catalog schema 12: the protection report (docs/protection.md). Which units
-- are in violation of their protection rules now (a row from the evaluation
-- that found it in violation until the one that found it protected again:
-- the alert is raised on entering, a notice on leaving), and the last report
-- evaluated by the server (for metrics and the console).
-- Portable SQL (SQLite and PostgreSQL); times are milliseconds since the epoch.

CREATE TABLE protection_violations (
  plan     TEXT NOT NULL,
  target   TEXT NOT NULL,
  -- '' for a whole target (no unit)
  unit     TEXT NOT NULL,
  since    BIGINT NOT NULL,
  -- JSON list of the rules broken when it entered violation
  rules    TEXT NOT NULL,
  PRIMARY KEY (plan, target, unit)
);

CREATE TABLE protection_reports (
  id           INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
  evaluated_at BIGINT NOT NULL,
  report       TEXT NOT NULL
);
