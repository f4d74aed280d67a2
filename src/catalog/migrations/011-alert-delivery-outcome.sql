-- Catalog schema 11: each alert delivery's outcome in words: 'delivered'
-- (the channel took it), 'failed' (with the reason in detail), or
-- 'suppressed' (the channel's filters, such as minSeverity or events, kept it
-- off that channel; the reason is in detail). `ok` stays: 1 for delivered only.
-- Portable SQL (SQLite and PostgreSQL).

ALTER TABLE alert_deliveries ADD COLUMN outcome TEXT NOT NULL DEFAULT 'delivered'
  CHECK (outcome IN ('delivered', 'failed', 'suppressed'));

UPDATE alert_deliveries SET outcome = 'failed' WHERE ok = 0;
