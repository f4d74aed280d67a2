// The quickstart: backs up this checkout's src/ and docs/ into a local
// repository, restores the snapshot elsewhere, verifies every restored file
// byte for byte, checks the repository reading all data, and lists what was
// recorded. Everything lives under .data/quickstart/ (delete it to start over).

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const base = path.join(root, '.data', 'quickstart');
const repo = path.join(base, 'repository');
const restoreDir = path.join(base, 'restore');
const passwordFile = path.join(base, 'password');
const sources = [path.join(root, 'src'), path.join(root, 'docs')];

const env: NodeJS.ProcessEnv = {
  ...process.env,
  SAFEHOLD_REPOSITORY: repo,
  SAFEHOLD_PASSWORD_FILE: passwordFile,
  SAFEHOLD_DATA_DIR: path.join(base, 'data'),
};
delete env.SAFEHOLD_PASSWORD;

function safehold(args: string[], opts: { json?: boolean; allow?: number[] } = {}): unknown {
  const shown = `safehold ${args.join(' ')}`.replaceAll(`${root}/`, '');
  console.log(`\n$ ${shown}`);
  const r = spawnSync(path.join(root, 'safehold'), opts.json ? [...args, '--json'] : args, {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (!(opts.allow ?? [0]).includes(r.status ?? -1)) {
    process.stdout.write(r.stdout);
    throw new Error(`${shown} exited with ${r.status}`);
  }
  if (opts.json) return JSON.parse(r.stdout);
  process.stdout.write(r.stdout);
  return null;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function sha(p: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

fs.mkdirSync(base, { recursive: true, mode: 0o700 });
if (!fs.existsSync(passwordFile)) {
  fs.writeFileSync(passwordFile, `${crypto.randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  console.log(`A random repository password was written to ${path.relative(root, passwordFile)} (mode 0600).`);
}
if (!fs.existsSync(path.join(repo, 'config'))) safehold(['init']);

safehold(['backup', ...sources, '--tag', 'quickstart']);
const snaps = safehold(['snapshots'], { json: true }) as { id: string }[];
console.log(`${snaps.length} snapshot(s) in the repository; the newest is ${snaps.at(-1)!.id.slice(0, 8)}`);

fs.rmSync(restoreDir, { recursive: true, force: true });
safehold(['restore', 'latest', '--target', restoreDir]);

let files = 0;
let bytes = 0;
for (const src of sources) {
  for (const f of walk(src)) {
    const restored = path.join(restoreDir, f);
    if (!fs.existsSync(restored) || sha(f) !== sha(restored)) throw new Error(`restored copy of ${f} differs`);
    files++;
    bytes += fs.statSync(f).size;
  }
}
console.log(`\nverified: ${files} restored files (${bytes} bytes) are byte-identical to the originals`);

safehold(['check', '--read-data']);
safehold(['runs', '--limit', '5']);
console.log(
  `\nDone. Repository: ${path.relative(root, repo)}; catalog: ${path.relative(root, env.SAFEHOLD_DATA_DIR!)}.`,
);
console.log(
  `Try: SAFEHOLD_REPOSITORY=${path.relative(root, repo)} SAFEHOLD_PASSWORD_FILE=${path.relative(root, passwordFile)} ./safehold snapshots`,
);
