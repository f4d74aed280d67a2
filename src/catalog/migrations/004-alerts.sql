-- Catalog schema 4: alerts (S9). Every alert is stored before it is sent;
-- each delivery attempt's outcome on each channel is recorded after it.
-- Portable SQL (SQLite and PostgreSQL); times are milliseconds since the epoch.
-- `event` is not constrained here so that new event kinds need no migration.

CREATE TABLE alerts (
  id       TEXT NOT NULL PRIMARY KEY,
  event    TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  summary  TEXT NOT NULL,
  details  TEXT NOT NULL,
  at       BIGINT NOT NULL
);

CREATE INDEX alerts_at ON alerts (at);

CREATE TABLE alert_deliveries (
  alert_id TEXT NOT NULL REFERENCES alerts (id),
  seq      INTEGER NOT NULL,
  channel  TEXT NOT NULL,
  ok       INTEGER NOT NULL CHECK (ok IN (0, 1)),
  detail   TEXT,
  at       BIGINT NOT NULL,
  PRIMARY KEY (alert_id, seq)
);
