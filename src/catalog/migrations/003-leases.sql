-- Catalog schema 3: leases on scopes (S5). A scope is a target, a unit of a
-- target, or a destination ('target:QA1', 'unit:TEST8/DOMAIN1',
-- 'destination:local'). One lease per scope: two backups of a scope never run
-- at once, nor a backup and a purge. A lease names its holder (process, host,
-- run) and is renewed by a heartbeat.

CREATE TABLE leases (
  scope        TEXT NOT NULL PRIMARY KEY,
  kind         TEXT NOT NULL CHECK (kind IN ('backup', 'purge', 'restore', 'copy')),
  holder       TEXT NOT NULL,
  run_id       TEXT,
  pid          INTEGER,
  hostname     TEXT,
  created_at   BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL
);
