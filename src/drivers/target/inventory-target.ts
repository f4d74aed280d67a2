// What the expansion of a plan's activities needs of a target: its name and
// kind, a live probe and its units. PlanTarget (targets.ts) is the full one.

import type { TargetKind } from '../../config/types.ts';
import type { Availability } from '../availability.ts';

export interface InventoryTarget {
  readonly name: string;
  readonly kind: TargetKind;
  /** Live availability, with the cause when unavailable; must not throw. */
  available(): Promise<Availability>;
  listUnits(): Promise<string[]>;
}
