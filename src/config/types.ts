// The compiled, frozen form of safehold.yaml that the rest of the program
// uses. The loader (load.ts) validates the file against the schema
// (schema.ts) and produces exactly this; nothing else reads YAML.

import type { RetentionPolicy } from '../engine/maintenance/retention.ts';
import type { Severity } from '../core/alert-event.ts';
import type { BackendOptions } from '../repo/backend/backend-options.ts';

/** A secret resolved at load time (from the file, an environment variable or a file); never printed. */
export interface Secret {
  /** Where it came from, for redacted display: 'inline', 'env:NAME' or 'file:PATH'. */
  readonly source: string;
  /** The value. Do not log, print or store it. */
  readonly value: string;
}

export interface Settings {
  /** Global switch (S3 step 1): when false, no plan run is admitted. */
  readonly backupsEnabled: boolean;
  /** Catalog location; from the file or SAFEHOLD_DATA_DIR. */
  readonly dataDir: string | null;
  /** Default grace after a quiesce/unquiesce timeout (S4 steps 7 and 9), ms. */
  readonly quiesceGraceMs: number;
  /** Server: plan runs executing at once. */
  readonly maxParallelRuns: number;
  /** S5: a scope lock older than this is cleared (and alerted). */
  readonly lockMaxAgeMs: number;
  /** S5: a scope lock not renewed for this long is reclaimed. */
  readonly lockHeartbeatTimeoutMs: number;
  /** Server: on SIGTERM, how long running tasks may go on before they are cancelled. */
  readonly shutdownGraceMs: number;
  /** Server: the Prometheus endpoint on the --listen address. */
  readonly metrics: { readonly enabled: boolean; readonly protect: boolean };
}

export interface Site {
  readonly name: string;
  readonly description: string;
}

export type TargetKind = 'files' | 'command' | 'device' | 'postgres' | 'mariadb' | 'sqlite';

export interface FilesTarget {
  readonly kind: 'files';
  readonly name: string;
  readonly site: string | null;
  /** Units are named path sets. */
  readonly units: Readonly<Record<string, { readonly paths: readonly string[]; readonly exclude: readonly string[] }>>;
}

export interface CommandTarget {
  readonly kind: 'command';
  readonly name: string;
  readonly site: string | null;
  /** Prints unit names, one per line; absent: one unit named 'default'. */
  readonly listUnits: readonly string[] | null;
  /** Writes a unit's backup to stdout; SAFEHOLD_UNIT names the unit. */
  readonly backup: readonly string[];
  /** Reads a unit's backup from stdin. */
  readonly restore: readonly string[] | null;
  /** Exit 0 when the target is available; absent: always available. */
  readonly probe: readonly string[] | null;
  readonly timeoutMs: number;
  readonly env: Readonly<Record<string, Secret>>;
}

export interface DeviceTarget {
  readonly kind: 'device';
  readonly name: string;
  readonly site: string | null;
  readonly adapter:
    | { readonly type: 'http'; readonly url: string; readonly token: Secret | null; readonly timeoutMs: number }
    | {
        readonly type: 'command';
        readonly command: readonly string[];
        readonly timeoutMs: number;
        readonly env: Readonly<Record<string, Secret>>;
      };
}

/** A PostgreSQL or MariaDB server: its databases are the units. */
export interface ServerDbTarget {
  readonly kind: 'postgres' | 'mariadb';
  readonly name: string;
  readonly site: string | null;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: Secret | null;
  readonly databases: string;
  readonly exclude: readonly string[];
  readonly timeoutMs: number;
}

/** A directory of SQLite database files: each file is a unit. */
export interface SqliteTarget {
  readonly kind: 'sqlite';
  readonly name: string;
  readonly site: string | null;
  readonly dir: string;
  readonly files: string;
  readonly timeoutMs: number;
}

export type DatabaseTarget = ServerDbTarget | SqliteTarget;

export type Target = FilesTarget | CommandTarget | DeviceTarget | DatabaseTarget;

