-- Catalog schema 10: indexes for the dashboard and the charts of the REST API
-- (issue 6), so that each of their lookups is a short index range, whatever
-- the number of runs: the newest success of a plan, the failures of the last
-- 24 hours, a plan's finished runs of the last N days, and the newest
-- succeeded backup of a (target, unit) (walked newest first until one of the
-- plan's runs is found). The two tasks indexes cover their queries (no table
-- lookups): the units of a plan's newest runs and the bytes a run added, and
-- the newest succeeded backup of a unit with its kind and run.

CREATE INDEX plan_runs_plan_status_finished ON plan_runs (plan, status, finished_at);
CREATE INDEX plan_runs_plan_finished ON plan_runs (plan, finished_at);
CREATE INDEX plan_runs_status_finished ON plan_runs (status, finished_at);
CREATE INDEX tasks_unit_status_finished ON tasks (target, unit, status, finished_at, kind, run_id);
CREATE INDEX tasks_run_kind ON tasks (run_id, kind, status, target, unit, bytes);
