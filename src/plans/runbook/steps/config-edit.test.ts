// The config-edit step on real INI, YAML and JSON files: dotted keys set and
// removed, comments and order kept, a FILE.bak-<time> copy of the original,
// the new file renamed into place (new inode, same mode, no temporary file
// left), nothing written when the file is already as wanted, and plan()
// showing old → new without touching the file.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../core/clock.ts';
import type { Config } from '../../../config/types.ts';
import type { ConfigEditParams } from '../../../config/runbook-params.ts';
import type { StepContext } from '../step-kind.ts';
import { configEditStep } from './config-edit.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cfgedit-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const clock = new ManualClock(Date.UTC(2026, 11, 5, 12, 0, 0));

function ctx(): StepContext {
  return {
    runId: 'r1',
    runbook: 'rb',
    step: 'edit',
    attempt: 1,
    signal: new AbortController().signal,
    clock,
    config: { file: path.join(root, 'safehold.yaml') } as Config,
    catalog: null as never,
    log: () => {},
    alert: async () => {},
  };
}

function file(name: string, text: string, mode = 0o640): string {
  const f = path.join(root, name);
  fs.writeFileSync(f, text);
  fs.chmodSync(f, mode);
  return f;
}

async function edit(p: ConfigEditParams) {
  clock.set(clock.now() + 1000);
  return configEditStep.run(p, ctx());
}

describe('config-edit', () => {
  it('edits an INI file: a key in a section, a new key and section, a removal; comments kept', async () => {
    const f = file(
      'app.ini',
      '; reporting app\nhost = site1.example\n\n[scheduler]\nrun-scheduler = true\n# nightly\nrun-aggregates: true\n\n[db]\nurl = postgres://site1/app\n',
    );
    const ino = fs.statSync(f).ino;
    const plan = await configEditStep.plan({ file: 'app.ini', set: { host: 'site2.example' } }, ctx());
    assert.deepEqual(plan, [`${f}: host: "site1.example" → "site2.example"`]);
    const out = await edit({
      file: 'app.ini',
      set: { host: 'site2.example', 'scheduler.run-scheduler': false, 'db.pool': 5, 'new.key': 'v' },
      remove: ['scheduler.run-aggregates'],
    });
    assert.equal(out.changed, true);
    assert.equal(out.changes, 5);
    assert.equal(
      fs.readFileSync(f, 'utf8'),
      '; reporting app\nhost = site2.example\n\n[scheduler]\nrun-scheduler = false\n# nightly\n\n[db]\nurl = postgres://site1/app\npool = 5\n\n[new]\nkey = v\n',
    );
    const backup = out.backupFile as string;
    assert.equal(path.dirname(backup), root);
    assert.match(path.basename(backup), /^app\.ini\.bak-20261205T120001\.000Z$/);
    assert.match(fs.readFileSync(backup, 'utf8'), /host = site1\.example/);
    const st = fs.statSync(f);
    assert.notEqual(st.ino, ino, 'replaced by rename');
    assert.equal(st.mode & 0o777, 0o640, 'mode kept');
    assert.deepEqual(
      fs.readdirSync(root).filter((n) => n.includes('.tmp-')),
      [],
    );
  });

  it('edits YAML keeping comments, nested by dotted keys', async () => {
    const f = file('app.yaml', '# app config\nhost: site1 # primary\ndb:\n  port: 5432\n  user: app\n');
    const out = await edit({
      file: f,
      set: { host: 'site2', 'db.port': 55432, 'jobs.enabled': false },
      remove: ['db.user'],
    });
    assert.equal(out.changed, true);
    assert.equal(
      fs.readFileSync(f, 'utf8'),
      '# app config\nhost: site2 # primary\ndb:\n  port: 55432\njobs:\n  enabled: false\n',
    );
  });

  it('edits JSON (indent kept) and, run again, changes nothing and keeps no new backup', async () => {
    const f = file('app.json', '{\n    "host": "site1",\n    "opts": { "scheduler": true }\n}\n');
    const first = await edit({ file: f, set: { host: 'site2', 'opts.scheduler': false } });
    assert.equal(first.changed, true);
    assert.deepEqual(JSON.parse(fs.readFileSync(f, 'utf8')), { host: 'site2', opts: { scheduler: false } });
    assert.match(fs.readFileSync(f, 'utf8'), /^\{\n {4}"host"/);
    const backups = () => fs.readdirSync(root).filter((n) => n.startsWith('app.json.bak-'));
    assert.equal(backups().length, 1);
    const again = await edit({ file: f, set: { host: 'site2', 'opts.scheduler': false } });
    assert.deepEqual(again, { changed: false, backupFile: '', changes: 0 });
    assert.equal(backups().length, 1);
    assert.deepEqual(await configEditStep.plan({ file: f, set: { host: 'site2' } }, ctx()), [
      `${f}: no change (already as wanted)`,
    ]);
  });

  it('takes the format when the extension does not tell, and fails clearly on a bad file', async () => {
    const f = file('app.conf.txt', 'a = 1\n');
    await assert.rejects(edit({ file: f, set: { a: 2 } }), /cannot tell the format/);
    await edit({ file: f, format: 'ini', set: { a: 2 } });
    assert.equal(fs.readFileSync(f, 'utf8'), 'a = 2\n');
    const bad = file('bad.json', '{ nope');
    await assert.rejects(edit({ file: bad, set: { a: 1 } }), /not valid JSON/);
    assert.equal(fs.readFileSync(bad, 'utf8'), '{ nope');
    await assert.rejects(edit({ file: path.join(root, 'missing.ini'), set: { a: 1 } }), /cannot read/);
  });
});