export interface RepositoryDestination {
  readonly type: 'repository';
  readonly name: string;
  /** Local path of the repository; for a remote one, its location with any credentials hidden (for messages). */
  readonly path: string;
  /** What the backend factory opens: the absolute path of a local repository, or the remote location (s3:…, sftp:…). */
  readonly location: string;
  /** The remote backend ('s3', 'sftp'); null for a local repository. */
  readonly remote: 's3' | 'sftp' | null;
  /** The backend factory's options (secrets resolved; shown and serialised redacted, never their values). */
  readonly backendOptions: BackendOptions;
  readonly password: Secret;
  /** S3 step 3: the path must be a mount point. */
  readonly requireMount: boolean;
  /** S3/S4 free-space threshold: bytes, or a fraction (0..1) of the file system. */
  readonly minFree: { readonly bytes: number } | { readonly fraction: number } | null;
  readonly site: string | null;
}

export interface DirectoryDestination {
  readonly type: 'directory';
  readonly name: string;
  /** Directory holding one generation set per unit. */
  readonly path: string;
  readonly generations: { readonly keep: number; readonly naming: 'old' | 'numbered' | 'timestamped' };
  readonly requireMount: boolean;
  readonly minFree: { readonly bytes: number } | { readonly fraction: number } | null;
  readonly site: string | null;
}

export type Destination = RepositoryDestination | DirectoryDestination;

export interface Hook {
  readonly name: string;
  readonly command: readonly string[];
  readonly timeoutMs: number;
  /** For pre hooks: whether a non-zero exit stops the plan run / fails the task. */
  readonly failOnError: boolean;
  /** Post hooks marked always run on failure and cancel too. */
  readonly always: boolean;
}

/** A maintenance window: cron-like minute sets, or day/time ranges, in a time zone. */
export type Window =
  | { readonly type: 'always' }
  | { readonly type: 'cron'; readonly expression: string; readonly timezone: string }
  | {
      readonly type: 'ranges';
      readonly timezone: string;
      readonly ranges: readonly { readonly days: readonly number[]; readonly from: string; readonly to: string }[];
    };

export type ActivityKind = 'backup' | 'export' | 'purge' | 'copy' | 'drill';

/** What a purge activity removes: old snapshots by the plan's retention (then prune), or source data by a command. */
export type PurgeSpec =
  | { readonly type: 'retention' }
  | { readonly type: 'command'; readonly command: readonly string[]; readonly timeoutMs: number }
  /** SQL run on a PostgreSQL or MariaDB server; `{unit}` in the URL is the task's unit. */
  | { readonly type: 'sql'; readonly sql: string; readonly database: Secret; readonly timeoutMs: number };

export interface Activity {
  readonly name: string;
  readonly kind: ActivityKind;
  /**
   * Globs on target names, e.g. ['QA*'], ['web', 'db']; a `group:NAME` as written is replaced by the
   * group's member targets. Empty for a group backup (`group`). Matched by activity-targets.ts.
   */
  readonly targets: readonly string[];
  /** Glob on unit names, e.g. 'DOMAIN*'; null: the whole target (device backup) or all units. */
  readonly units: string | null;
  readonly quiesce: boolean;
  readonly quiesceTimeoutMs: number;
  readonly preTask: Hook | null;
  readonly postTask: Hook | null;
  readonly tags: readonly string[];
  /** Purge activities: what to purge; null for other kinds. */
  readonly purge: PurgeSpec | null;
  /** Copy activities: the destination copied to; null for other kinds. */
  readonly to: string | null;
  /** Copy activities to a repository: the keep rules of the copies there (null: every copy is kept). */
  readonly retention: Retention | null;
  /** Overall limit of one task, ms. */
  readonly timeoutMs: number;
  /** A group backup: the consistency group's name (its members replace targets and units); null otherwise. */
  readonly group: string | null;
  /** A pattern (or a target's own filter) matching nothing is not a failure: that part is left out. */
  readonly allowEmpty: boolean;
}

export type GroupMode = 'quiesced' | 'physical' | 'independent';

/** A consistency group (S6): members backed up and restored together. */
export interface Group {
  readonly name: string;
  readonly mode: GroupMode;
  /** Targets and their units (null: every unit). */
  readonly members: readonly { readonly target: string; readonly units: readonly string[] | null }[];
  readonly stop: Hook | null;
  readonly start: Hook | null;
  readonly check: Hook | null;
  readonly cleanup: Hook | null;
}

