// The shapes of the API's requests and responses the console uses, inferred
// from the API's own zod schemas (src/api/http/schemas.ts, which imports
// nothing but zod). The imports are type-only: no schema and no zod code ends
// up in the bundle. See docs/api.md and /api/openapi.json.

import type { z } from 'zod';
import type {
  alertSchema,
  dashboardSchema,
  drillSchema,
  errorSchema,
  groupRestoreBodySchema,
  logLineSchema,
  loginBodySchema,
  loginSchema,
  okSchema,
  pageSchema,
  planListSchema,
  planSchema,
  repoChartSchema,
  restoreResultSchema,
  role,
  runChartSchema,
  runLogSchema,
  runSchema,
  runStartedSchema,
  runStatus,
  runWithTasksSchema,
  sessionSchema,
  snapshotSchema,
  taskSchema,
  taskStatus,
  unitRestoreBodySchema,
  unitRestoreResultSchema,
} from '../../src/api/http/schemas.ts';
import type {
  browseDirSchema,
  browseEntrySchema,
  browseSearchSchema,
  selectionRestoreBodySchema,
  selectionRestoreResultSchema,
} from '../../src/api/http/schemas-browse.ts';

/** A page of a list of T: `{ items, nextCursor }`. */
export type Page<T> = z.infer<ReturnType<typeof pageSchema<z.ZodType<T>>>>;

export type ApiErrorBody = z.infer<typeof errorSchema>;
export type Ok = z.infer<typeof okSchema>;

export type Role = z.infer<typeof role>;
export type Session = z.infer<typeof sessionSchema>;
export type LoginResult = z.infer<typeof loginSchema>;
export type LoginRequest = z.input<typeof loginBodySchema>;

export type RunStatus = z.infer<typeof runStatus>;
export type TaskStatus = z.infer<typeof taskStatus>;
export type Run = z.infer<typeof runSchema>;
export type Task = z.infer<typeof taskSchema>;
export type RunWithTasks = z.infer<typeof runWithTasksSchema>;
export type RunStarted = z.infer<typeof runStartedSchema>;
export type LogLine = z.infer<typeof logLineSchema>;
export type RunLog = z.infer<typeof runLogSchema>;

export type Plan = z.infer<typeof planSchema>;
export type PlanList = z.infer<typeof planListSchema>;
export type Snapshot = z.infer<typeof snapshotSchema>;
export type Alert = z.infer<typeof alertSchema>;
export type Drill = z.infer<typeof drillSchema>;
export type Dashboard = z.infer<typeof dashboardSchema>;
export type RunChart = z.infer<typeof runChartSchema>;
export type RepoChart = z.infer<typeof repoChartSchema>;

export type GroupRestoreRequest = z.input<typeof groupRestoreBodySchema>;
export type RestoreResult = z.infer<typeof restoreResultSchema>;
export type UnitRestoreRequest = z.input<typeof unitRestoreBodySchema>;
export type UnitRestoreResult = z.infer<typeof unitRestoreResultSchema>;

// The snapshot file browser (src/api/http/schemas-browse.ts).
export type BrowseEntry = z.infer<typeof browseEntrySchema>;
export type BrowseDir = z.infer<typeof browseDirSchema>;
export type BrowseSearch = z.infer<typeof browseSearchSchema>;
export type SelectionRestoreRequest = z.input<typeof selectionRestoreBodySchema>;
export type SelectionRestoreResult = z.infer<typeof selectionRestoreResultSchema>;

// Runbooks (src/api/http/schemas-runbooks.ts).
import type {
  runbookDryRunSchema,
  runbookListSchema,
  runbookRunListSchema,
  runbookRunSchema,
  runbookRunStartedSchema,
  runbookRunSummarySchema,
  runbookSchema,
  runbookStepViewSchema,
  runbookSummarySchema,
} from '../../src/api/http/schemas-runbooks.ts';
export type RunbookSummary = z.infer<typeof runbookSummarySchema>;
export type RunbookList = z.infer<typeof runbookListSchema>;
export type Runbook = z.infer<typeof runbookSchema>;
export type RunbookDryRun = z.infer<typeof runbookDryRunSchema>;
export type RunbookRun = z.infer<typeof runbookRunSchema>;
export type RunbookRunSummary = z.infer<typeof runbookRunSummarySchema>;
export type RunbookRunList = z.infer<typeof runbookRunListSchema>;
export type RunbookStepView = z.infer<typeof runbookStepViewSchema>;
export type RunbookRunStarted = z.infer<typeof runbookRunStartedSchema>;
