// The compiled configuration as a JSON-safe document for display
// (`safehold config show --json`): every Secret becomes "***(env:NAME)",
// "***(file:PATH)" or "***(inline)"; no secret value is ever included.

import { isSecret, redactedSecret } from './secrets.ts';
import type { Config } from './types.ts';

export type Redacted = string | number | boolean | null | Redacted[] | { [k: string]: Redacted };

export function redactConfig(c: Config): Redacted {
  return redact(c);
}

function redact(v: unknown): Redacted {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map(redact);
  if (typeof v === 'object') {
    if (isSecret(v)) return redactedSecret(v);
    // An object that hides some of its fields (secrets.ts hideFields) is shown as it shows itself.
    if (Object.hasOwn(v, 'toJSON')) return redact((v as { toJSON(): unknown }).toJSON());
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(x)]));
  }
  return null;
}