/** A safe restore of a group (S7). */
export interface RestorePlan {
  readonly name: string;
  readonly group: string;
  readonly from: string;
  readonly snapshot: string;
  readonly safetyBackup: boolean;
  readonly intoSuffix: string | null;
  readonly filesTo: string | null;
}

export interface RetryPolicy {
  readonly intervalMs: number;
  readonly maxDurationMs: number;
}

/** A plan's retention rules: the engine's policy shape (engine/maintenance/retention.ts), null = rule not set. */
export type Retention = RetentionPolicy;

export interface Plan {
  readonly name: string;
  readonly description: string;
  readonly activities: readonly Activity[];
  /** Cron expression for scheduled runs (server, later issue); null: on demand only. */
  readonly schedule: { readonly cron: string; readonly timezone: string } | null;
  readonly window: Window;
  readonly destination: string;
  readonly retry: {
    readonly scheduled: RetryPolicy;
    readonly purge: RetryPolicy;
    readonly onDemand: RetryPolicy | null;
  };
  /** Overall limit of one run once its locks are held, ms. */
  readonly timeoutMs: number;
  readonly retention: Retention | null;
  readonly prePlan: Hook | null;
  readonly postPlan: Hook | null;
  /** The protection rules of this plan's units: the global ones with the plan's overrides (absent: built in code, the defaults). */
  readonly protection?: ProtectionRules;
}

/** Rules every unit a plan backs up must meet (docs/protection.md). */
export interface ProtectionRules {
  /** Destinations holding at least one copy. */
  readonly minCopies: number;
  /** Distinct sites among those destinations. */
  readonly minSites: number;
  /** The newest copy at most this old, ms; null: not checked. */
  readonly rpoMs: number | null;
  /** A passed restore drill within this, ms; null: not checked. */
  readonly drillWithinMs: number | null;
}

/** The `protection:` section compiled. */
export interface ProtectionConfig {
  /** The file has a `protection:` section. */
  readonly configured: boolean;
  /** The server evaluates the report periodically (a `protection:` section or any site is configured). */
  readonly monitored: boolean;
  readonly checkEveryMs: number;
  /** The global rules (defaults applied). */
  readonly rules: ProtectionRules;
}

/** Alert channels (S9) as configured; the alerts layer turns them into deliveries. */
export type AlertChannelConfig = {
  readonly name: string;
  readonly events: readonly string[] | null;
  /** Alerts less severe than this are kept off the channel; null: every severity. */
  readonly minSeverity: Severity | null;
} & (
  | {
      readonly type: 'webhook';
      readonly url: string;
      readonly secret: Secret | null;
      readonly headers: Readonly<Record<string, Secret>>;
      readonly retryDelaysMs: readonly number[] | null;
      readonly timeoutMs: number | null;
    }
  | {
      readonly type: 'email';
      readonly host: string;
      readonly port: number | null;
      readonly secure: boolean;
      readonly startTls: 'required' | 'opportunistic' | 'never';
      readonly user: string | null;
      readonly password: Secret | null;
      readonly from: string;
      readonly to: readonly string[];
      readonly subjectPrefix: string | null;
      readonly retryDelaysMs: readonly number[] | null;
      readonly timeoutMs: number | null;
    }
  | {
      readonly type: 'snmp';
      readonly host: string;
      readonly port: number;
      readonly community: Secret;
      readonly timeoutMs: number | null;
    }
  | {
      readonly type: 'command';
      readonly command: readonly string[];
      readonly env: Readonly<Record<string, Secret>>;
      readonly timeoutMs: number | null;
    }
  | {
      readonly type: 'healthchecks';
      /** The check's ping URL (a secret). */
      readonly url: Secret;
      /** Runs of these plans only; null: every plan. */
      readonly plans: readonly string[] | null;
      readonly retryDelaysMs: readonly number[] | null;
      readonly timeoutMs: number | null;
    }
  | {
      readonly type: 'ntfy';
      /** Server and topic (a secret: on a public server the topic is the key). */
      readonly url: Secret;
      readonly token: Secret | null;
      readonly retryDelaysMs: readonly number[] | null;
      readonly timeoutMs: number | null;
    }
  | {
      readonly type: 'chat';
      readonly format: 'slack' | 'discord' | 'matrix';
      /** The incoming webhook's URL (a secret). */
      readonly url: Secret;
      readonly retryDelaysMs: readonly number[] | null;
      readonly timeoutMs: number | null;
    }
);

