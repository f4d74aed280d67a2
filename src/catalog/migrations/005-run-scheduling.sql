-- Catalog schema 5: what the server needs to schedule runs (S5). A scheduled
-- run records the time it was due (scheduled_for), so retries after a crash
-- stay inside the retry window counted from then; a retry names the run it
-- retries (retry_of); a scheduled run that found the previous run of its plan
-- still running is recorded as skipped and names that run (coalesced_into).

ALTER TABLE plan_runs ADD COLUMN scheduled_for BIGINT;
ALTER TABLE plan_runs ADD COLUMN retry_of TEXT;
ALTER TABLE plan_runs ADD COLUMN coalesced_into TEXT;

CREATE INDEX plan_runs_plan_status ON plan_runs (plan, status);
