// The one place that reads and writes the tags Safehold puts on a plan's
// snapshots: `plan:NAME`, `target:NAME`, `unit:NAME` (absent for a whole
// target), `run:ID` (the first run of a retry chain), `state:S` (a device
// unit's persisted or running state), `group:NAME` and `safety` (a safety
// backup taken before a restore). Also the one parser of the tag lists the
// CLI takes (`--tag a,b`), and the one test of a snapshot against them.

/** What a snapshot's tags say of where it came from. */
export interface SnapshotOrigin {
  plan: string | null;
  target: string | null;
  unit: string | null;
  run: string | null;
}

/** The value of the first `key:value` tag, or null. */
export function tagValue(tags: readonly string[], key: string): string | null {
  const prefix = `${key}:`;
  return tags.find((t) => t.startsWith(prefix))?.slice(prefix.length) ?? null;
}

export function originOf(s: { tags: readonly string[] }): SnapshotOrigin {
  return {
    plan: tagValue(s.tags, 'plan'),
    target: tagValue(s.tags, 'target'),
    unit: tagValue(s.tags, 'unit'),
    run: tagValue(s.tags, 'run'),
  };
}

/** The tags naming a target and, when given, its unit. */
export function unitTags(target: string, unit: string | null): string[] {
  return [`target:${target}`, ...(unit !== null ? [`unit:${unit}`] : [])];
}

/** The tag of the snapshots of a consistency group's backup (plan runs and safety backups alike). */
export function groupTag(group: string): string {
  return `group:${group}`;
}

/** Whether a snapshot is of this target's unit (unit null: of the whole target, no unit tag). */
export function isOfUnit(s: { tags: readonly string[] }, target: string, unit: string | null): boolean {
  return tagValue(s.tags, 'target') === target && tagValue(s.tags, 'unit') === unit;
}

/** Whether a snapshot is a safety backup taken before a restore. */
export function isSafetyBackup(s: { tags: readonly string[] }): boolean {
  return s.tags.includes('safety');
}

/** Tags Safehold itself reads (plan retention, unit restores, safety backups): `plan:`, `target:`, ... and `safety`. */
export function isSystemTag(tag: string): boolean {
  return tag === 'safety' || /^(plan|target|unit|run|state|group):/.test(tag);
}

/**
 * One `--tag` value as a list: comma-separated, each tag trimmed, empty ones
 * dropped ('a,b' is the list [a, b]).
 */
export function parseTagList(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

/** Every `--tag` value as a list (parseTagList); lists that come out empty are dropped. */
export function parseTagLists(values: readonly string[]): string[][] {
  return values.map(parseTagList).filter((l) => l.length > 0);
}

/** Whether a snapshot has every tag of at least one list (true when there are no lists). */
export function hasTagLists(s: { tags: readonly string[] }, lists: readonly (readonly string[])[]): boolean {
  return lists.length === 0 || lists.some((l) => l.every((t) => s.tags.includes(t)));
}
