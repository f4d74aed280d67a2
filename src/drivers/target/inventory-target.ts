// What the expansion of a plan's activities needs of a target: its name and
// kind, a live probe and its units. PlanTarget (targets.ts) is the full one.

import type { TargetKind } from '../../config/types.ts';

export interface InventoryTarget {
  readonly name: string;
  readonly kind: TargetKind;
  /** Live availability; must not throw (false on failure). */
  available(): Promise<boolean>;
  listUnits(): Promise<string[]>;
}
