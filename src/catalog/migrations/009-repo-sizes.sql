-- Catalog schema 9: the size of each repository destination over time (the
-- console's repository size chart, issue 6). The server samples every
-- repository destination hourly, and once on demand when the newest sample
-- of a destination is older than an hour. `bytes` is the size of the pack
-- files under the repository's data/ directory. Portable SQL (SQLite and
-- PostgreSQL); times are milliseconds since the epoch.

CREATE TABLE repo_sizes (
  destination TEXT NOT NULL,
  at          BIGINT NOT NULL,
  bytes       BIGINT NOT NULL,
  PRIMARY KEY (destination, at)
);
