// Real local PostgreSQL clusters for the HA tests: one initdb (data checksums
// on, so pg_rewind works; or off with wal_log_hints off, for the rebuild
// case), then streaming standbys made with pg_basebackup -R, each on a free
// loopback port with its Unix socket in a private directory. Nodes start,
// stop (fast/immediate) and die (kill -9 of the postmaster); remove() stops
// everything and deletes the directory. As root every server program runs
// as the `postgres` OS user. Create once per test file: initdb ~1 s, each
// standby ~1 s.

import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { isRunning, setAutoConf, startServer, stopServer } from '../../src/drivers/pg-ha/data-dir.ts';
import { pgBinDir, runPgOrThrow } from '../../src/drivers/pg-ha/pg-bin.ts';

export interface PgClusterOptions {
  /** Standbys of the first node (default 1). */
  readonly standbys?: number;
  /** Data checksums (default true); false leaves pg_rewind without checksums or wal_log_hints. */
  readonly checksums?: boolean;
  /** synchronous_standby_names = '*' on the primary. */
  readonly sync?: boolean;
  /** More postgresql.conf lines for every node (e.g. archive_mode, archive_command). */
  readonly extraSettings?: readonly string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** One server of the set. */
export class PgNode {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  readonly url: string;

  constructor(name: string, port: number, dataDir: string) {
    this.name = name;
    this.port = port;
    this.dataDir = dataDir;
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  async start(): Promise<void> {
    // After a kill -9 the old backends may take a moment to go, holding the shared memory.
    for (let i = 0; ; i++) {
      try {
        return await startServer(this.dataDir, { port: this.port, waitSeconds: 30 });
      } catch (e) {
        if (i >= 10) throw e;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await stopServer(this.dataDir, mode);
  }

  running(): Promise<boolean> {
    return isRunning(this.dataDir);
  }

  /** kill -9 of the postmaster; resolves once it is gone. */
  async kill9(): Promise<number> {
    const pid = Number((await fsp.readFile(path.join(this.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        return pid;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async sql<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]> {
    const c = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000 });
    c.on('error', () => {});
    await c.connect();
    try {
      return (await c.query(text, values)).rows as T[];
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** The current WAL position (primary) or replay position (standby). */
  async lsn(): Promise<string> {
    const [r] = await this.sql<{ l: string }>(
      'SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS l',
    );
    return r!.l;
  }
}

export class PgClusters {
  readonly root: string;
  readonly nodes: PgNode[];

  constructor(root: string, nodes: PgNode[]) {
    this.root = root;
    this.nodes = nodes;
  }

  /** Stops every server (immediate) and removes the directory. */
  async remove(): Promise<void> {
    for (const n of this.nodes) await n.stop('immediate').catch(() => {});
    await fsp.rm(this.root, { recursive: true, force: true });
  }
}

async function ownedDir(dir: string): Promise<string> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  if (process.getuid?.() === 0) await runPgOrThrow(['chown', '-R', 'postgres:postgres', dir], 'chown');
  return dir;
}

function settings(sock: string, o: PgClusterOptions): string {
  const lines = [
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${sock}'`,
    'wal_level = replica',
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    'hot_standby = on',
    "wal_keep_size = '256MB'",
    'max_connections = 30',
    "shared_buffers = '16MB'",
    'fsync = off',
    'wal_receiver_status_interval = 1s',
    'wal_retrieve_retry_interval = 1s',
  ];
  if (o.sync) lines.push("synchronous_standby_names = '*'");
  lines.push(...(o.extraSettings ?? []));
  return `\n# pg-cluster test helper\n${lines.join('\n')}\n`;
}

/** Waits until the primary has `n` streaming standbys (and, with `sync`, one synchronous). */
async function waitStreaming(primary: PgNode, n: number, sync: boolean): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    const [r] = await primary.sql<{ c: number; s: number }>(
      `SELECT count(*)::int AS c, count(*) FILTER (WHERE sync_state = 'sync')::int AS s
         FROM pg_stat_replication WHERE state = 'streaming'`,
    );
    if (r!.c >= n && (!sync || n === 0 || r!.s > 0)) return;
    if (Date.now() > end) throw new Error(`only ${r!.c} of ${n} standbys stream from ${primary.name}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A primary (nodes[0]) and its streaming standbys (nodes[1..]). */
export async function createPgClusters(o: PgClusterOptions = {}): Promise<PgClusters> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'shtest-pgha-'));
  await fsp.chmod(root, 0o755);
  const sock = await ownedDir(path.join(root, 'sock'));
  const bin = pgBinDir('15');
  const nodes: PgNode[] = [];
  const clusters = new PgClusters(root, nodes);
  try {
    const primary = new PgNode('n0', await freePort(), path.join(await ownedDir(path.join(root, 'n0')), 'data'));
    nodes.push(primary);
    const initdb = [
      path.join(bin, 'initdb'),
      '-D',
      primary.dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-N',
      '-E',
      'UTF8',
    ];
    if (o.checksums !== false) initdb.push('--data-checksums');
    await runPgOrThrow(initdb, 'initdb', { asOwnerOf: path.dirname(primary.dataDir) });
    await fsp.appendFile(path.join(primary.dataDir, 'postgresql.conf'), settings(sock, o));
    await setAutoConf(primary.dataDir, { port: primary.port });
    await primary.start();
    for (let i = 1; i <= (o.standbys ?? 1); i++) {
      const node = new PgNode(`n${i}`, await freePort(), path.join(await ownedDir(path.join(root, `n${i}`)), 'data'));
      nodes.push(node);
      const argv = [path.join(bin, 'pg_basebackup'), '-D', node.dataDir, '-R', '-X', 'stream', '-c', 'fast'];
      argv.push('-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '--no-password');
      await runPgOrThrow(argv, `pg_basebackup for ${node.name}`, { asOwnerOf: path.dirname(node.dataDir) });
      await setAutoConf(node.dataDir, { port: node.port });
      await node.start();
    }
    await waitStreaming(primary, nodes.length - 1, o.sync === true);
    return clusters;
  } catch (e) {
    await clusters.remove().catch(() => {});
    throw e;
  }
}
