// docs/safehold.schema.json is generated from the zod schema: the committed
// file must equal what scripts/gen-config-schema.ts writes now, and it must
// describe the file's shape (strict maps, formats) for editors.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SCHEMA_FILE, renderConfigJsonSchema } from './json-schema.ts';

const committed = path.resolve(import.meta.dirname, '..', '..', SCHEMA_FILE);

describe('JSON Schema of safehold.yaml', () => {
  it('the committed docs/safehold.schema.json is up to date (run scripts/gen-config-schema.ts)', () => {
    assert.equal(fs.readFileSync(committed, 'utf8'), renderConfigJsonSchema());
  });

  it('describes the sections, strict maps and value formats', () => {
    const s = JSON.parse(renderConfigJsonSchema());
    assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.deepEqual(Object.keys(s.properties), [
      'settings',
      'sites',
      'targets',
      'destinations',
      'hooks',
      'plans',
      'alerts',
      'groups',
      'restorePlans',
      'runbooks',
      'protection',
    ]);
    assert.equal(s.additionalProperties, false);
    const plan = s.properties.plans.additionalProperties;
    assert.deepEqual(plan.required, ['destination', 'activities']);
    assert.equal(plan.additionalProperties, false);
    assert.equal(plan.properties.activities.minItems, 1);
    assert.deepEqual(plan.properties.activities.items.properties.kind.enum, [
      'backup',
      'export',
      'purge',
      'copy',
      'drill',
    ]);
    assert.match(s.properties.settings.properties.quiesceGrace.pattern, /ms\|s\|m\|h\|d/);
    const kinds = s.properties.targets.additionalProperties.oneOf.map(
      (o: { properties: { kind: { const: string } } }) => o.properties.kind.const,
    );
    assert.deepEqual(kinds, ['files', 'command', 'device', 'postgres', 'mariadb', 'sqlite']);
  });
});
