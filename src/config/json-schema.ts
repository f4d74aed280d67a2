// The JSON Schema of safehold.yaml, generated from the zod schema, for
// editors (e.g. the YAML language server: `# yaml-language-server:
// $schema=docs/safehold.schema.json`). scripts/gen-config-schema.ts writes it
// to docs/safehold.schema.json; a test keeps that file up to date. Checks the
// JSON Schema cannot express (cron syntax, time zones, references between
// sections) are made by `safehold config validate`.

import { z } from 'zod';
import { configSchema } from './schema.ts';

export const SCHEMA_FILE = 'docs/safehold.schema.json';

export function renderConfigJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { target: 'draft-2020-12', unrepresentable: 'throw' });
  const doc = {
    $schema: schema.$schema,
    title: 'safehold.yaml',
    description:
      'Configuration of Safehold: settings, sites, targets, destinations, hooks and plans (docs/configuration.md).',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