export interface Config {
  /** Absolute path of the file this came from. */
  readonly file: string;
  /** sha256 (hex) of the file's text as loaded (generation.ts); absent for a configuration built in code. */
  readonly hash?: string;
  readonly settings: Settings;
  readonly sites: Readonly<Record<string, Site>>;
  readonly targets: Readonly<Record<string, Target>>;
  readonly destinations: Readonly<Record<string, Destination>>;
  readonly plans: Readonly<Record<string, Plan>>;
  readonly alerts: readonly AlertChannelConfig[];
  readonly groups: Readonly<Record<string, Group>>;
  readonly restorePlans: Readonly<Record<string, RestorePlan>>;
  /** The protection report's rules (absent: built in code, the defaults). */
  readonly protection?: ProtectionConfig;
  /** Runbooks (the file's `runbooks:` and runbooks/*.yaml beside it), by name. */
  readonly runbooks: Readonly<Record<string, Runbook>>;
}

/** A role of the console/API users; approvals name the least role that may give them. */
export type RunbookRole = 'viewer' | 'operator' | 'admin';

/**
 * A condition checked before a step (preconditions), polled by wait-until, or
 * a step's `when:`. `that` is an expression (docs/runbooks.md): without a check
 * it stands alone; with one, it may use the check's results (${value},
 * ${rowCount}, ${row.COL}, ${exitCode}, ${stdout}, ${status}, ${body.KEY}).
 * Strings may hold placeholders, resolved when the condition is evaluated.
 */
export type RunbookCondition =
  | { readonly type: 'that'; readonly that: string }
  | {
      readonly type: 'sql';
      readonly sql: string;
      /** The database's URL; '' when `target` names a configured PostgreSQL or MariaDB target instead. */
      readonly url: string;
      readonly target: string | null;
      /** With `target`: the database (default: postgres on PostgreSQL, none on MariaDB). */
      readonly database: string | null;
      readonly that: string | null;
    }
  | { readonly type: 'command'; readonly argv: readonly string[]; readonly that: string | null }
  | { readonly type: 'http'; readonly url: string; readonly that: string | null };

export interface RunbookStep {
  readonly name: string;
  /** The step kind: 'command', 'sql', 'pg.promote', … (src/config/runbook-params.ts lists them). */
  readonly kind: string;
  readonly description: string;
  /** The kind's parameters as written (validated by runbook-params.ts); strings may hold placeholders. */
  readonly params: Readonly<Record<string, unknown>>;
  /** null: no limit (approval steps by default). */
  readonly timeoutMs: number | null;
  readonly retries: { readonly attempts: number; readonly backoffMs: number };
  /** null: the kind's default. */
  readonly idempotent: boolean | null;
  readonly onFailure: 'stop' | 'continue' | 'rollback';
  /** Names of rollbackSteps run in order when this step fails with onFailure: rollback. */
  readonly rollback: readonly string[];
  readonly preconditions: readonly RunbookCondition[];
  /** The step runs only when this expression holds (else it is skipped); null: always. */
  readonly when: string | null;
  /** file:line of the step, for messages. */
  readonly source: string;
}

export interface RunbookVar {
  readonly name: string;
  /** null: required (--var NAME=VALUE). */
  readonly default: string | null;
  readonly description: string;
}

export interface Runbook {
  readonly name: string;
  readonly description: string;
  /** Starting it (and approving its steps) needs the typed confirmation of its name. */
  readonly destructive: boolean;
  readonly vars: Readonly<Record<string, RunbookVar>>;
  readonly steps: readonly RunbookStep[];
  readonly rollbackSteps: Readonly<Record<string, RunbookStep>>;
  /** file:line where it is defined. */
  readonly source: string;
}
