// Ceph's radosgw as the real S3 server of the tests: a single-node cluster
// started without systemd under a temporary directory: one monitor on
// 127.0.0.1 (a free msgr2 port, auth none), one OSD on memstore (pools of
// size 1), radosgw's beast frontend on a free port, a user with a fixed
// access key and secret, and one bucket. Start it once per test file
// (`before`), stop it in `after`: the daemons are stopped by PID and the
// directory removed. Each daemon also gets SIGKILL if the test process dies
// (setpriv --pdeathsig), so a crashed test leaves nothing running.
//
// Gotcha: radosgw needs `ms mon client mode = crc` in its section, or it
// loops forever on "get_initial_auth_request returned -13".

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const NEEDED = ['radosgw', 'radosgw-admin', 'ceph-mon', 'ceph-osd', 'monmaptool', 'ceph'];
const BIN = '/usr/bin';
const SETPRIV = '/usr/bin/setpriv';
const START_TIMEOUT_MS = 120_000;

export const RGW_ACCESS_KEY = 'SAFEHOLDTESTACCESSKEY';
export const RGW_SECRET_KEY = 'safehold-test-secret-7f3a9c2e1b';
export const RGW_REGION = 'us-east-1';

/** Why radosgw tests cannot run here (a binary is missing), or undefined when they can. */
export function radosgwMissing(): string | undefined {
  const missing = NEEDED.filter((b) => !fs.existsSync(path.join(BIN, b)));
  if (missing.length === 0) return undefined;
  return `Ceph's ${missing.join(', ')} not installed (apt-get install radosgw ceph-mon ceph-osd, or scripts/test-deps.sh as root)`;
}

export interface Radosgw {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Milliseconds from start to a ready bucket. */
  startMs: number;
  /** An s3: location in the test bucket under `prefix`. */
  location(prefix: string): string;
  /** radosgw's log: with `requestLog`, one `beast:` access line per request (bench/remote.sh counts them). */
  logFile: string;
  stop(): Promise<void>;
}

export interface RadosgwOptions {
  /** Log every request radosgw serves (`debug rgw = 1`: a `beast:` access line each). */
  requestLog?: boolean;
}

export async function startRadosgw(bucket = 'safehold-test', opts: RadosgwOptions = {}): Promise<Radosgw> {
  const missing = radosgwMissing();
  if (missing) throw new Error(missing);
  const t0 = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-rgw-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children.reverse()) await stopChild(c);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [monPort, rgwPort] = await freePorts(2);
    const conf = writeConf(dir, monPort!, rgwPort!, opts.requestLog === true);
    const c = ['-c', conf];
    const fsid = fs.readFileSync(path.join(dir, 'fsid'), 'utf8');
    const osdUuid = randomUUID();
    await run(`${BIN}/monmaptool`, [
      '--create',
      '--fsid',
      fsid,
      '--addv',
      'a',
      `[v2:127.0.0.1:${monPort}]`,
      `${dir}/monmap`,
    ]);
    await run(`${BIN}/ceph-mon`, [...c, '--mkfs', '-i', 'a', '--monmap', `${dir}/monmap`]);
    children.push(daemon(dir, 'ceph-mon', [...c, '-f', '-i', 'a']));
    const osdMkfs = run(`${BIN}/ceph-osd`, [...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    await run(`${BIN}/ceph`, [...c, '--connect-timeout', '30', 'osd', 'new', osdUuid]);
    await osdMkfs;
    children.push(daemon(dir, 'ceph-osd', [...c, '-f', '-i', '0']));
    children.push(daemon(dir, 'radosgw', [...c, '-f', '-n', 'client.rgw']));
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitHttp(endpoint, children, dir);
    await run(`${BIN}/radosgw-admin`, [
      ...c,
      'user',
      'create',
      '--uid',
      'safehold',
      '--display-name',
      'safehold tests',
      '--access-key',
      RGW_ACCESS_KEY,
      '--secret',
      RGW_SECRET_KEY,
    ]);
    await createBucket(endpoint, bucket);
    return {
      endpoint,
      bucket,
      accessKeyId: RGW_ACCESS_KEY,
      secretAccessKey: RGW_SECRET_KEY,
      region: RGW_REGION,
      startMs: Date.now() - t0,
      location: (prefix) => `s3:${endpoint}/${bucket}/${prefix}`,
      logFile: path.join(dir, 'log', 'client.rgw.log'),
      stop,
    };
  } catch (e) {
    const logs = logTails(dir);
    await stop();
    throw new Error(`radosgw did not start: ${e instanceof Error ? e.message : String(e)}\n${logs}`);
  }
}

function writeConf(dir: string, monPort: number, rgwPort: number, requestLog: boolean): string {
  for (const d of ['mon', 'osd/ceph-0', 'run', 'log', 'rgw']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const fsid = randomUUID();
  fs.writeFileSync(path.join(dir, 'fsid'), fsid);
  const conf = path.join(dir, 'ceph.conf');
  // paxos intervals: each monitor command (one per pool radosgw creates) commits in ms, not 1 s.
  fs.writeFileSync(
    conf,
    `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${monPort}]
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
ms bind msgr1 = false
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
paxos propose interval = 0.01
paxos min wait = 0.001
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 1
osd pool default pgp num = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 4294967296
mon data = ${dir}/mon/$cluster-$id
osd data = ${dir}/osd/$cluster-$id
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log

[client.rgw]
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw data = ${dir}/rgw
${requestLog ? 'debug rgw = 1\n' : ''}`,
  );
  return conf;
}

/** Starts a daemon in the foreground, its output to log/<name>.out, killed if this process dies. */
function daemon(dir: string, name: string, args: string[]): ChildProcess {
  const out = fs.openSync(path.join(dir, 'log', `${name}.out`), 'a');
  const bin = `${BIN}/${name}`;
  const [cmd, argv] = fs.existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', bin, ...args]] : [bin, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', out, out], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  fs.closeSync(out);
  child.on('error', () => {});
  return child;
}

async function waitHttp(endpoint: string, children: ChildProcess[], dir: string): Promise<void> {
  const end = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead) throw new Error(`${dead.spawnargs.join(' ')} exited (${dead.exitCode ?? dead.signalCode})`);
    try {
      const res = await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`no answer from ${endpoint} after ${START_TIMEOUT_MS} ms (logs in ${dir})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function createBucket(endpoint: string, bucket: string): Promise<void> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint,
    region: RGW_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: RGW_ACCESS_KEY, secretAccessKey: RGW_SECRET_KEY },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
  const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
  process.kill(c.pid, 'SIGTERM');
  const timer = setTimeout(() => c.pid !== undefined && c.exitCode === null && process.kill(c.pid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => net.createServer());
  return Promise.all(
    servers.map(
      (s) =>
        new Promise<number>((resolve, reject) => {
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve((s.address() as net.AddressInfo).port));
        }),
    ),
  ).finally(() => {
    for (const s of servers) s.close();
  });
}

/** The last lines of each daemon's log, for a failed start. */
function logTails(dir: string): string {
  const logDir = path.join(dir, 'log');
  if (!fs.existsSync(logDir)) return '';
  return fs
    .readdirSync(logDir)
    .map((f) => {
      const lines = fs.readFileSync(path.join(logDir, f), 'utf8').trim().split('\n').slice(-5);
      return `--- ${f}\n${lines.join('\n')}`;
    })
    .join('\n');
}
