// A private OpenSSH server for the SFTP backend's tests: `sshd -D -e -f CONFIG`
// on 127.0.0.1 and a free port, with its own host key, a generated client key
// in its AuthorizedKeysFile, `UsePAM no`, and one sftp-only user chrooted
// (`ForceCommand internal-sftp`) in a root-owned directory under /var/lib
// (sshd refuses chroots under world-writable /tmp). Started once per test
// file, stopped by PID; everything it made is removed on stop. Needs root and
// /usr/sbin/sshd: `sshdSkipReason()` says why not when they are missing.

import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, promises as fs, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';

const SSHD = '/usr/sbin/sshd';
/** The system user the tests log in as (created once, sftp-only, no password, no shell). */
export const SFTP_USER = 'safehold-sftp-test';

export interface Sshd {
  host: string;
  port: number;
  user: string;
  /** Private key accepted for the user. */
  clientKey: string;
  /** known_hosts file holding the server's host key for [127.0.0.1]:port. */
  knownHosts: string;
  /** The server's host public key line (`ssh-ed25519 AAAA...`). */
  hostPublicKey: string;
  /** The chroot as seen from this machine: server path `/x` is `${chroot}/x`. */
  chroot: string;
  /** A directory inside the chroot the user may write (server path `/data`). */
  dataDir: string;
  /** Scratch directory for the tests' own files (keys, known_hosts variants). */
  scratch: string;
  /** Milliseconds from spawning sshd to its first accepted TCP connection. */
  startMs: number;
  /** Kills the per-connection sshd processes (drops every client connection); returns how many. */
  killSessions(): number;
  stop(): Promise<void>;
}

/** Why the SFTP server cannot run here, or undefined when it can. */
export function sshdSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to run a chrooted sshd';
  if (!existsSync(SSHD)) return 'openssh-server is not installed (scripts/test-deps.sh installs it as root)';
  if (!existsSync('/usr/bin/ssh-keygen')) return 'ssh-keygen is not installed';
  return undefined;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

function keygen(file: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'pipe' });
}

/** The sftp-only user: created when missing; '*' (not '!') so sshd without PAM does not treat it as locked. */
function ensureUser(): void {
  try {
    execFileSync('id', ['-u', SFTP_USER], { stdio: 'pipe' });
  } catch {
    execFileSync(
      'useradd',
      ['--system', '--no-create-home', '--home-dir', '/data', '--shell', '/usr/sbin/nologin', SFTP_USER],
      {
        stdio: 'pipe',
      },
    );
  }
  execFileSync('usermod', ['-p', '*', SFTP_USER], { stdio: 'pipe' });
}

/** Removes the directories of earlier runs whose sshd is gone (a test process killed before its cleanup). */
function removeStale(): void {
  for (const name of readdirSync('/var/lib')) {
    if (!name.startsWith('safehold-test-sftp-')) continue;
    const dir = join('/var/lib', name);
    try {
      const pid = Number(readFileSync(join(dir, 'etc', 'sshd.pid'), 'utf8'));
      process.kill(pid, 0);
    } catch {
      // No pid file yet may mean a server starting right now: only remove directories older than a minute.
      try {
        if (Date.now() - statSync(dir).mtimeMs > 60_000) rmSync(dir, { recursive: true, force: true });
      } catch {}
    }
  }
}

export async function startSshd(): Promise<Sshd> {
  ensureUser();
  removeStale();
  const root = `/var/lib/safehold-test-sftp-${randomBytes(6).toString('hex')}`;
  const etc = join(root, 'etc');
  const chroot = join(root, 'chroot');
  const scratch = join(root, 'scratch');
  for (const d of [root, etc, chroot, scratch]) await fs.mkdir(d, { mode: 0o755 });
  const dataDir = join(chroot, 'data');
  await fs.mkdir(dataDir, { mode: 0o755 });
  execFileSync('chown', [`${SFTP_USER}:`, dataDir]);
  await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const hostKey = join(etc, 'host_ed25519');
  keygen(hostKey, 'safehold-test-host');
  const clientKey = join(scratch, 'client_ed25519');
  keygen(clientKey, 'safehold-test-client');
  const authorized = join(etc, 'authorized_keys');
  await fs.copyFile(`${clientKey}.pub`, authorized);
  await fs.chmod(authorized, 0o644);

  const port = await freePort();
  const config = join(etc, 'sshd_config');
  await fs.writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(etc, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'UsePAM no',
      'StrictModes yes',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      `AllowUsers ${SFTP_USER}`,
      'Subsystem sftp internal-sftp',
      'MaxStartups 100',
      'MaxSessions 100',
      'LogLevel INFO',
      `Match User ${SFTP_USER}`,
      '  ForceCommand internal-sftp',
      `  ChrootDirectory ${chroot}`,
      '  AllowTcpForwarding no',
      '  X11Forwarding no',
      '',
    ].join('\n'),
  );
  const hostPublicKey = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const knownHosts = join(scratch, 'known_hosts');
  await fs.writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPublicKey}\n`);

  const started = Date.now();
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-20_000);
  });
  // If the test process exits without stopping the server, stop it anyway.
  const onExit = (): void => {
    killChildren(child.pid!);
    child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const cleanup = async (): Promise<void> => {
    process.off('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      killChildren(child.pid!);
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await fs.rm(root, { recursive: true, force: true });
  };
  try {
    await waitListening(port, child, () => log);
  } catch (e) {
    await cleanup();
    throw e;
  }
  const startMs = Date.now() - started;
  return {
    host: '127.0.0.1',
    port,
    user: SFTP_USER,
    clientKey,
    knownHosts,
    hostPublicKey,
    chroot,
    dataDir,
    scratch,
    startMs,
    killSessions: () => killChildren(child.pid!),
    stop: cleanup,
  };
}

/** Waits until sshd accepts a TCP connection (it listens once it has read its config and keys). */
async function waitListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SIGKILLs every descendant of `pid` (sshd forks two per connection); returns how many. */
function killChildren(pid: number): number {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const doomed = new Set<number>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of parents) {
      if (!doomed.has(p) && (pp === pid || doomed.has(pp))) {
        doomed.add(p);
        grew = true;
      }
    }
  }
  for (const p of doomed) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
  return doomed.size;
}
