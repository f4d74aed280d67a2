// Physical backups for consistency groups in 'physical' mode: the whole
// PostgreSQL server of a target at one instant (pg_basebackup), online.

import type { PlanTarget } from '../../drivers/target/targets.ts';
import { SafeholdError } from '../../core/errors.ts';
import { physicalBackup } from '../../drivers/db/postgres-physical.ts';
import type { PhysicalBackup } from '../../drivers/db/postgres-physical.ts';

export async function physicalBackupOf(target: PlanTarget, signal: AbortSignal): Promise<PhysicalBackup> {
  const t = target.config;
  if (t.kind !== 'postgres')
    throw new SafeholdError('CONFIG', `${target.name}: a physical backup needs a postgres target`);
  return physicalBackup(
    {
      name: t.name,
      host: t.host,
      port: t.port,
      user: t.user,
      password: t.password?.value ?? null,
      timeoutMs: t.timeoutMs,
    },
    { signal },
  );
}
