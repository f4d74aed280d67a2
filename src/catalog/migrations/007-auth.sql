-- Catalog schema 7: authentication for the REST API and the console (S11,
-- issue 6). API tokens and user passwords are stored only as hashes; session
-- rows are keyed by the SHA-256 of the cookie value; every state-changing
-- request leaves a row in audit_log. Portable SQL (SQLite and PostgreSQL);
-- times are milliseconds since the epoch. The session's user column is
-- user_name (USER is reserved in PostgreSQL); audit_log.seq is assigned by
-- the insert (MAX + 1), not by a database-specific sequence.

CREATE TABLE api_tokens (
  id           TEXT NOT NULL PRIMARY KEY,
  name         TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  hash         TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at   BIGINT,
  created_by   TEXT NOT NULL
);

CREATE TABLE users (
  name          TEXT NOT NULL PRIMARY KEY,
  role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  password_hash TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  disabled_at   BIGINT
);

CREATE TABLE sessions (
  id           TEXT NOT NULL PRIMARY KEY,
  user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
  csrf         TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  ip           TEXT
);

CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE audit_log (
  seq        BIGINT NOT NULL PRIMARY KEY,
  at         BIGINT NOT NULL,
  principal  TEXT,
  role       TEXT,
  method     TEXT NOT NULL,
  path       TEXT NOT NULL,
  status     INTEGER NOT NULL,
  ip         TEXT,
  request_id TEXT,
  detail     TEXT
);

CREATE INDEX audit_log_at ON audit_log (at);
