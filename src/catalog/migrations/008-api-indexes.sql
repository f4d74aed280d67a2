-- Catalog schema 8: indexes for the REST API's keyset-paginated lists
-- (newest first, ties broken by id) and its filters, and for /metrics.

CREATE INDEX plan_runs_started_id ON plan_runs (started_at, id);
CREATE INDEX plan_runs_plan_started ON plan_runs (plan, started_at, id);
CREATE INDEX plan_runs_status_started ON plan_runs (status, started_at, id);
CREATE INDEX tasks_finished_id ON tasks (finished_at, id);
CREATE INDEX tasks_target_finished ON tasks (target, finished_at, id);
CREATE INDEX alerts_at_id ON alerts (at, id);
CREATE INDEX alerts_event_at ON alerts (event, at, id);
CREATE INDEX drills_started_id ON drills (started_at, id);
